import type Database from 'better-sqlite3';
import type { CheckinRecord, CrashSettlement } from './types.js';

/** The check-in audit rows and their tickets' state. */
export function createAudit(db: Database.Database) {
  const beginStmt = db.prepare(`INSERT INTO checkins (id, started_at, card) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`);
  const finishStmt = db.prepare(
    `INSERT INTO checkins (id, started_at, ended_at, card, outcome, reason, department, ticket_kind, face_verified, face_score, bhyt_code, bhyt_state, steps_ms, total_ms, chip)
     VALUES (@id, @started_at, @ended_at, @card, @outcome, @reason, @department, @ticket_kind, @face_verified, @face_score, @bhyt_code, @bhyt_state, @steps_ms, @total_ms, @chip)
     ON CONFLICT (id) DO UPDATE SET ended_at = excluded.ended_at, outcome = excluded.outcome, reason = excluded.reason, face_score = excluded.face_score,
       department = COALESCE(checkins.department, excluded.department), ticket_kind = COALESCE(checkins.ticket_kind, excluded.ticket_kind),
       face_verified = excluded.face_verified, bhyt_code = COALESCE(checkins.bhyt_code, excluded.bhyt_code),
       bhyt_state = CASE WHEN checkins.bhyt_state = 'reconciled' THEN checkins.bhyt_state ELSE excluded.bhyt_state END,
       steps_ms = excluded.steps_ms, total_ms = excluded.total_ms, chip = excluded.chip`,
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
  const checkinStmt = db.prepare(`SELECT * FROM checkins WHERE id = ?`);

  return {
    begin(r: { checkinId: string; card: string; startedAt: Date }): void {
      beginStmt.run(r.checkinId, r.startedAt.toISOString(), r.card);
    },
    markPrinted(checkinId: string): void {
      markPrintedStmt.run(checkinId);
    },
    markVoid(checkinId: string, reason: string): void {
      markVoidStmt.run(reason, checkinId);
    },
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
        chip: r.chip ? JSON.stringify(r.chip) : null,
      });
    },
    checkin: (checkinId: string): Record<string, unknown> | undefined => checkinStmt.get(checkinId) as Record<string, unknown> | undefined,
  };
}
