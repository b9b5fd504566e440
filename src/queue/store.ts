import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Outcome, TicketKind } from '../pipeline/steps.js';
import { businessDay } from './business-day.js';

/**
 * Queue numbers and the check-in audit in one SQLite file (WAL, synchronous=FULL), so that a
 * number and the record of the check-in it belongs to are written in one transaction, and a
 * crash or `kill -9` at any moment can neither hand out a number twice nor lose one: a number
 * that was allocated but never printed is recorded void at the next start.
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

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sequences (day TEXT NOT NULL, lane TEXT NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (day, lane));
CREATE TABLE IF NOT EXISTS checkins (
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
  ticket_state TEXT CHECK (ticket_state IN ('allocated', 'printed', 'void')),
  void_reason TEXT,
  steps_ms TEXT,
  total_ms INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS checkins_one_number_a_day ON checkins (day, number) WHERE number IS NOT NULL;
CREATE INDEX IF NOT EXISTS checkins_started ON checkins (started_at);
CREATE TABLE IF NOT EXISTS bhyt_pending (
  checkin_id TEXT PRIMARY KEY,
  card_id TEXT NOT NULL,
  full_name TEXT NOT NULL,
  date_of_birth TEXT NOT NULL,
  queued_at TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0
);
`;

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
  db.exec(SCHEMA);

  const nextSeq = db.prepare<[string, string], { last: number }>(
    `INSERT INTO sequences (day, lane, last) VALUES (?, ?, 1) ON CONFLICT (day, lane) DO UPDATE SET last = last + 1 RETURNING last`,
  );
  const upsertAllocated = db.prepare(
    `INSERT INTO checkins (id, started_at, card, department, ticket_kind, priority, face_verified, bhyt_code, bhyt_state, day, number, ticket_state)
     VALUES (@id, @started_at, @card, @department, @ticket_kind, @priority, @face_verified, @bhyt_code, @bhyt_state, @day, @number, 'allocated')
     ON CONFLICT (id) DO UPDATE SET department = excluded.department, ticket_kind = excluded.ticket_kind, priority = excluded.priority,
       face_verified = excluded.face_verified, bhyt_code = excluded.bhyt_code, bhyt_state = excluded.bhyt_state,
       day = excluded.day, number = excluded.number, ticket_state = 'allocated'`,
  );
  const finishStmt = db.prepare(
    `INSERT INTO checkins (id, started_at, ended_at, card, outcome, reason, department, ticket_kind, face_verified, face_score, bhyt_code, bhyt_state, steps_ms, total_ms)
     VALUES (@id, @started_at, @ended_at, @card, @outcome, @reason, @department, @ticket_kind, @face_verified, @face_score, @bhyt_code, @bhyt_state, @steps_ms, @total_ms)
     ON CONFLICT (id) DO UPDATE SET ended_at = excluded.ended_at, outcome = excluded.outcome, reason = excluded.reason, face_score = excluded.face_score,
       face_verified = excluded.face_verified, bhyt_code = COALESCE(checkins.bhyt_code, excluded.bhyt_code),
       bhyt_state = CASE WHEN checkins.bhyt_state = 'reconciled' THEN checkins.bhyt_state ELSE excluded.bhyt_state END,
       steps_ms = excluded.steps_ms, total_ms = excluded.total_ms`,
  );
  const markPrintedStmt = db.prepare(`UPDATE checkins SET ticket_state = 'printed' WHERE id = ? AND ticket_state = 'allocated'`);
  const markVoidStmt = db.prepare(`UPDATE checkins SET ticket_state = 'void', void_reason = ? WHERE id = ? AND ticket_state = 'allocated'`);
  const unprinted = db.prepare<[], { id: string; number: string; department: string }>(`SELECT id, number, department FROM checkins WHERE ticket_state = 'allocated'`);
  const queueLookupStmt = db.prepare(`INSERT OR IGNORE INTO bhyt_pending (checkin_id, card_id, full_name, date_of_birth, queued_at) VALUES (?, ?, ?, ?, ?)`);
  const lookupFailedStmt = db.prepare(`UPDATE bhyt_pending SET attempts = attempts + 1 WHERE checkin_id = ?`);
  const reconciledRow = db.prepare(`UPDATE checkins SET bhyt_code = ?, bhyt_state = 'reconciled' WHERE id = ?`);
  const deletePending = db.prepare(`DELETE FROM bhyt_pending WHERE checkin_id = ?`);
  const printedToday = db.prepare<[string], { n: number }>(`SELECT COUNT(*) AS n FROM checkins WHERE day = ? AND ticket_state = 'printed'`);

  const allocateTx = db.transaction((r: AllocateRequest) => {
    const day = businessDay(r.at, o.timeZone, o.resetAt);
    const lane = r.lane.prefix + (r.lane.priority ? o.priorityMark : '');
    const seq = nextSeq.get(day, lane)!.last;
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
    });
    return { number, seq, day };
  });

  return {
    /** Next number in the lane, written with the check-in record in one transaction. */
    allocate: (r: AllocateRequest): { number: string; seq: number; day: string } => allocateTx.immediate(r),
    markPrinted(checkinId: string): void {
      markPrintedStmt.run(checkinId);
    },
    markVoid(checkinId: string, reason: string): void {
      markVoidStmt.run(reason, checkinId);
    },
    /** At start: numbers a previous run allocated but never printed (it crashed or was killed). */
    voidUnprinted(reason: string): Array<{ checkinId: string; number: string; department: string }> {
      return db.transaction(() => {
        const rows = unprinted.all();
        for (const r of rows) markVoidStmt.run(reason, r.id);
        return rows.map((r) => ({ checkinId: r.id, number: r.number, department: r.department }));
      }).immediate();
    },
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
        .prepare<[number], { checkin_id: string; card_id: string; full_name: string; date_of_birth: string; number: string | null; attempts: number }>(
          `SELECT p.checkin_id, p.card_id, p.full_name, p.date_of_birth, c.number, p.attempts FROM bhyt_pending p LEFT JOIN checkins c ON c.id = p.checkin_id ORDER BY p.queued_at LIMIT ?`,
        )
        .all(limit)
        .map((r) => ({ checkinId: r.checkin_id, cardId: r.card_id, fullName: r.full_name, dateOfBirth: r.date_of_birth, number: r.number, attempts: r.attempts }));
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
    /** Deletes check-in records older than the retention, and queued lookups older than `pendingHours`. */
    purge(now: Date, retentionDays: number, pendingHours: number): { checkins: number; lookups: number } {
      const checkins = db.prepare(`DELETE FROM checkins WHERE started_at < ?`).run(new Date(now.getTime() - retentionDays * 86_400_000).toISOString()).changes;
      const lookups = db.prepare(`DELETE FROM bhyt_pending WHERE queued_at < ?`).run(new Date(now.getTime() - pendingHours * 3_600_000).toISOString()).changes;
      db.prepare(`DELETE FROM sequences WHERE day < ?`).run(new Date(now.getTime() - 7 * 86_400_000).toISOString().slice(0, 10));
      return { checkins, lookups };
    },
    /** Read-only views for tests, selftest and technicians. */
    checkin(checkinId: string): Record<string, unknown> | undefined {
      return db.prepare(`SELECT * FROM checkins WHERE id = ?`).get(checkinId) as Record<string, unknown> | undefined;
    },
    countToday(at: Date): number {
      const day = businessDay(at, o.timeZone, o.resetAt);
      return printedToday.get(day)!.n;
    },
    close(): void {
      db.close();
    },
  };
}
