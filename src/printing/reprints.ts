import type { PrintOutcome, TicketPrinter } from '../hal/ports.js';
import type { Clock } from '../util/clock.js';
import type { Held, HeldTickets } from './held-tickets.js';
import type { RecordFate } from './ledger.js';
import type { Ticket } from './ticket/ticket.js';

/**
 * Held tickets are also retried on a timer, not only when the printer's state changes: a job
 * can fail while the printer stays "ready" throughout (a write timeout, a link that dropped and
 * came back before anyone saw it down). First after RETRY_BASE_MS, doubling after each failed
 * attempt up to RETRY_MAX_MS. Constants, not config keys (issue 15 item 7).
 */
export const RETRY_BASE_MS = 2000;
export const RETRY_MAX_MS = 60_000;
const retryDelayMs = (attempt: number): number => Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(attempt, 30));

export const printerUsable = (printer: TicketPrinter): boolean => {
  const k = printer.state().kind;
  return k === 'ready' || k === 'degraded';
};

export interface ReprintDeps {
  readonly printer: TicketPrinter;
  readonly encode: (t: Ticket) => Uint8Array | Promise<Uint8Array>;
  readonly clock: Clock;
  readonly held: HeldTickets;
  readonly record: RecordFate;
  /** Keeps a reprint run among the work stopping waits for. */
  readonly track: (p: Promise<unknown>) => void;
}

/**
 * Reprints held tickets when the printer is usable again (a state change, or the retry timer
 * with backoff), one at a time, and stops when the kiosk does. See createTicketSpooler for what
 * a reprint may and may not do.
 */
export function createReprinter(d: ReprintDeps) {
  let retrying = false;
  let closed = false;
  /** The kiosk is stopping: no new reprint starts. */
  let stopping = false;
  /** Failed reprint attempts in a row: the retry timer's backoff. */
  let failedAttempts = 0;
  /** No retry on a mere state change before this (clock time): after a failed reprint, the backoff rules. */
  let notBefore = 0;
  let retryTimer: unknown = null;
  /** Ends the reprints started by the timer when the spooler closes. */
  const stop = new AbortController();
  /** The signal the daemon hands printerChanged(), used by timer retries too. */
  let external: AbortSignal | null = null;
  const idle = (): boolean => closed || stopping || retrying || d.held.size === 0;

  const startRetry = (): void => {
    if (idle()) return;
    const signal = external ? AbortSignal.any([external, stop.signal]) : stop.signal;
    d.track(retryHeld(signal).finally(scheduleRetry));
  };

  /** The retry timer: armed while tickets are held and no reprint is running. */
  function scheduleRetry(): void {
    d.clock.clearTimeout(retryTimer);
    retryTimer = null;
    if (idle()) return;
    // After a failed attempt notBefore carries the backoff; otherwise look again in RETRY_BASE_MS
    // (also while the printer is not usable: a cheap check, and no print is attempted).
    const at = Math.max(notBefore, d.clock.now() + RETRY_BASE_MS);
    retryTimer = d.clock.setTimeout(
      () => {
        retryTimer = null;
        if (printerUsable(d.printer)) startRetry();
        else scheduleRetry(); // a state change back to usable retries at once anyway
      },
      Math.max(0, at - d.clock.now()),
    );
  }

  async function retryHeld(signal: AbortSignal): Promise<void> {
    if (retrying) return;
    retrying = true;
    try {
      for (const [id, h] of d.held.entries()) {
        if (closed || signal.aborted || !printerUsable(d.printer)) break;
        if (!d.held.has(id)) continue; // voided while an earlier one printed
        const outcome = await sendReprint(d, id, h, signal);
        if (!outcome) continue;
        if (!outcome.ok) {
          // Not printed: it stays held, and the next try waits for the backoff.
          failedAttempts++;
          notBefore = d.clock.now() + retryDelayMs(failedAttempts - 1);
          if (closed || !d.held.has(id)) break;
          if (!d.held.resumeExpiry(id)) continue; // its window is over: voided
          d.record(h.ticket, { type: 'reprint-failed', reason: outcome.reason });
          break;
        }
        // Printed as a reprint: never sent again.
        resetBackoff();
        d.held.markDone(id);
        d.record(h.ticket, { type: 'reprinted', heldMs: d.clock.now() - h.heldAt });
      }
    } finally {
      retrying = false;
    }
  }

  function resetBackoff(): void {
    failedAttempts = 0;
    notBefore = 0;
  }

  return {
    scheduleRetry,
    resetBackoff,
    closed: (): boolean => closed,
    /**
     * On every printer state change: a usable printer gets the held tickets at once, unless a
     * reprint has just failed (then the retry timer's backoff decides when).
     */
    printerChanged(signal: AbortSignal): void {
      external = signal;
      if (closed || !printerUsable(d.printer) || d.held.size === 0) return;
      if (d.clock.now() < notBefore) return scheduleRetry();
      startRetry();
    },
    /** The kiosk is stopping: no new reprint starts. */
    stopping(): void {
      stopping = true;
      d.clock.clearTimeout(retryTimer);
    },
    close(): void {
      closed = true;
      d.clock.clearTimeout(retryTimer);
      stop.abort(new Error('the spooler closed'));
    },
  };
}

/** One held ticket to the printer, marked as a reprint; null when it was voided or printed meanwhile. */
async function sendReprint(d: ReprintDeps, id: string, h: Held, signal: AbortSignal): Promise<PrintOutcome | null> {
  let bytes: Uint8Array;
  try {
    bytes = await d.encode({ ...h.ticket, reprint: true });
  } catch {
    // The reason stays generic: an encoder message could quote the ticket's text (the name).
    d.held.void(id, 'cannot encode the reprint');
    return null;
  }
  if (!d.held.has(id) || d.held.isDone(id)) return null;
  d.held.pauseExpiry(id);
  return d.printer.print(bytes, signal);
}
