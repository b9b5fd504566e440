import type Database from 'better-sqlite3';
import type { PendingLookup } from './types.js';

/**
 * BHYT lookups the gateway could not answer at check-in, queued with what it needs (the only
 * personal data on disk) until the reconciler gets an answer.
 */
export function createLookups(db: Database.Database) {
  const queueLookupStmt = db.prepare(
    `INSERT OR IGNORE INTO bhyt_pending (checkin_id, card_id, full_name, date_of_birth, queued_at) VALUES (?, ?, ?, ?, ?)`,
  );
  const lookupFailedStmt = db.prepare(`UPDATE bhyt_pending SET attempts = attempts + 1 WHERE checkin_id = ?`);
  const reconciledRow = db.prepare(`UPDATE checkins SET bhyt_code = ?, bhyt_state = 'reconciled' WHERE id = ?`);
  const deletePending = db.prepare(`DELETE FROM bhyt_pending WHERE checkin_id = ?`);
  const pendingStmt = db.prepare<
    [number],
    { checkin_id: string; card_id: string; full_name: string; date_of_birth: string; number: string | null; attempts: number }
  >(
    `SELECT p.checkin_id, p.card_id, p.full_name, p.date_of_birth, c.number, p.attempts FROM bhyt_pending p LEFT JOIN checkins c ON c.id = p.checkin_id ORDER BY p.queued_at LIMIT ?`,
  );

  return {
    queueLookup(checkinId: string, q: { cardId: string; fullName: string; dateOfBirth: string }, at: Date): void {
      queueLookupStmt.run(checkinId, q.cardId, q.fullName, q.dateOfBirth, at.toISOString());
    },
    pendingLookups(limit: number): PendingLookup[] {
      return pendingStmt.all(limit).map((r) => ({
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
    reconciled(checkinId: string, code: string): void {
      db.transaction(() => {
        reconciledRow.run(code, checkinId);
        deletePending.run(checkinId);
      }).immediate();
    },
  };
}
