import { describePortState, type TicketPrinter } from '../hal/ports.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';
import { createHeldTickets } from './held-tickets.js';
import type { Journal } from './journal.js';
import { createFateRecorder, type TicketFateEvent, type TicketIds, type TicketLedger } from './ledger.js';
import { createReprinter } from './reprints.js';
import type { Ticket } from './ticket/ticket.js';

export { RETRY_BASE_MS, RETRY_MAX_MS } from './reprints.js';

export interface SpoolerDeps {
  readonly printer: TicketPrinter;
  /** Ticket → printer bytes (layout, raster or code page); the daemon does it in a worker. */
  readonly encode: (t: Ticket) => Uint8Array | Promise<Uint8Array>;
  /** tickets.jsonl. */
  readonly journal: Journal;
  /** The audit's ticket state (the queue store). */
  readonly ledger: TicketLedger;
  /** Every step of every ticket's fate, as a domain event (reporting/ticket-events.ts maps it to MQTT). */
  readonly onEvent: (e: TicketFateEvent) => void;
  readonly clock: Clock;
  /** For a ledger write that failed (the ticket is printed or not whatever the database says). */
  readonly log: Logger;
  readonly reprintWithinMs: number;
}

export type SubmitResult = { readonly outcome: 'printed' } | { readonly outcome: 'held' | 'void'; readonly reason: string };
/** A technician's test print is never held: it prints now or is dropped, with the reason. */
export type TestPrintResult = { readonly outcome: 'printed' } | { readonly outcome: 'dropped'; readonly reason: string };

export interface TicketSpooler {
  /** Prints a queue ticket; one that does not print is held for a reprint (or void if it cannot be encoded). */
  submit(ticket: Ticket, signal: AbortSignal): Promise<SubmitResult>;
  /** Stopping: waits (at most `ms`) for tickets already on their way to the printer. */
  settle(ms: number): Promise<void>;
  /** Call on every printer state change. */
  printerChanged(signal: AbortSignal): void;
  /** A technician's test ticket: not a queue number, so no journal, no ledger, no events, no hold. */
  printTest(ticket: Ticket, signal: AbortSignal): Promise<TestPrintResult>;
  held(): Array<{ ticketId: string; number: string }>;
  /** At start: a ticket a previous run left allocated, now `unknown` in the store, goes to the journal too. */
  recordUnknown(ticket: TicketIds, reason: string): void;
  /** Stopping: held tickets cannot outlive the process (their content is in memory only): void. */
  close(): void;
}

/**
 * No queue number is ever lost to the printer: a ticket that does not print is held in memory
 * (it carries the patient's name, so it is never written to disk) and reprinted, marked as a
 * reprint, as soon as the printer is usable again (a state change, or the retry timer with
 * backoff), or recorded void once `reprintWithinMs` has passed (the patient has gone to the
 * counter by then). Every step goes to the journal, the ledger and the events (ledger.ts), and
 * only the spooler writes them.
 *
 * "Printed" is the printer port's `ok` (see createTicketPrinter): every byte of the ticket left
 * kioskd and the printer reported no fault for it, nor did the link close before it confirmed
 * the ticket. A printer that is only slow to answer afterwards does not make a ticket unprinted.
 * So:
 * - a ticket printed first time is never held;
 * - a held ticket is reprinted at most once: the first reprint attempt that prints ends its
 *   story ("reprinted") and it is never sent again, whatever the printer does next;
 * - a reprint attempt that did not print (its bytes did not all leave, or the printer reported a
 *   fault) leaves it held, to be tried again on the next state change or retry timer, until the
 *   window ends. A failed attempt is journalled (`failed`, "reprint: …") but not re-announced.
 */
export function createTicketSpooler(d: SpoolerDeps): TicketSpooler {
  const record = createFateRecorder(d);
  /** Submissions and reprints on their way to the printer, so stopping can let them finish. */
  const inFlight = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>): void => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const held = createHeldTickets({ clock: d.clock, reprintWithinMs: d.reprintWithinMs, record, emptied: () => reprinter.resetBackoff() });
  const reprinter = createReprinter({ printer: d.printer, encode: d.encode, clock: d.clock, held, record, track });

  const hold = (ticket: Ticket, reason: string): void => {
    record(ticket, { type: 'held', reason });
    // Stopping: nothing will reprint it, so say so now rather than leave it open.
    if (reprinter.closed()) return record(ticket, { type: 'voided', reason: 'the kiosk stopped before it printed' });
    if (held.add(ticket)) reprinter.scheduleRetry();
  };

  async function submit(ticket: Ticket, signal: AbortSignal): Promise<SubmitResult> {
    record(ticket, { type: 'issued' });
    let bytes: Uint8Array;
    try {
      bytes = await d.encode(ticket);
    } catch (err) {
      // A ticket that cannot be laid out will not print later either: record it void, loudly.
      // The reason stays generic: an encoder message could quote the ticket's text (the name).
      const reason = `cannot encode the ticket (${err instanceof Error ? err.name : 'error'})`;
      record(ticket, { type: 'voided', reason });
      return { outcome: 'void', reason };
    }
    const outcome = await d.printer.print(bytes, signal);
    if (outcome.ok) {
      held.markDone(ticket.ticketId);
      record(ticket, { type: 'printed', bytes: outcome.bytes, ms: outcome.ms });
      return { outcome: 'printed' };
    }
    hold(ticket, outcome.reason);
    return { outcome: 'held', reason: outcome.reason };
  }

  return {
    submit(ticket, signal) {
      const p = submit(ticket, signal);
      track(p);
      return p;
    },
    async settle(ms) {
      reprinter.stopping();
      if (inFlight.size === 0) return;
      await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => d.clock.setTimeout(() => r(undefined), ms))]);
    },
    printerChanged: (signal) => reprinter.printerChanged(signal),
    // Refused at once while the printer is not usable: a pile of test prints must not wait for
    // the paper and then stand between the next patient and their ticket.
    async printTest(ticket, signal) {
      const state = d.printer.state();
      if (reprinter.closed()) return { outcome: 'dropped', reason: 'the kiosk is stopping' };
      if (state.kind !== 'ready' && state.kind !== 'degraded') return { outcome: 'dropped', reason: `the printer is ${describePortState(state)}` };
      let bytes: Uint8Array;
      try {
        bytes = await d.encode(ticket);
      } catch (err) {
        return { outcome: 'dropped', reason: `cannot encode the test ticket (${err instanceof Error ? err.name : 'error'})` };
      }
      const outcome = await d.printer.print(bytes, signal);
      return outcome.ok ? { outcome: 'printed' } : { outcome: 'dropped', reason: outcome.reason };
    },
    held: () => held.list(),
    recordUnknown: (ticket, reason) => record(ticket, { type: 'unknown', reason }),
    close() {
      reprinter.close();
      held.voidAll('the kiosk stopped before the printer recovered');
    },
  };
}
