/** Retained topics: status, info, state, health (kiosk/<id>/<kind>). */
import { z } from 'zod';
import { kioskMode, leds, ports, sessionId, step } from './shared.js';

/** info.schema: bumped by a breaking change to any payload (changes are otherwise additive). */
export const CONTRACT_SCHEMA = 1;

export const availability = z
  .enum(['online', 'stopped', 'offline'])
  .describe('A bare word, not JSON: online (running), stopped (clean stop), offline (the last will: the connection was lost).');

export const faceIdInfo = z
  .object({
    backend: z.string().describe('TensorFlow.js backend, e.g. wasm or tensorflow.'),
    recognizer: z.string().describe('Face recogniser model name.'),
    model_sha256: z.string().describe('SHA-256 of the recogniser model file.'),
    threshold: z.number().describe('Match threshold in use.'),
    target_far: z.number().describe('False-accept rate the threshold was calibrated for.'),
    load_ms: z.number().describe('Model load time.'),
    warmup_ms: z.number().describe('First-inference warm-up time.'),
  })
  .describe('The face engine as loaded at boot.');

const info = z
  .object({
    schema: z.literal(CONTRACT_SCHEMA).describe('Contract version: bumped by a breaking change.'),
    version: z.string().describe('kioskd package version.'),
    hal_mode: z.enum(['real', 'sim']).describe("sim when the devices are hw-sim's virtual ones."),
    drivers: z.record(z.string(), z.string()).describe('Driver behind each port (and sd_notify), e.g. {"card": "serial", "printer": "escpos-tcp"}.'),
    mqtt_protocol: z.union([z.literal(4), z.literal(5)]).describe('MQTT protocol negotiated with the broker: 4 (3.1.1) or 5.'),
    started_at: z.iso.datetime().describe('When the daemon started (ISO 8601, UTC).'),
    faceid: z.exactOptional(faceIdInfo.nullable()).describe('The face engine as loaded at boot; null while loading or when disabled.'),
    restarts_since_boot: z
      .exactOptional(z.number().int().min(0))
      .describe('Times kioskd was started again since the machine booted (systemd restarts after crashes, or by hand); 0 on the first start.'),
  })
  .describe('What runs on the kiosk; republished on every connect and when the face engine has loaded.');

const state = z
  .object({
    mode: kioskMode,
    step,
    session_id: sessionId.nullable(),
    ports,
    leds: z.exactOptional(leds),
    since: z.iso.datetime().describe('When the kiosk entered this mode.'),
  })
  .describe('The kiosk mode, check-in step and device states; published on every change.');

const health = z
  .object({
    uptime_s: z.number().describe('Daemon uptime in seconds.'),
    rss_mb: z.number().describe('Resident memory, MB.'),
    heap_used_mb: z.number().describe('V8 heap in use, MB.'),
    loop_lag_p99_ms: z.number().describe('Event-loop delay, 99th percentile since the last report.'),
    tensors: z.number().nullable().describe('tf.memory().numTensors of the face engine; null while no engine is loaded.'),
    faceid_restarts: z
      .exactOptional(z.number())
      .describe('Times the face worker was restarted (call timeout, tensor leak, crash); absent when face verification is off.'),
    checkins_today: z.exactOptional(z.number()).describe("Queue tickets printed since the day's numbering reset."),
    mqtt: z.object({
      queued: z.number().describe('Events waiting for the broker.'),
      dropped: z.number().describe('Events dropped while the broker was away.'),
    }),
    liveness: z
      .object({ ok: z.boolean(), reason: z.string().nullable().describe('Why not, when not ok.') })
      .describe('What the systemd watchdog pings are gated on.'),
    ts: z.iso
      .datetime()
      .describe(
        'When these figures were taken (ISO 8601, UTC). A health taken while the broker was away is sent on reconnect before the events queued meanwhile: checkins_today already counts the checkin.completed events older than this.',
      ),
  })
  .describe('Process health, every mqtt.healthIntervalSec.');

export const lastWill = z
  .literal('offline')
  .describe('Registered with the broker at connect; the broker publishes it when the kiosk vanishes without a clean disconnect.');

/** The payload of each retained topic. */
export const retainedPayloads = { status: availability, info, state, health };

export const RETAINED_TEXT: Record<keyof typeof retainedPayloads, { title: string; description: string }> = {
  status: {
    title: 'Availability',
    description:
      'online once connected; stopped on a clean stop; offline (the last will) when the kiosk vanished. The first topic sent on every connect.',
  },
  info: {
    title: 'Kiosk information',
    description: 'Version, drivers, negotiated MQTT protocol, start time and the face engine. Republished on every connect.',
  },
  state: { title: 'Kiosk state', description: 'Mode, check-in step, device ports and lamps; published on every change and on every connect.' },
  health: {
    title: 'Health',
    description:
      'Memory, event-loop lag, face-engine tensors, check-ins today, MQTT queue, liveness, and when they were taken; every mqtt.healthIntervalSec and on every connect.',
  },
};
