/**
 * The daemon tells central monitoring when it has started and when it stops; a start after a
 * run that did not stop cleanly raises `daemon.restarted` (an error from the third in a row).
 * Stopping first closes the kiosk to new patients.
 */
import type { Logger } from '../log/logger.js';
import type { KioskPublisher } from '../mqtt/publisher.js';
import type { KioskRuntime } from '../pipeline/runtime.js';
import type { Feature } from '../daemon/feature.js';

export interface LifecycleEventsDeps {
  readonly runtime: Pick<KioskRuntime, 'shutdown'>;
  readonly publish: Pick<KioskPublisher, 'event'>;
  readonly notifier: { stopping(status: string): void };
  /** How this start follows the last (lifecycle/restarts.ts). */
  readonly thisStart: { readonly afterFailure: boolean; readonly quickRestarts: number; readonly restartsSinceBoot: number };
  /** Why the daemon is stopping (the signal), once known. */
  readonly stopReason: () => string;
  readonly log: Logger;
}

export function lifecycleEvents(d: LifecycleEventsDeps): Feature {
  return {
    name: 'lifecycle-events',
    start() {
      d.publish.event('lifecycle', { phase: 'started' });
      // Any start after a run that did not stop cleanly, however long that run lasted, is told.
      const s = d.thisStart;
      if (!s.afterFailure) return;
      const loop = s.quickRestarts > 0 ? `${s.quickRestarts} in a row; ` : '';
      const message = `kioskd restarted after a failure (${loop}${s.restartsSinceBoot} restarts since boot)`;
      d.publish.event('alert', { level: s.quickRestarts >= 3 ? 'error' : 'warning', code: 'daemon.restarted', message, count: s.restartsSinceBoot });
    },
    stop() {
      const reason = d.stopReason();
      d.log.info({ signal: reason }, 'stopping: no new patients; a second signal forces exit');
      d.notifier.stopping(`stopping (${reason})`);
      d.publish.event('lifecycle', { phase: 'stopping', reason });
      d.runtime.shutdown();
    },
  };
}
