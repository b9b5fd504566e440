import { appendFile, mkdir, open, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { maskIdNumbers } from '../log/mask.js';

/**
 * The record of every queue number the kiosk issued and what became of it, one JSON line per
 * event in `<stateDir>/tickets.jsonl`. Never personal data: ticket id, number, department, event.
 * If the file cannot be written (a full SD card) the kiosk still prints: the lines wait in memory
 * (at most MAX_BACKLOG) and are written with the next record once there is room again. A line
 * torn by a full disk or a crash is cut off before anything else is appended, so no record is
 * ever glued onto a fragment.
 */
export type JournalEvent = 'issued' | 'printed' | 'failed' | 'reprinted' | 'voided' | 'unknown';

export interface JournalEntry {
  readonly ticketId: string;
  readonly number: string;
  readonly department: string;
  readonly event: JournalEvent;
  readonly reason?: string;
}

export interface Journal {
  record(entry: JournalEntry): void;
  /** Resolves when every record so far is written, or kept for later (for shutdown and tests). */
  flush(): Promise<void>;
  readonly path: string;
}

/** A day of a busy kiosk's events; past it the oldest waiting lines are dropped (and counted in the log). */
const MAX_BACKLOG = 5000;

export function createJournal(
  stateDir: string,
  wallClock: () => Date,
  log: Logger,
): Journal & { /** Lines waiting for room on the disk. */ pending(): number } {
  const path = join(stateDir, 'tickets.jsonl');
  const backlog: string[] = [];
  let dropped = 0;
  let failing = false;
  /** The tail may hold a torn line: check before the next append (at open, and after a failure). */
  let checkTail = true;
  let chain: Promise<void> = mkdir(stateDir, { recursive: true }).then(
    () => {},
    (err: unknown) => log.error({ path, err: errText(err) }, 'the ticket journal directory cannot be made; tickets wait in memory and the log'),
  );

  const write = async (): Promise<void> => {
    if (backlog.length === 0) return;
    let appendedFrom: number | null = null;
    try {
      if (checkTail) {
        const cut = await cutTornLine(path);
        if (cut > 0) log.warn({ path, bytes: cut }, 'the ticket journal ended in a torn line (a full disk or a crash); cut it off');
        checkTail = false;
      }
      // Part of a failed append may stay on disk: remember where it began, to take it back.
      appendedFrom = await sizeOf(path);
      await appendFile(path, backlog.join('\n') + '\n', { mode: 0o640 });
      if (failing) log.info({ path, lines: backlog.length, dropped }, 'the ticket journal is written again');
      backlog.length = 0;
      failing = false;
      dropped = 0;
    } catch (err) {
      // Part of the lines may be on disk, the last one torn: take the whole attempt back, so the
      // next try (which writes them all) neither repeats a line nor glues onto a fragment.
      if (appendedFrom !== null) await truncate(path, appendedFrom).catch(() => {});
      checkTail = true;
      if (!failing)
        log.error({ path, err: errText(err) }, 'the ticket journal cannot be written; its lines wait in memory and go to disk with the next ticket');
      failing = true;
    }
  };

  return {
    path,
    record(entry) {
      // The file is not written through the logger, so it masks ID-like numbers itself; the line
      // is one JSON object whatever comes in.
      const line = maskIdNumbers(
        JSON.stringify({
          ts: wallClock().toISOString(),
          ticket_id: entry.ticketId,
          number: entry.number,
          department: entry.department,
          event: entry.event,
          ...(entry.reason ? { reason: entry.reason } : {}),
        }),
      );
      log.info({ ticket: entry.ticketId, number: entry.number, event: entry.event, reason: entry.reason }, `ticket ${entry.number} ${entry.event}`);
      backlog.push(line);
      if (backlog.length > MAX_BACKLOG) {
        backlog.shift();
        dropped++;
      }
      chain = chain.then(write);
    },
    flush: () => (chain = chain.then(write)),
    pending: () => backlog.length,
  };
}

/**
 * Cuts the file back to its last complete line. A line is complete when a newline ends it; what
 * follows the last newline is a fragment. Returns the bytes cut (0 if none or no file).
 */
async function cutTornLine(path: string): Promise<number> {
  let fh;
  try {
    fh = await open(path, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  try {
    const { size } = await fh.stat();
    if (size === 0) return 0;
    // Read back in blocks from the end until a newline is found.
    const block = Buffer.alloc(4096);
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - block.length);
      const { bytesRead } = await fh.read(block, 0, end - start, start);
      const nl = block.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (nl >= 0) {
        const keep = start + nl + 1;
        if (keep < size) await fh.truncate(keep);
        return size - keep;
      }
      end = start;
    }
    await fh.truncate(0);
    return size;
  } finally {
    await fh.close();
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
