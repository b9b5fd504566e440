/**
 * The retained `health` report on a timer, and systemd's watchdog: pings are withheld while
 * the process is not live (event loop stalled, state machine not beating), so systemd
 * restarts a wedged kiosk but never a merely faulted one.
 */
import type { HealthMonitor } from '../lifecycle/health.js';
import type { Logger } from '../log/logger.js';
import type { KioskPublisher } from '../mqtt/publisher.js';
import type { MqttLink } from '../mqtt/link.js';
import type { QueueStore } from '../queue/store.js';
import { every, type Clock } from '../util/clock.js';
import type { Feature } from '../daemon/feature.js';
import { guarded } from './guard.js';

export interface HealthReportDeps {
  readonly health: Pick<HealthMonitor, 'report' | 'liveness'>;
  /** Tensors held by the face engine once it has loaded; null before (or when disabled). */
  readonly tensors: () => number | null;
  /** Face worker restarts; null when face verification is disabled. */
  readonly faceRestarts: (() => number) | null;
  readonly store: Pick<QueueStore, 'countToday'>;
  readonly link: Pick<MqttLink, 'stats'>;
  readonly publish: Pick<KioskPublisher, 'retained'>;
  readonly notifier: { watchdog(): void };
  readonly everyMs: number;
  /** 0 when systemd asked for no watchdog. */
  readonly watchdogPingMs: number;
  readonly clock: Clock;
  readonly wallClock: () => Date;
  readonly log: Logger;
}

export function healthReport(d: HealthReportDeps): Feature {
  const stops: Array<() => void> = [];
  let livenessFailure: string | null = null;
  const publishHealth = (): void => {
    // One instant for the count and its time: a monitor adds only check-ins after `ts` to the count.
    const at = d.wallClock();
    d.publish.retained('health', {
      ...d.health.report(),
      tensors: d.tensors(),
      ...(d.faceRestarts ? { faceid_restarts: d.faceRestarts() } : {}),
      checkins_today: guarded(d.log, 'the check-in count could not be read', () => d.store.countToday(at)) ?? 0,
      mqtt: d.link.stats(),
      ts: at.toISOString(),
    });
  };
  const watchdog = (): void => {
    const l = d.health.liveness();
    if (l.ok) {
      if (livenessFailure) d.log.info('liveness restored; watchdog pings resumed');
      livenessFailure = null;
      d.notifier.watchdog();
    } else if (l.reason !== livenessFailure) {
      livenessFailure = l.reason;
      d.log.error({ reason: l.reason }, 'liveness check failed; withholding watchdog pings');
    }
  };
  return {
    name: 'health-report',
    start() {
      publishHealth();
      stops.push(every(d.clock, d.everyMs, publishHealth));
      if (d.watchdogPingMs > 0) stops.push(every(d.clock, d.watchdogPingMs, watchdog));
    },
    stop() {
      for (const s of stops.splice(0)) s();
    },
  };
}
