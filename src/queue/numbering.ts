import type Database from 'better-sqlite3';
import { businessDay } from './business-day.js';
import type { AllocateRequest, Allocation, ClockCheck, QueueStoreOptions } from './types.js';

/**
 * How far past the newest check-in record the clock may be before the purge refuses to run.
 * A kiosk in use sees patients every working day, so the gap between the newest record and now
 * is normally under a day, about 62 h over a weekend, about 86 h over a three-day weekend. A
 * clock fault seen in the field was 8 days (and 91). 4 days passes every ordinary closure and
 * catches both faults; a longer closure (Tết) costs one warning and a purge postponed until the
 * first check-in of the new day, nothing else. Deleting on a wrong clock cannot be undone.
 */
export const MAX_PLAUSIBLE_GAP_HOURS = 96;
/** A clock more than this before the newest record has stepped back (NTP slews small errors; this is not one). */
const STEPPED_BACK_TOLERANCE_MS = 10 * 60_000;

/**
 * Queue numbers: the next in a lane, in the business day numbering uses, which never goes back
 * before the highest day used (kept in the database, so a restart keeps it too).
 */
export function createNumbering(db: Database.Database, o: QueueStoreOptions) {
  const highDayStmt = db.prepare<[], { value: string }>(`SELECT value FROM meta WHERE key = 'high_day'`);
  const raiseHighDay = db.prepare(
    `INSERT INTO meta (key, value) VALUES ('high_day', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE excluded.value > meta.value`,
  );
  // The next number is above the counter and above every number issued in that day: a counter
  // row lost (purged on a clock far ahead, a file restored) can never make a lane start again below.
  const lastIssued = db.prepare<[string, string, string, string], { last: number | null }>(
    `SELECT MAX(n) AS last FROM (SELECT last AS n FROM sequences WHERE day = ? AND lane = ? UNION ALL SELECT MAX(seq) FROM checkins WHERE day = ? AND lane = ?)`,
  );
  const setSeq = db.prepare(`INSERT INTO sequences (day, lane, last) VALUES (?, ?, ?) ON CONFLICT (day, lane) DO UPDATE SET last = excluded.last`);
  // The number and its lane only: the check-in's outcome facts are recorded once, by finish.
  const upsertAllocated = db.prepare(
    `INSERT INTO checkins (id, started_at, card, department, ticket_kind, priority, day, number, lane, seq, ticket_state)
     VALUES (@id, @started_at, @card, @department, @ticket_kind, @priority, @day, @number, @lane, @seq, 'allocated')
     ON CONFLICT (id) DO UPDATE SET department = excluded.department, ticket_kind = excluded.ticket_kind, priority = excluded.priority,
       day = excluded.day, number = excluded.number, lane = excluded.lane, seq = excluded.seq, ticket_state = 'allocated'`,
  );
  const newestStmt = db.prepare<[], { t: string | null }>(`SELECT MAX(started_at) AS t FROM checkins`);
  const printedToday = db.prepare<[string], { n: number }>(`SELECT COUNT(*) AS n FROM checkins WHERE day = ? AND ticket_state = 'printed'`);

  const highDay = (): string | null => highDayStmt.get()?.value ?? null;
  /** The business day numbering uses at `at`: the clock's, unless that is before the highest one used. */
  const numberingDay = (at: Date): { day: string; clockDay: string } => {
    const clockDay = businessDay(at, o.timeZone, o.resetAt);
    const high = highDay();
    return { day: high !== null && high > clockDay ? high : clockDay, clockDay };
  };

  const allocateTx = db.transaction((r: AllocateRequest): Allocation => {
    const { day, clockDay } = numberingDay(r.at);
    raiseHighDay.run(day);
    const lane = r.lane.prefix + (r.lane.priority ? o.priorityMark : '');
    const seq = (lastIssued.get(day, lane, day, lane)!.last ?? 0) + 1;
    setSeq.run(day, lane, seq);
    const number = lane + String(seq).padStart(o.digits, '0');
    upsertAllocated.run({
      id: r.checkinId,
      started_at: r.startedAt.toISOString(),
      card: r.card,
      department: r.department,
      ticket_kind: r.ticket,
      priority: r.priority,
      day,
      number,
      lane,
      seq,
    });
    return { number, seq, day, steppedBack: clockDay < day ? { clockDay } : null };
  });

  const clockCheck = (now: Date): ClockCheck => {
    const clockDay = businessDay(now, o.timeZone, o.resetAt);
    const high = highDay();
    const t = newestStmt.get()!.t;
    const newest = t === null ? null : new Date(t);
    const ahead = newest === null ? 0 : now.getTime() - newest.getTime();
    return {
      clockDay,
      highDay: high,
      newest,
      steppedBack: (high !== null && clockDay < high) || (newest !== null && ahead < -STEPPED_BACK_TOLERANCE_MS),
      implausibleAheadHours: ahead > MAX_PLAUSIBLE_GAP_HOURS * 3_600_000 ? Math.round(ahead / 3_600_000) : null,
    };
  };

  return {
    allocate: (r: AllocateRequest): Allocation => allocateTx.immediate(r),
    clockCheck,
    countToday: (at: Date): number => printedToday.get(numberingDay(at).day)!.n,
  };
}
