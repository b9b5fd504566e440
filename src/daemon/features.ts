/**
 * The wiring list: the daemon's features in start order (stopped in reverse). Adding a
 * feature is one entry here and its own file in src/features/.
 */
import type { ChipReads } from '../checkin/chip-reads.js';
import type { BhytClient } from '../bhyt/client.js';
import type { Sessions } from '../checkin/sessions.js';
import type { LoadedConfig } from '../config/load.js';
import type { FaceEngine } from '../faceid/engine.js';
import type { Hal } from '../hal/factory.js';
import type { HealthMonitor } from '../lifecycle/health.js';
import { noteCleanStop } from '../lifecycle/restarts.js';
import type { Logger } from '../log/logger.js';
import type { MqttLink } from '../mqtt/link.js';
import type { KioskPublisher } from '../mqtt/publisher.js';
import type { KioskTopicNames } from '../mqtt/topics.js';
import type { KioskRuntime } from '../pipeline/runtime.js';
import type { Printing } from '../printing/factory.js';
import type { QueueStore } from '../queue/store.js';
import type { Notifier } from '../platform/systemd-notify.js';
import type { Clock } from '../util/clock.js';
import { bhytReconcile } from '../features/bhyt-reconcile.js';
import { boot } from '../features/boot.js';
import { cardIntake } from '../features/card-intake.js';
import { checkinRecorder } from '../features/checkin-recorder.js';
import { commands } from '../features/commands.js';
import type { FaceModels } from '../features/face-models.js';
import { healthReport } from '../features/health-report.js';
import type { KioskInfo } from '../features/kiosk-info.js';
import { kioskState } from '../features/kiosk-state.js';
import { lifecycleEvents } from '../features/lifecycle-events.js';
import { portAlerts } from '../features/port-alerts.js';
import { queueHousekeeping } from '../features/queue-housekeeping.js';
import { ticketPrinting } from '../features/ticket-printing.js';
import { localDate } from '../queue/business-day.js';
import { onStop, type Feature } from './feature.js';

/** What the process gives the kiosk: clocks, logger, systemd, and how this start follows the last. */
export interface Platform {
  readonly log: Logger;
  /** Business time (hw-sim may move it); step limits, the queue day, retries, purge, health. */
  readonly clock: Clock;
  /** Real time: devices, the gateway, liveness and the stop deadline never jump. */
  readonly realClock: Clock;
  readonly wallClock: () => Date;
  readonly notifier: Notifier;
  readonly watchdogPingMs: number;
  readonly version: string;
  readonly startedAt: string;
  readonly thisStart: { readonly afterFailure: boolean; readonly quickRestarts: number; readonly restartsSinceBoot: number };
  readonly stopReason: () => string;
  readonly onCrash: (listener: (message: string) => void) => () => void;
  readonly uptimeSec: () => number;
}

/** The objects build.ts made, handed to the features. */
export interface KioskParts {
  readonly hal: Hal;
  readonly store: QueueStore;
  readonly sessions: Sessions;
  readonly topics: KioskTopicNames;
  readonly link: MqttLink;
  readonly publish: KioskPublisher;
  readonly info: KioskInfo;
  readonly engine: FaceEngine | null;
  readonly faces: FaceModels;
  readonly bhyt: BhytClient | null;
  readonly printing: Printing;
  readonly runtime: KioskRuntime;
  readonly health: HealthMonitor;
  readonly drivers: Readonly<Record<string, string>>;
  /** The check-ins' chip reads (chip.enabled), else null. */
  readonly chip: ChipReads | null;
}

export function kioskFeatures({ config }: LoadedConfig, p: Platform, k: KioskParts): Feature[] {
  const { log, clock, realClock, wallClock, notifier } = p;
  const { hal, store, runtime, publish, printing } = k;
  const ns = (name: string) => log.child({ ns: name });
  const state = kioskState({
    runtime,
    indicators: hal.ports.indicators,
    link: k.link,
    notifier,
    publish,
    info: k.info,
    startedAt: p.startedAt,
    wallClock,
    log,
  });
  const tickets = ticketPrinting({
    printer: hal.ports.printer,
    spooler: printing.spooler,
    encoder: printing.encoder,
    graceMs: config.kiosk.shutdownGraceMs,
  });
  const reconcile = k.bhyt
    ? bhytReconcile({ bhyt: k.bhyt, store, publish, everyMs: config.bhyt.reconcileEverySec * 1000, clock, log: ns('bhyt') })
    : null;
  const today = () => localDate(wallClock(), config.ticket.timeZone);
  return [
    onStop('restarts', () => noteCleanStop(config.kiosk.stateDir)),
    onStop('queue-store', () => (store.close(), k.health.close())),
    onStop('runtime', () => runtime.stop()),
    onStop('ticket-journal', () => printing.journal.flush()),
    k.faces,
    onStop('devices', () => hal.close()),
    {
      name: 'mqtt',
      start: () => (publish.retained('status', 'online'), k.info.publish()),
      stop: () => k.link.stop({ topic: k.topics.retained('status'), payload: 'stopped' }, 3000),
    },
    crashAlert(p, publish),
    checkinRecorder({ runtime, sessions: k.sessions, store, publish, wallClock, log: ns('checkin') }),
    state,
    portAlerts({ ports: hal.ports, runtime, publish }),
    tickets,
    queueHousekeeping({ store, spooler: printing.spooler, publish, retentionDays: config.checkin.retentionDays, clock, wallClock, log }),
    cardIntake({
      card: hal.ports.card,
      indicators: hal.ports.indicators,
      runtime,
      sessions: k.sessions,
      publish,
      clock,
      wallClock,
      today,
      log: ns('card'),
      buttonLog: log,
      warmCamera:
        config.faceid.enabled && config.hal.camera.driver === 'rpicam' && config.hal.camera.warmUp === 'card-read'
          ? (ended) => hal.ports.camera.prepare(ended)
          : null,
      // The read starts at the scan, so the card is read while the patient answers the consent question.
      startChipRead: k.chip ? (id) => k.chip!.start(id) : null,
      cancelChipRead: k.chip ? (id) => k.chip!.cancel(id) : null,
    }),
    commands({
      runtime,
      spooler: printing.spooler,
      lifetime: tickets.lifetime,
      clock: realClock,
      wallClock,
      uptimeSec: p.uptimeSec,
      reconcile: reconcile ? () => reconcile.now() : null,
      testPrintEverySec: config.mqtt.commands.testPrintEverySec,
      link: k.link,
      topics: k.topics,
      limits: config.mqtt.commands,
      publish,
      realClock,
      log: ns('cmd'),
    }),
    boot({ runtime, state, link: k.link, hal, faces: k.faces, notifier, drivers: k.drivers, log }),
    healthReport({
      health: k.health,
      tensors: () => k.faces.loaded()?.lastTensors ?? null,
      faceRestarts: k.engine ? () => k.engine!.restarts : null,
      store,
      link: k.link,
      publish,
      notifier,
      everyMs: config.mqtt.healthIntervalSec * 1000,
      watchdogPingMs: p.watchdogPingMs,
      clock,
      wallClock,
      log,
    }),
    ...(reconcile ? [reconcile] : []),
    lifecycleEvents({ runtime, publish, notifier, thisStart: p.thisStart, stopReason: p.stopReason, log }),
  ];
}

/** An uncaught error is told to central monitoring before the process exits. */
function crashAlert(p: Platform, publish: KioskPublisher): Feature {
  let off = () => {};
  return {
    name: 'crash-alert',
    start() {
      off = p.onCrash((message) => publish.event('alert', { level: 'critical', code: 'daemon.crashed', message }));
    },
    stop: () => off(),
  };
}
