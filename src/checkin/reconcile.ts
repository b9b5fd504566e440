import type { BhytClient } from '../bhyt/client.js';
import type { Logger } from '../log/logger.js';
import type { QueueStore } from '../queue/store.js';

export interface ReconcileDeps {
  readonly store: QueueStore;
  readonly bhyt: BhytClient;
  readonly log: Logger;
  readonly reconciled: (r: { sessionId: string; number: string | null; code: string; route: 'proceed' | 'counter'; reason: string }) => void;
}

/**
 * One pass over the BHYT lookups that could not be made at check-in (gateway down): each is
 * asked again, oldest first; the answer joins the check-in record and the queued personal
 * data is deleted. A pass stops at the first failure: the gateway is still down.
 */
export async function reconcileOnce(d: ReconcileDeps, signal: AbortSignal, batch = 20): Promise<{ done: number; left: number }> {
  const pending = d.store.pendingLookups(batch);
  let done = 0;
  for (const p of pending) {
    if (signal.aborted) break;
    const r = await d.bhyt.lookup({ cardId: p.cardId, fullName: p.fullName, dateOfBirth: p.dateOfBirth }, signal).catch(() => null);
    // Not an answer about the card (gateway error, or the kiosk's own credentials refused): try later.
    if (!r || r.kind === 'unavailable' || r.fault) {
      // A pass cut short by shutdown is not the gateway failing this lookup.
      if (!signal.aborted) d.store.lookupFailed(p.checkinId);
      break;
    }
    d.store.reconciled(p.checkinId, r.code);
    d.log.info({ session: p.checkinId, number: p.number, code: r.code, route: r.route }, 'BHYT lookup reconciled');
    d.reconciled({ sessionId: p.checkinId, number: p.number, code: r.code, route: r.route, reason: r.reason });
    done++;
  }
  return { done, left: pending.length - done };
}
