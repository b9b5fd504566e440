import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { maskIdNumbers } from '../log/mask.js';

/**
 * The record of every queue number the kiosk issued and what became of it, one JSON line per
 * event in `<stateDir>/tickets.jsonl`. Never personal data: ticket id, number, department, event.
 * If the directory cannot be written the kiosk still prints; the log says the journal is off.
 */
export type JournalEvent = 'issued' | 'printed' | 'failed' | 'reprinted' | 'voided';

export interface JournalEntry {
  readonly ticketId: string;
  readonly number: string;
  readonly department: string;
  readonly event: JournalEvent;
  readonly reason?: string;
}

export interface Journal {
  record(entry: JournalEntry): void;
  /** Resolves when every record so far is written (for shutdown and tests). */
  flush(): Promise<void>;
  readonly path: string;
}

export function createJournal(stateDir: string, wallClock: () => Date, log: Logger): Journal {
  const path = join(stateDir, 'tickets.jsonl');
  let chain: Promise<void> = mkdir(stateDir, { recursive: true }).then(
    () => {},
    (err: unknown) => {
      broken = true;
      log.error({ path, err }, 'the ticket journal cannot be written; tickets are recorded in the log only');
    },
  );
  let broken = false;
  return {
    path,
    record(entry) {
      // The file is not written through the logger, so it masks ID-like numbers itself (a
      // print-test command's "number" is free text); the line is one JSON object whatever comes in.
      const line = maskIdNumbers(JSON.stringify({ ts: wallClock().toISOString(), ticket_id: entry.ticketId, number: entry.number, department: entry.department, event: entry.event, ...(entry.reason ? { reason: entry.reason } : {}) }));
      log.info({ ticket: entry.ticketId, number: entry.number, event: entry.event, reason: entry.reason }, `ticket ${entry.number} ${entry.event}`);
      chain = chain.then(async () => {
        if (broken) return;
        try {
          await appendFile(path, line + '\n', { mode: 0o640 });
        } catch (err) {
          broken = true;
          log.error({ path, err }, 'the ticket journal cannot be written; tickets are recorded in the log only');
        }
      });
    },
    flush: () => chain,
  };
}
