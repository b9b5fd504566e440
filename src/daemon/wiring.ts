/**
 * Config → objects, for what both the daemon and `kioskd selftest` build: the devices, the face
 * engine and the kiosk's MQTT link (and the chip reads). One mapping, so the selftest tests what the daemon runs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createChipReads, type ChipReads, type ChipReadsDeps } from '../checkin/chip-reads.js';
import { loadTrustAnchors } from '../chip/trust-anchors.js';
import type { Secrets } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { FaceEngine } from '../faceid/engine.js';
import { faceEngineOptions } from '../faceid/options.js';
import { frameLimit } from '../hal/camera/rpicam.js';
import { createHal, type Hal } from '../hal/factory.js';
import type { Logger } from '../log/logger.js';
import { MqttLink } from '../mqtt/link.js';
import { dropReportEvent, type KioskPublisher } from '../mqtt/publisher.js';
import type { KioskTopicNames } from '../mqtt/topics.js';
import { localDate } from '../queue/business-day.js';
import type { Clock } from '../util/clock.js';

export function halFor(config: Config, d: { log: Logger; clock: Clock; wallClock: () => Date }): Promise<Hal> {
  return createHal(config.hal, {
    log: d.log.child({ ns: 'hal' }),
    clock: d.clock,
    random: Math.random,
    // The hospital's calendar date (the board's clock may run in UTC): card dates and ages use it.
    today: () => localDate(d.wallClock(), config.ticket.timeZone),
    storage: { dir: config.kiosk.stateDir, ...config.kiosk.storage },
    chip: config.chip.enabled ? config.chip : null,
  });
}

/**
 * The check-in's chip reads (null when chip.enabled is false), with the trust anchors loaded now:
 * a problem with the directory is logged and alerted, and the kiosk reads chips without those anchors.
 */
export function chipReadsFor(
  config: Config,
  d: Omit<ChipReadsDeps, 'config' | 'anchors'> & { readonly publish: Pick<KioskPublisher, 'event'> },
): ChipReads | null {
  if (!config.chip.enabled) return null;
  const { anchors, subjects, errors } = loadTrustAnchors(config.chip.trustAnchorsDir);
  if (config.chip.trustAnchorsDir !== '')
    d.log.info({ dir: config.chip.trustAnchorsDir, anchors: subjects.join('; ') }, `${anchors.length} chip trust anchor(s) loaded`);
  else d.log.info('no chip trust anchors configured: a chip is at best "hashes-ok"');
  for (const e of errors) d.log.warn({ dir: config.chip.trustAnchorsDir }, `chip trust anchors: ${e}`);
  if (errors.length > 0)
    d.publish.event('alert', {
      level: 'warning',
      code: 'chip.trust-anchors',
      message: `${errors.length} problem(s) with chip.trustAnchorsDir, ${anchors.length} anchor(s) in use: ${errors.slice(0, 3).join('; ')}`,
    });
  return createChipReads({ ...d, config: config.chip, anchors });
}

/** A camera frame larger than the camera is configured for is refused before it is decoded. */
export function faceEngineFor(config: Config, log: Logger, clock: Clock): FaceEngine | null {
  if (!config.faceid.enabled) return null;
  const cam = config.hal.camera;
  return new FaceEngine(
    faceEngineOptions(config.faceid, cam.driver === 'rpicam' ? { maxFrame: frameLimit(cam) } : {}),
    log.child({ ns: 'faceid' }),
    clock,
  );
}

/**
 * machine-id makes two kiosks that were given the same id still differ (MQTT brokers kick
 * duplicate client ids, and the two would then knock each other off forever).
 */
export function clientIdFor(deviceId: string): string {
  try {
    const machineId = readFileSync('/etc/machine-id', 'utf8').trim();
    if (machineId) return `kioskd-${deviceId}-${createHash('sha256').update(machineId).digest('hex').slice(0, 8)}`;
  } catch {
    /* containers may have none */
  }
  return `kioskd-${deviceId}`;
}

export function kioskLinkFor(
  loaded: { config: Config; deviceId: string; secrets: Secrets },
  d: { topics: KioskTopicNames; clock: Clock; wallClock: () => Date; log: Logger },
): MqttLink {
  const { config, deviceId, secrets } = loaded;
  const m = config.mqtt;
  const tls = m.tls ? { rejectUnauthorized: m.tls.rejectUnauthorized, ...secrets.tls } : undefined;
  return new MqttLink({
    url: m.url,
    clientId: m.clientId ?? clientIdFor(deviceId),
    ...(m.username !== undefined ? { username: m.username } : {}),
    ...(secrets.mqttPassword !== undefined ? { password: secrets.mqttPassword } : {}),
    ...(tls ? { tls } : {}),
    protocol: m.protocol,
    keepaliveSec: m.keepaliveSec,
    reconnectPeriodMs: m.reconnectBaseMs + Math.floor(Math.random() * m.reconnectBaseMs),
    will: { topic: d.topics.retained('status'), payload: 'offline' },
    ringSize: m.eventRingSize,
    subscriptions: [d.topics.commandFilter],
    // Room for the topic and headers; a payload between the two limits still gets a clear refusal.
    maxIncomingBytes: m.commands.maxPayloadBytes * 4,
    dropReport: dropReportEvent(d.topics, m.eventExpirySec, d.wallClock),
    clock: d.clock,
    log: d.log.child({ ns: 'mqtt' }),
  });
}
