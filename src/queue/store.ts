import { createAudit } from './audit.js';
import { createLookups } from './lookups.js';
import { createNumbering } from './numbering.js';
import { openDatabase } from './schema.js';
import type {
  AllocateRequest,
  Allocation,
  CheckinRecord,
  ClockCheck,
  CrashSettlement,
  PendingLookup,
  PurgeResult,
  QueueStoreOptions,
} from './types.js';

export { MAX_PLAUSIBLE_GAP_HOURS } from './numbering.js';
export type * from './types.js';

/**
 * Queue numbers and the check-in audit in one SQLite file (WAL, synchronous=FULL), so that a
 * number and the record of the check-in it belongs to are written in one transaction, and a
 * crash or `kill -9` at any moment can neither hand out a number twice nor lose one. A number
 * allocated but not known to have printed when the process died is recorded `unknown` at the
 * next start (it may be in a patient's hand: the process can die between the printer taking the
 * ticket and the record saying so); only a ticket known not to have printed is `void`.
 *
 * Time: the kiosk's clock can step back (NTP, a dead RTC, a technician) or jump far ahead for a
 * while. Numbering never goes back to an earlier business day than the highest one it has used
 * (kept in the database, so a restart keeps it too), a lane's next number is above every number
 * issued in that day whatever the counter says, and the database refuses a repeated number
 * (UNIQUE day+lane+seq and day+number) or a check-in numbered in a day before the highest one.
 * Purging refuses to run on a clock implausibly far past the newest check-in record.
 *
 * Personal data: check-in rows hold the masked card number only. A BHYT lookup that could not
 * be made is queued with what the gateway needs (CCCD number, name, date of birth) until it is
 * reconciled or expires; that is the only personal data on disk, in a 0600 file.
 */
export interface QueueStore {
  /**
   * Next number in the lane, written with the check-in record in one transaction. The day is
   * never before the highest one used: `steppedBack` says when the clock's own day is (the
   * clock went back; numbering carries on in the later day rather than give a number again).
   */
  allocate(r: AllocateRequest): Allocation;
  /** The audit row of a check-in, from its first moment: one killed before it got a number is still recorded. */
  begin(r: { checkinId: string; card: string; startedAt: Date }): void;
  /** The ticket is on paper (also for an `unknown` one a later reprint settled). */
  markPrinted(checkinId: string): void;
  /** The ticket is known not to have printed (it could not be encoded, or was held and not reprinted in time). */
  markVoid(checkinId: string, reason: string): void;
  /**
   * At start, for what a previous run left open (it crashed, was killed, lost power): numbers
   * still allocated become `unknown` (not void: the process may have died after the printer
   * took the ticket), check-ins never completed get outcome `interrupted` with `reason`.
   */
  settleAfterCrash(reason: string): CrashSettlement;
  /** The clock against the highest business day used and the newest record (at start, and before purging). */
  clockCheck(now: Date): ClockCheck;
  /** The audit record of a finished check-in (created if it never got a number); its outcome facts are written here only. */
  finish(r: CheckinRecord): void;
  /** Queues a lookup the gateway could not answer, to be retried by the reconciler. */
  queueLookup(checkinId: string, q: { cardId: string; fullName: string; dateOfBirth: string }, at: Date): void;
  pendingLookups(limit: number): PendingLookup[];
  lookupFailed(checkinId: string): void;
  /** The gateway answered: the result joins the check-in record and the personal data is deleted. */
  reconciled(checkinId: string, code: string): void;
  /**
   * Deletes check-in records older than the retention, and queued lookups older than
   * `pendingHours`. On a clock more than MAX_PLAUSIBLE_GAP_HOURS past the newest check-in
   * record the records and counters are left alone (`refused` says how far ahead the clock
   * is): deleting on a wrong clock cannot be undone, postponing costs nothing. Queued lookups
   * (the only personal data) are deleted all the same: early is the safe side for them, and
   * it costs at most a lookup made at the counter instead.
   */
  purge(now: Date, retentionDays: number, pendingHours: number): PurgeResult;
  /** Read-only view for tests, selftest and technicians. */
  checkin(checkinId: string): Record<string, unknown> | undefined;
  /** Tickets printed in the business day of `at`. */
  countToday(at: Date): number;
  close(): void;
}

export function openQueueStore(o: QueueStoreOptions): QueueStore {
  const db = openDatabase(o.path);
  const numbering = createNumbering(db, o);
  const purge = (now: Date, retentionDays: number, pendingHours: number): PurgeResult => {
    const lookups = db
      .prepare(`DELETE FROM bhyt_pending WHERE queued_at < ?`)
      .run(new Date(now.getTime() - pendingHours * 3_600_000).toISOString()).changes;
    const c = numbering.clockCheck(now);
    if (c.implausibleAheadHours !== null) return { checkins: 0, lookups, refused: { aheadHours: c.implausibleAheadHours, newest: c.newest! } };
    const checkins = db
      .prepare(`DELETE FROM checkins WHERE started_at < ?`)
      .run(new Date(now.getTime() - retentionDays * 86_400_000).toISOString()).changes;
    db.prepare(`DELETE FROM sequences WHERE day < ?`).run(new Date(now.getTime() - 7 * 86_400_000).toISOString().slice(0, 10));
    return { checkins, lookups, refused: null };
  };
  return {
    ...numbering,
    ...createAudit(db),
    ...createLookups(db),
    purge,
    close: () => db.close(),
  };
}
