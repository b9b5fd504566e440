/**
 * BHYT lookups the gateway could not answer at check-in are asked again on a timer and on a
 * technician's command; one pass at a time, whichever started it.
 */
import type { BhytClient } from '../bhyt/client.js';
import { reconcileOnce } from '../checkin/reconcile.js';
import type { Logger } from '../log/logger.js';
import type { KioskPublisher } from '../mqtt/publisher.js';
import type { QueueStore } from '../queue/store.js';
import { every, type Clock } from '../util/clock.js';
import type { Feature } from '../daemon/feature.js';

export interface BhytReconcileDeps {
  readonly bhyt: BhytClient;
  readonly store: QueueStore;
  readonly publish: Pick<KioskPublisher, 'event'>;
  readonly everyMs: number;
  readonly clock: Clock;
  readonly log: Logger;
}

export interface BhytReconcile extends Feature {
  /** Runs a pass now, or joins the one in progress. */
  now(): Promise<{ done: number; left: number }>;
}

export function bhytReconcile(d: BhytReconcileDeps): BhytReconcile {
  const lifetime = new AbortController();
  let running: Promise<{ done: number; left: number }> | null = null;
  let stopTimer = () => {};
  const deps = {
    store: d.store,
    bhyt: d.bhyt,
    log: d.log,
    reconciled: (r: { sessionId: string; number: string | null; code: string; route: 'proceed' | 'counter'; reason: string }) =>
      d.publish.event('checkin.reconciled', { session_id: r.sessionId, number: r.number, bhyt_code: r.code, route: r.route, reason: r.reason }),
  };
  const now = () => (running ??= reconcileOnce(deps, lifetime.signal).finally(() => (running = null)));
  return {
    name: 'bhyt-reconcile',
    now,
    start() {
      stopTimer = every(d.clock, d.everyMs, () => {
        void now().catch((err: unknown) => d.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'BHYT reconcile pass failed'));
      });
    },
    stop() {
      stopTimer();
      lifetime.abort(new Error('stopping'));
    },
  };
}
