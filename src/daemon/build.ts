/**
 * The wiring: builds the kiosk's object graph from the config, in dependency order (no forward
 * references), and returns the ordered feature list the daemon starts (and stops in reverse).
 * No behaviour lives here; each feature in src/features/ owns its own.
 */
import { createBhytClient } from '../bhyt/client.js';
import { bhytClientOptions } from '../bhyt/options.js';
import { createSessions } from '../checkin/sessions.js';
import { createCheckinSteps } from '../checkin/device-steps.js';
import type { LoadedConfig } from '../config/load.js';
import type { CheckinConfig, ChipConfig } from '../config/schema.js';
import { chipBudgetMs } from '../config/sections/chip.js';
import { PORT_IDS, type PortStates } from '../hal/ports.js';
import { createPortraitClient } from '../identity/portrait-client.js';
import { HealthMonitor } from '../lifecycle/health.js';
import { createPublisher } from '../mqtt/publisher.js';
import { kioskTopics } from '../mqtt/topics.js';
import { createKioskRuntime } from '../pipeline/runtime.js';
import type { CheckinPolicy } from '../pipeline/step-ports.js';
import { createPrinting } from '../printing/factory.js';
import { publishTicketEvents } from '../reporting/ticket-events.js';
import { openQueueStore } from '../queue/store.js';
import { join } from 'node:path';
import { kioskFeatures, type Platform } from './features.js';
import type { Feature } from './feature.js';
import { chipReadsFor, faceEngineFor, halFor, kioskLinkFor } from './wiring.js';
import { faceModels } from '../features/face-models.js';
import { kioskInfo } from '../features/kiosk-info.js';

export type { Platform } from './features.js';

/** Everything the daemon runs; `features` in start order. */
export async function buildKiosk(loaded: LoadedConfig, p: Platform): Promise<Feature[]> {
  const { config, deviceId, secrets } = loaded;
  const { log, clock, realClock, wallClock } = p;
  const hal = await halFor(config, { log, clock: realClock, wallClock });
  // Queue numbers and the check-in audit (SQLite, WAL). A kiosk that cannot number tickets
  // must not take patients: failing here exits 70 and systemd retries.
  const store = openQueueStore({ path: join(config.kiosk.stateDir, 'kioskd.db'), timeZone: config.ticket.timeZone, ...config.checkin.numbering });
  const sessions = createSessions();
  const topics = kioskTopics(config.mqtt.topicPrefix, deviceId);
  const link = kioskLinkFor(loaded, { topics, clock, wallClock, log });
  const publish = createPublisher(link, topics, config.mqtt.eventExpirySec, wallClock);
  const drivers = { ...hal.drivers, sd_notify: p.notifier.kind };
  const info = kioskInfo({
    version: p.version,
    halMode: hal.mode,
    drivers,
    protocol: () => link.protocol(),
    startedAt: p.startedAt,
    restartsSinceBoot: p.thisStart.restartsSinceBoot,
    publish,
  });
  const engine = faceEngineFor(config, log, realClock);
  const faces = faceModels({ engine, info, publish, log });
  const bhyt = config.bhyt.enabled
    ? createBhytClient(bhytClientOptions(config.bhyt, secrets, { clock: realClock, wallClock, log: log.child({ ns: 'bhyt' }) }))
    : null;
  const printing = await createPrinting(config, {
    printer: hal.ports.printer,
    clock,
    wallClock,
    log: log.child({ ns: 'tickets' }),
    // The spooler is the only writer of a ticket's fate; its events are published as the contract names them.
    ledger: store,
    onEvent: publishTicketEvents(publish),
  });
  const chip = chipReadsFor(config, { reader: hal.ports.chip.reader, sessions, clock: realClock, publish, log: log.child({ ns: 'chip' }) });
  const steps = createCheckinSteps({
    sessions,
    camera: hal.ports.camera,
    chip,
    portraitSources: config.chip.portraitSources,
    faces: () => faces.loaded(),
    portraits: config.identity.url
      ? createPortraitClient({
          url: config.identity.url,
          timeoutMs: config.identity.timeoutMs,
          token: secrets.identityToken,
          log: log.child({ ns: 'identity' }),
        })
      : null,
    bhyt,
    store,
    submit: printing.spooler.submit,
    checkin: config.checkin,
    wallClock,
    alert: (code, message) => publish.event('alert', { level: 'error', code, message }),
    // A full disk takes the kiosk out of service before the next patient, not at the next check.
    writeFailed: () => void hal.ports.storage.check(),
    log: log.child({ ns: 'checkin' }),
  });
  const runtime = createKioskRuntime({
    clock,
    ports: Object.fromEntries(PORT_IDS.map((id) => [id, hal.ports[id].state()])) as PortStates,
    // A kiosk that cannot record a number takes no patient: storage is always required.
    requiredPorts: [...new Set([...config.kiosk.requiredPorts, 'storage' as const])],
    heartbeatMs: config.kiosk.heartbeatMs,
    heartbeatClock: realClock,
    resultHoldMs: config.kiosk.resultHoldMs,
    policy: checkinPolicy(config.checkin, config.chip),
    steps,
  });
  const health = new HealthMonitor({
    clock: realClock,
    maxLoopLagMs: config.watchdog.maxLoopLagMs,
    heartbeatMs: config.kiosk.heartbeatMs,
    lastBeat: () => runtime.lastBeat(),
  });
  return kioskFeatures(loaded, p, {
    hal,
    store,
    sessions,
    topics,
    link,
    publish,
    info,
    engine,
    faces,
    bhyt,
    printing,
    runtime,
    health,
    drivers,
    chip,
  });
}

/** The check-in policy; the portrait step's time limit grows by a whole chip read when the chip is a portrait source. */
export function checkinPolicy(c: CheckinConfig, chip?: ChipConfig): CheckinPolicy {
  const chipMs = chip?.enabled && chip.portraitSources.includes('chip') ? chipBudgetMs(chip) : 0;
  return {
    consentTimeoutMs: c.consentTimeoutSec * 1000,
    verifyAttempts: c.verifyAttempts,
    retryPauseMs: c.retryPauseMs,
    noPortrait: c.noPortrait,
    departments: c.departments.map((d) => d.id),
    defaultDepartment: c.departments[0]!.id,
    departmentChoiceMs: c.departmentChoiceSec * 1000,
    timeouts: { ...c.timeouts, portraitMs: c.timeouts.portraitMs + chipMs },
  };
}
