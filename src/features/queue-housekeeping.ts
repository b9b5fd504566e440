/**
 * The queue's own upkeep: settling what a previous run left open, checking the clock against
 * what numbering has already used, and deleting audit records past retention (every 6 hours).
 */
import type { TicketSpooler } from '../printing/spooler.js';
import type { Logger } from '../log/logger.js';
import type { KioskPublisher } from '../mqtt/publisher.js';
import type { QueueStore } from '../queue/store.js';
import { every, type Clock } from '../util/clock.js';
import type { Feature } from '../daemon/feature.js';
import { guarded } from './guard.js';

export interface QueueHousekeepingDeps {
  readonly store: Pick<QueueStore, 'settleAfterCrash' | 'clockCheck' | 'purge'>;
  /** The ticket ledger's one writer: a fate left unknown by a crash is recorded through it. */
  readonly spooler: Pick<TicketSpooler, 'recordUnknown'>;
  readonly publish: Pick<KioskPublisher, 'event'>;
  readonly retentionDays: number;
  readonly clock: Clock;
  readonly wallClock: () => Date;
  readonly log: Logger;
}

const PURGE_EVERY_MS = 6 * 3600_000;
/** How far past the newest check-in the clock may be before the purge distrusts it. */
const PURGE_PLAUSIBLE_HOURS = 72;

export function queueHousekeeping(d: QueueHousekeepingDeps): Feature {
  let stopPurge = () => {};
  /** The newest record the last refused purge measured from: alerted once per episode. */
  let purgeRefusedAt: string | null = null;
  const purge = (): void =>
    void guarded(d.log, 'old check-in records could not be deleted', () => {
      const p = d.store.purge(d.wallClock(), d.retentionDays, PURGE_PLAUSIBLE_HOURS);
      if (p.checkins || p.lookups) d.log.info({ checkins: p.checkins, lookups: p.lookups }, 'old check-in records deleted (retention)');
      const refused = p.refused;
      if (refused) {
        const newest = refused.newest.toISOString();
        d.log.warn(
          { ahead_h: refused.aheadHours, newest_checkin: refused.newest },
          'the clock is implausibly far past the newest check-in: old records are not deleted',
        );
        if (purgeRefusedAt !== newest) {
          const message = `the clock is ${refused.aheadHours} h past the newest check-in (${newest}): the audit purge is held back; check the time source (a kiosk off that long needs nothing: the purge resumes after the next check-in)`;
          d.publish.event('alert', { level: 'error', code: 'clock.implausible', message });
        }
      }
      purgeRefusedAt = refused ? refused.newest.toISOString() : null;
    });
  return {
    name: 'queue-housekeeping',
    start() {
      settleAfterCrash(d);
      checkClock(d);
      purge();
      stopPurge = every(d.clock, PURGE_EVERY_MS, purge);
    },
    stop: () => stopPurge(),
  };
}

/**
 * A number still allocated by a run that crashed is unknown, not void: the process may have
 * died after the printer took the ticket, so it is never given again and staff are told it may
 * be in a patient's hand. Never ticket.voided: that says the number is not on paper.
 * Check-ins never completed are recorded interrupted.
 */
function settleAfterCrash(d: QueueHousekeepingDeps): void {
  const settled = d.store.settleAfterCrash('the kiosk stopped before the check-in ended');
  if (settled.unknown.length > 0) {
    const numbers = settled.unknown.map((v) => v.number);
    d.log.warn(
      { numbers, tickets: settled.unknown.map((v) => v.checkinId) },
      'queue numbers of the previous run may or may not have printed: recorded unknown',
    );
    for (const v of settled.unknown) {
      d.spooler.recordUnknown({ ticketId: v.checkinId, number: v.number, department: v.department }, 'the kiosk restarted while it was printing');
    }
    const which = `${numbers.slice(0, 20).join(', ')}${numbers.length > 20 ? ' …' : ''}`;
    d.publish.event('alert', {
      level: 'warning',
      code: 'ticket.fate-unknown',
      message: `the kiosk restarted while ${numbers.length === 1 ? 'a ticket was' : 'tickets were'} printing; it is not known whether ${which} came out: recorded unknown, never given again`,
      count: numbers.length,
    });
  }
  if (settled.interrupted > 0) d.log.warn({ checkins: settled.interrupted }, 'check-ins of the previous run never completed: recorded interrupted');
}

/** The clock against what numbering has already used: behind it, numbering carries on in the later day (never a number twice). */
function checkClock(d: QueueHousekeepingDeps): void {
  const c = d.store.clockCheck(d.wallClock());
  if (!c.steppedBack) return;
  d.log.warn(
    { clock_day: c.clockDay, numbering_day: c.highDay, newest_checkin: c.newest },
    'the clock is behind what numbering has already used: numbers carry on in the later day',
  );
  const message = `the clock (${c.clockDay}) is behind the queue numbering's day (${c.highDay ?? 'today'}) or the newest check-in: numbers carry on without a reset until the clock catches up; check the time source`;
  d.publish.event('alert', { level: 'error', code: 'clock.stepped-back', message });
}
