import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Outcome, TicketKind } from '../pipeline/steps.js';
import { businessDay } from './business-day.js';

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
export interface Lane {
  readonly prefix: string;
  readonly priority: boolean;
}

export interface AllocateRequest {
  readonly checkinId: string;
  readonly lane: Lane;
  readonly department: string;
  readonly ticket: TicketKind;
  /** Masked ("********0001"). */
  readonly card: string;
  readonly startedAt: Date;
  readonly at: Date;
  readonly priority: string | null;
  readonly faceVerified: boolean;
  readonly bhytCode: string | null;
  readonly bhytState: BhytState;
}

export type BhytState = 'checked' | 'unchecked' | 'reconciled' | 'skipped' | 'not-asked';

/** How a check-in ended. `interrupted`: the kiosk stopped (crash, kill -9, power) before it did. */
export type RecordedOutcome = Outcome | 'interrupted';

/**
 * What became of a queue number: `allocated` (on its way to the printer), `printed`, `void`
 * (known not to have printed: could not be encoded, held and not reprinted in time) or `unknown`
 * (the kiosk died while it was allocated: it may or may not be on paper).
 */
export type TicketState = 'allocated' | 'printed' | 'void' | 'unknown';

export interface CheckinRecord {
  readonly checkinId: string;
  readonly card: string;
  readonly startedAt: Date;
  readonly endedAt: Date;
  readonly outcome: Outcome;
  readonly reason: string | null;
  readonly department: string;
  readonly ticket: TicketKind;
  readonly faceVerified: boolean;
  readonly faceScore: number | null;
  readonly bhytCode: string | null;
  readonly bhytState: BhytState;
  readonly stepsMs: Readonly<Record<string, number>>;
  readonly totalMs: number;
}

/** What the start-up sweep found of a run that ended without finishing its work. */
export interface CrashSettlement {
  /** Numbers allocated and not known to have printed: now `unknown`. */
  readonly unknown: Array<{ checkinId: string; number: string; department: string }>;
  /** Check-ins begun and never completed: now outcome `interrupted`. */
  readonly interrupted: number;
}

/** The clock against what the database has seen. */
export interface ClockCheck {
  /** The business day of `now` on the clock. */
  readonly clockDay: string;
  /** The highest business day numbering has used (null on a new database). */
  readonly highDay: string | null;
  /** The newest check-in record's start (null when there is none). */
  readonly newest: Date | null;
  /** The clock is behind what numbering has already used: a business day before `highDay`, or well before the newest record. */
  readonly steppedBack: boolean;
  /** Hours the clock is past the newest record, when that is more than `MAX_PLAUSIBLE_GAP_HOURS` (null otherwise). */
  readonly implausibleAheadHours: number | null;
}

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

export interface PendingLookup {
  readonly checkinId: string;
  readonly cardId: string;
  readonly fullName: string;
  readonly dateOfBirth: string;
  readonly number: string | null;
  readonly attempts: number;
}

export interface QueueStoreOptions {
  readonly path: string;
  readonly timeZone: string;
  /** "HH:MM" local time at which every sequence starts again at 1. */
  readonly resetAt: string;
  readonly digits: number;
  /** Appended to the department prefix for the priority lane ("A" → "AU"). */
  readonly priorityMark: string;
}

export type QueueStore = ReturnType<typeof openQueueStore>;

/** `PRAGMA user_version` of the schema below; older files are migrated when opened. */
const SCHEMA_VERSION = 2;

const CHECKINS_TABLE = `
CREATE TABLE checkins (
  id TEXT PRIMARY KEY,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  card TEXT NOT NULL,
  outcome TEXT,
  reason TEXT,
  department TEXT,
  ticket_kind TEXT,
  priority TEXT,
  face_verified INTEGER,
  face_score REAL,
  bhyt_code TEXT,
  bhyt_state TEXT,
  day TEXT,
  number TEXT,
  lane TEXT,
  seq INTEGER,
  ticket_state TEXT CHECK (ticket_state IN ('allocated', 'printed', 'void', 'unknown')),
  void_reason TEXT,
  steps_ms TEXT,
  total_ms INTEGER,
  CHECK ((number IS NULL) = (seq IS NULL) AND (number IS NULL) = (lane IS NULL) AND (number IS NULL) = (day IS NULL))
)`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sequences (day TEXT NOT NULL, lane TEXT NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (day, lane));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS checkins_one_number_a_day ON checkins (day, number) WHERE number IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS checkins_one_seq_a_day ON checkins (day, lane, seq) WHERE seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS checkins_started ON checkins (started_at);
-- A number is never given in a business day before the highest one numbering has used: with the
-- unique indexes, a clock stepped back cannot make the kiosk hand out A001 again.
CREATE TRIGGER IF NOT EXISTS checkins_day_never_back_insert BEFORE INSERT ON checkins
  WHEN NEW.day IS NOT NULL AND NEW.day < (SELECT value FROM meta WHERE key = 'high_day')
  BEGIN SELECT RAISE(ABORT, 'queue number in a business day before the highest one used'); END;
CREATE TRIGGER IF NOT EXISTS checkins_day_never_back_update BEFORE UPDATE OF day ON checkins
  WHEN NEW.day IS NOT NULL AND NEW.day IS NOT OLD.day AND NEW.day < (SELECT value FROM meta WHERE key = 'high_day')
  BEGIN SELECT RAISE(ABORT, 'queue number in a business day before the highest one used'); END;
CREATE TRIGGER IF NOT EXISTS meta_high_day_never_back BEFORE UPDATE ON meta
  WHEN NEW.key = 'high_day' AND NEW.value < OLD.value
  BEGIN SELECT RAISE(ABORT, 'the highest business day never goes back'); END;
CREATE TABLE IF NOT EXISTS bhyt_pending (
  checkin_id TEXT PRIMARY KEY,
  card_id TEXT NOT NULL,
  full_name TEXT NOT NULL,
  date_of_birth TEXT NOT NULL,
  queued_at TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0
);
`;

const CHECKIN_COLUMNS =
  'id, started_at, ended_at, card, outcome, reason, department, ticket_kind, priority, face_verified, face_score, bhyt_code, bhyt_state, day, number, lane, seq, ticket_state, void_reason, steps_ms, total_ms';

/** Lane and sequence of a number ("AU012" → AU, 12). */
function splitNumber(n: string): { lane: string; seq: number } | null {
  const m = /^(.*?)(\d+)$/.exec(n);
  return m ? { lane: m[1]!, seq: Number(m[2]) } : null;
}

/**
 * Brings a database to SCHEMA_VERSION. Version 1 (no user_version) had no lane/seq columns, no
 * `unknown` ticket state and no meta table: the table is rebuilt (SQLite cannot change a CHECK)
 * in one transaction, lane and seq taken from each number, and the highest day used recorded.
 */
function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  const hasCheckins = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkins'`).get() !== undefined;
  db.transaction(() => {
    if (!hasCheckins) {
      db.exec(CHECKINS_TABLE);
    } else if (version < 2) {
      db.exec(`DROP INDEX IF EXISTS checkins_one_number_a_day; DROP INDEX IF EXISTS checkins_started; ALTER TABLE checkins RENAME TO checkins_v1;`);
      db.exec(CHECKINS_TABLE);
      const rows = db.prepare(`SELECT * FROM checkins_v1`).all() as Array<Record<string, unknown>>;
      const insert = db.prepare(
        `INSERT INTO checkins (${CHECKIN_COLUMNS}) VALUES (${CHECKIN_COLUMNS.split(', ')
          .map((c) => '@' + c)
          .join(', ')})`,
      );
      for (const r of rows) {
        const split = typeof r['number'] === 'string' && r['day'] ? splitNumber(r['number']) : null;
        insert.run({
          ...Object.fromEntries(CHECKIN_COLUMNS.split(', ').map((c) => [c, r[c] ?? null])),
          day: split ? r['day'] : null,
          number: split ? r['number'] : null,
          lane: split?.lane ?? null,
          seq: split?.seq ?? null,
        });
      }
      db.exec(`DROP TABLE checkins_v1`);
    }
    db.exec(SCHEMA);
    const highest = db
      .prepare<[], { d: string | null }>(`SELECT MAX(d) AS d FROM (SELECT MAX(day) AS d FROM checkins UNION ALL SELECT MAX(day) FROM sequences)`)
      .get()!.d;
    if (highest)
      db.prepare(`INSERT INTO meta (key, value) VALUES ('high_day', ?) ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)`).run(
        highest,
      );
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

export function openQueueStore(o: QueueStoreOptions) {
  mkdirSync(dirname(o.path), { recursive: true });
  const db = new Database(o.path);
  chmodSync(o.path, 0o600);
  db.pragma('journal_mode = WAL');
  // FULL: a committed number survives a power cut too, not only a killed process.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 2000');
  // Deleted rows (a reconciled lookup's name and number) are overwritten, not left in free pages.
  db.pragma('secure_delete = ON');
  migrate(db);

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
  const beginStmt = db.prepare(`INSERT INTO checkins (id, started_at, card) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`);
  const upsertAllocated = db.prepare(
    `INSERT INTO checkins (id, started_at, card, department, ticket_kind, priority, face_verified, bhyt_code, bhyt_state, day, number, lane, seq, ticket_state)
     VALUES (@id, @started_at, @card, @department, @ticket_kind, @priority, @face_verified, @bhyt_code, @bhyt_state, @day, @number, @lane, @seq, 'allocated')
     ON CONFLICT (id) DO UPDATE SET department = excluded.department, ticket_kind = excluded.ticket_kind, priority = excluded.priority,
       face_verified = excluded.face_verified, bhyt_code = excluded.bhyt_code, bhyt_state = excluded.bhyt_state,
       day = excluded.day, number = excluded.number, lane = excluded.lane, seq = excluded.seq, ticket_state = 'allocated'`,
  );
  const finishStmt = db.prepare(
    `INSERT INTO checkins (id, started_at, ended_at, card, outcome, reason, department, ticket_kind, face_verified, face_score, bhyt_code, bhyt_state, steps_ms, total_ms)
     VALUES (@id, @started_at, @ended_at, @card, @outcome, @reason, @department, @ticket_kind, @face_verified, @face_score, @bhyt_code, @bhyt_state, @steps_ms, @total_ms)
     ON CONFLICT (id) DO UPDATE SET ended_at = excluded.ended_at, outcome = excluded.outcome, reason = excluded.reason, face_score = excluded.face_score,
       department = COALESCE(checkins.department, excluded.department), ticket_kind = COALESCE(checkins.ticket_kind, excluded.ticket_kind),
       face_verified = excluded.face_verified, bhyt_code = COALESCE(checkins.bhyt_code, excluded.bhyt_code),
       bhyt_state = CASE WHEN checkins.bhyt_state = 'reconciled' THEN checkins.bhyt_state ELSE excluded.bhyt_state END,
       steps_ms = excluded.steps_ms, total_ms = excluded.total_ms`,
  );
  const markPrintedStmt = db.prepare(
    `UPDATE checkins SET ticket_state = 'printed', void_reason = NULL WHERE id = ? AND ticket_state IN ('allocated', 'unknown')`,
  );
  const markVoidStmt = db.prepare(`UPDATE checkins SET ticket_state = 'void', void_reason = ? WHERE id = ? AND ticket_state = 'allocated'`);
  const unprinted = db.prepare<[], { id: string; number: string; department: string }>(
    `SELECT id, number, department FROM checkins WHERE ticket_state = 'allocated' ORDER BY started_at`,
  );
  const markUnknownStmt = db.prepare(`UPDATE checkins SET ticket_state = 'unknown' WHERE id = ? AND ticket_state = 'allocated'`);
  const interruptStmt = db.prepare(`UPDATE checkins SET outcome = 'interrupted', reason = ? WHERE outcome IS NULL`);
  const newestStmt = db.prepare<[], { t: string | null }>(`SELECT MAX(started_at) AS t FROM checkins`);
  const queueLookupStmt = db.prepare(
    `INSERT OR IGNORE INTO bhyt_pending (checkin_id, card_id, full_name, date_of_birth, queued_at) VALUES (?, ?, ?, ?, ?)`,
  );
  const lookupFailedStmt = db.prepare(`UPDATE bhyt_pending SET attempts = attempts + 1 WHERE checkin_id = ?`);
  const reconciledRow = db.prepare(`UPDATE checkins SET bhyt_code = ?, bhyt_state = 'reconciled' WHERE id = ?`);
  const deletePending = db.prepare(`DELETE FROM bhyt_pending WHERE checkin_id = ?`);
  const printedToday = db.prepare<[string], { n: number }>(`SELECT COUNT(*) AS n FROM checkins WHERE day = ? AND ticket_state = 'printed'`);

  const highDay = (): string | null => highDayStmt.get()?.value ?? null;
  /** The business day numbering uses at `at`: the clock's, unless that is before the highest one used. */
  const numberingDay = (at: Date): { day: string; clockDay: string } => {
    const clockDay = businessDay(at, o.timeZone, o.resetAt);
    const high = highDay();
    return { day: high !== null && high > clockDay ? high : clockDay, clockDay };
  };

  const allocateTx = db.transaction((r: AllocateRequest) => {
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
      face_verified: r.faceVerified ? 1 : 0,
      bhyt_code: r.bhytCode,
      bhyt_state: r.bhytState,
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
    /**
     * Next number in the lane, written with the check-in record in one transaction. The day is
     * never before the highest one used: `steppedBack` says when the clock's own day is (the
     * clock went back; numbering carries on in the later day rather than give a number again).
     */
    allocate: (r: AllocateRequest): { number: string; seq: number; day: string; steppedBack: { clockDay: string } | null } => allocateTx.immediate(r),
    /** The audit row of a check-in, from its first moment: one killed before it got a number is still recorded. */
    begin(r: { checkinId: string; card: string; startedAt: Date }): void {
      beginStmt.run(r.checkinId, r.startedAt.toISOString(), r.card);
    },
    /** The ticket is on paper (also for an `unknown` one a later reprint settled). */
    markPrinted(checkinId: string): void {
      markPrintedStmt.run(checkinId);
    },
    /** The ticket is known not to have printed (it could not be encoded, or was held and not reprinted in time). */
    markVoid(checkinId: string, reason: string): void {
      markVoidStmt.run(reason, checkinId);
    },
    /**
     * At start, for what a previous run left open (it crashed, was killed, lost power): numbers
     * still allocated become `unknown` (not void: the process may have died after the printer
     * took the ticket), check-ins never completed get outcome `interrupted` with `reason`.
     */
    settleAfterCrash(reason: string): CrashSettlement {
      return db
        .transaction(() => {
          const rows = unprinted.all();
          for (const r of rows) markUnknownStmt.run(r.id);
          const interrupted = interruptStmt.run(reason).changes;
          return { unknown: rows.map((r) => ({ checkinId: r.id, number: r.number, department: r.department })), interrupted };
        })
        .immediate();
    },
    /** The clock against the highest business day used and the newest record (at start, and before purging). */
    clockCheck,
    /** The audit record of a finished check-in (created if it never got a number). */
    finish(r: CheckinRecord): void {
      finishStmt.run({
        id: r.checkinId,
        started_at: r.startedAt.toISOString(),
        ended_at: r.endedAt.toISOString(),
        card: r.card,
        outcome: r.outcome,
        reason: r.reason,
        department: r.department,
        ticket_kind: r.ticket,
        face_verified: r.faceVerified ? 1 : 0,
        face_score: r.faceScore,
        bhyt_code: r.bhytCode,
        bhyt_state: r.bhytState,
        steps_ms: JSON.stringify(r.stepsMs),
        total_ms: Math.round(r.totalMs),
      });
    },
    /** Queues a lookup the gateway could not answer, to be retried by the reconciler. */
    queueLookup(checkinId: string, q: { cardId: string; fullName: string; dateOfBirth: string }, at: Date): void {
      queueLookupStmt.run(checkinId, q.cardId, q.fullName, q.dateOfBirth, at.toISOString());
    },
    pendingLookups(limit: number): PendingLookup[] {
      return db
        .prepare<
          [number],
          { checkin_id: string; card_id: string; full_name: string; date_of_birth: string; number: string | null; attempts: number }
        >(
          `SELECT p.checkin_id, p.card_id, p.full_name, p.date_of_birth, c.number, p.attempts FROM bhyt_pending p LEFT JOIN checkins c ON c.id = p.checkin_id ORDER BY p.queued_at LIMIT ?`,
        )
        .all(limit)
        .map((r) => ({
          checkinId: r.checkin_id,
          cardId: r.card_id,
          fullName: r.full_name,
          dateOfBirth: r.date_of_birth,
          number: r.number,
          attempts: r.attempts,
        }));
    },
    lookupFailed(checkinId: string): void {
      lookupFailedStmt.run(checkinId);
    },
    /** The gateway answered: the result joins the check-in record and the personal data is deleted. */
    reconciled(checkinId: string, code: string): void {
      db.transaction(() => {
        reconciledRow.run(code, checkinId);
        deletePending.run(checkinId);
      }).immediate();
    },
    /**
     * Deletes check-in records older than the retention, and queued lookups older than
     * `pendingHours`. On a clock more than MAX_PLAUSIBLE_GAP_HOURS past the newest check-in
     * record the records and counters are left alone (`refused` says how far ahead the clock
     * is): deleting on a wrong clock cannot be undone, postponing costs nothing. Queued lookups
     * (the only personal data) are deleted all the same: early is the safe side for them, and
     * it costs at most a lookup made at the counter instead.
     */
    purge(
      now: Date,
      retentionDays: number,
      pendingHours: number,
    ): { checkins: number; lookups: number; refused: { aheadHours: number; newest: Date } | null } {
      const lookups = db
        .prepare(`DELETE FROM bhyt_pending WHERE queued_at < ?`)
        .run(new Date(now.getTime() - pendingHours * 3_600_000).toISOString()).changes;
      const c = clockCheck(now);
      if (c.implausibleAheadHours !== null) return { checkins: 0, lookups, refused: { aheadHours: c.implausibleAheadHours, newest: c.newest! } };
      const checkins = db
        .prepare(`DELETE FROM checkins WHERE started_at < ?`)
        .run(new Date(now.getTime() - retentionDays * 86_400_000).toISOString()).changes;
      db.prepare(`DELETE FROM sequences WHERE day < ?`).run(new Date(now.getTime() - 7 * 86_400_000).toISOString().slice(0, 10));
      return { checkins, lookups, refused: null };
    },
    /** Read-only views for tests, selftest and technicians. */
    checkin(checkinId: string): Record<string, unknown> | undefined {
      return db.prepare(`SELECT * FROM checkins WHERE id = ?`).get(checkinId) as Record<string, unknown> | undefined;
    },
    countToday(at: Date): number {
      return printedToday.get(numberingDay(at).day)!.n;
    },
    close(): void {
      db.close();
    },
  };
}
