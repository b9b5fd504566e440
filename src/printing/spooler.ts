import { describePortState, type TicketPrinter } from '../hal/ports.js';
import type { Ticket } from '../hal/printer/ticket.js';
import type { EventTopics } from '../mqtt/topics.js';
import type { Clock } from '../util/clock.js';
import type { Journal } from './journal.js';

export interface SpoolerDeps {
  readonly printer: TicketPrinter;
  /** Ticket → printer bytes (layout, raster or code page); main.ts does it in a worker. */
  readonly encode: (t: Ticket) => Uint8Array | Promise<Uint8Array>;
  readonly journal: Journal;
  readonly clock: Clock;
  readonly wallClock: () => Date;
  readonly event: <K extends 'ticket.printed' | 'ticket.failed' | 'ticket.reprinted' | 'ticket.voided'>(kind: K, data: EventTopics[K]) => void;
  readonly reprintWithinMs: number;
}

export type SubmitResult = { readonly outcome: 'printed' } | { readonly outcome: 'held' | 'void'; readonly reason: string };
/** A technician's test print is never held: it prints now or is dropped, with the reason. */
export type TestPrintResult = { readonly outcome: 'printed' } | { readonly outcome: 'dropped'; readonly reason: string };

interface Held {
  readonly ticket: Ticket;
  readonly heldAt: number;
  readonly expiry: unknown;
}

/**
 * Held tickets are also retried on a timer, not only when the printer's state changes: a job
 * can fail while the printer stays "ready" throughout (a write timeout, a link that dropped and
 * came back before anyone saw it down). First after RETRY_BASE_MS, doubling after each failed
 * attempt up to RETRY_MAX_MS. Constants, not config keys (issue 15 item 7).
 */
export const RETRY_BASE_MS = 2000;
export const RETRY_MAX_MS = 60_000;
const retryDelayMs = (attempt: number): number => Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(attempt, 30));

/**
 * No queue number is ever lost to the printer: a ticket that does not print is held in memory
 * (it carries the patient's name, so it is never written to disk) and reprinted, marked as a
 * reprint, as soon as the printer is usable again (a state change, or the retry timer with
 * backoff), or recorded void once `reprintWithinMs` has passed (the patient has gone to the
 * counter by then). Every step goes to the journal and MQTT.
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
export function createTicketSpooler(d: SpoolerDeps) {
  const held = new Map<string, Held>();
  /** Tickets that printed (first time or as a reprint), with when: never held or printed again. */
  const done = new Map<string, number>();
  let retrying = false;
  let closed = false;
  /** Set by settle(): the kiosk is stopping, no new reprint starts. */
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
  /** Submissions on their way to the printer, so stopping can let them finish. */
  const inFlight = new Set<Promise<unknown>>();
  const ids = (t: Ticket) => ({ ticket_id: t.ticketId, number: t.number, department: t.department });

  const voidTicket = (id: string, reason: string): void => {
    const h = held.get(id);
    if (!h) return;
    held.delete(id);
    d.clock.clearTimeout(h.expiry);
    d.journal.record({ ticketId: id, number: h.ticket.number, department: h.ticket.department, event: 'voided', reason });
    d.event('ticket.voided', { ...ids(h.ticket), reason });
    // An outage that ended in voids must not make the next held ticket wait the longest backoff.
    if (held.size === 0) {
      failedAttempts = 0;
      notBefore = 0;
    }
  };

  const hold = (ticket: Ticket, reason: string): void => {
    d.journal.record({ ticketId: ticket.ticketId, number: ticket.number, department: ticket.department, event: 'failed', reason });
    d.event('ticket.failed', { ...ids(ticket), reason });
    if (closed) {
      // Stopping: nothing will reprint it, so say so now rather than leave it open.
      d.journal.record({
        ticketId: ticket.ticketId,
        number: ticket.number,
        department: ticket.department,
        event: 'voided',
        reason: 'the kiosk stopped before it printed',
      });
      d.event('ticket.voided', { ...ids(ticket), reason: 'the kiosk stopped before it printed' });
      return;
    }
    if (held.has(ticket.ticketId) || done.has(ticket.ticketId)) return;
    const expiry = d.clock.setTimeout(
      () => voidTicket(ticket.ticketId, `not reprinted within ${Math.round(d.reprintWithinMs / 1000)} s`),
      d.reprintWithinMs,
    );
    held.set(ticket.ticketId, { ticket, heldAt: d.clock.now(), expiry });
    scheduleRetry();
  };

  const markDone = (id: string): void => {
    const now = d.clock.now();
    // Only as long as a ticket could still be held: the map stays small.
    for (const [k, at] of done) if (now - at > d.reprintWithinMs) done.delete(k);
    done.set(id, now);
  };

  const usable = (): boolean => {
    const k = d.printer.state().kind;
    return k === 'ready' || k === 'degraded';
  };

  const startRetry = (): void => {
    if (closed || stopping || retrying || held.size === 0) return;
    const signal = external ? AbortSignal.any([external, stop.signal]) : stop.signal;
    const p = retryHeld(signal).finally(scheduleRetry);
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  /** The retry timer: armed while tickets are held and no reprint is running. */
  function scheduleRetry(): void {
    d.clock.clearTimeout(retryTimer);
    retryTimer = null;
    if (closed || stopping || retrying || held.size === 0) return;
    // After a failed attempt notBefore carries the backoff; otherwise look again in RETRY_BASE_MS
    // (also while the printer is not usable: a cheap check, and no print is attempted).
    const at = Math.max(notBefore, d.clock.now() + RETRY_BASE_MS);
    retryTimer = d.clock.setTimeout(
      () => {
        retryTimer = null;
        if (usable()) startRetry();
        else scheduleRetry(); // a state change back to usable retries at once anyway
      },
      Math.max(0, at - d.clock.now()),
    );
  }

  const retryHeld = async (signal: AbortSignal): Promise<void> => {
    if (retrying) return;
    retrying = true;
    try {
      for (const [id, h] of [...held]) {
        if (closed || signal.aborted || !usable()) break;
        if (!held.has(id)) continue; // voided while an earlier one printed
        let bytes: Uint8Array;
        try {
          bytes = await d.encode({ ...h.ticket, reprint: true });
        } catch (err) {
          // The reason stays generic: an encoder message could quote the ticket's text (the name).
          voidTicket(id, 'cannot encode the reprint');
          void err;
          continue;
        }
        if (!held.has(id) || done.has(id)) continue;
        // While it is on the printer it must not be voided under it: the expiry waits.
        d.clock.clearTimeout(h.expiry);
        const outcome = await d.printer.print(bytes, signal);
        if (!outcome.ok) {
          // Not printed (see above): it stays held, and the next try waits for the backoff.
          failedAttempts++;
          notBefore = d.clock.now() + retryDelayMs(failedAttempts - 1);
          if (closed || !held.has(id)) break;
          const left = d.reprintWithinMs - (d.clock.now() - h.heldAt);
          if (left <= 0) {
            voidTicket(id, `not reprinted within ${Math.round(d.reprintWithinMs / 1000)} s`);
            continue;
          }
          held.set(id, {
            ...h,
            expiry: d.clock.setTimeout(() => voidTicket(id, `not reprinted within ${Math.round(d.reprintWithinMs / 1000)} s`), left),
          });
          d.journal.record({
            ticketId: id,
            number: h.ticket.number,
            department: h.ticket.department,
            event: 'failed',
            reason: `reprint: ${outcome.reason}`,
          });
          break;
        }
        // Printed as a reprint: never sent again.
        failedAttempts = 0;
        notBefore = 0;
        held.delete(id);
        markDone(id);
        d.journal.record({ ticketId: id, number: h.ticket.number, department: h.ticket.department, event: 'reprinted' });
        d.event('ticket.reprinted', { ...ids(h.ticket), held_s: Math.round((d.clock.now() - h.heldAt) / 1000) });
      }
    } finally {
      retrying = false;
    }
  };

  return {
    submit(ticket: Ticket, signal: AbortSignal): Promise<SubmitResult> {
      const p = submit(ticket, signal);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      return p;
    },
    /** Stopping: waits (at most `ms`) for tickets already on their way to the printer. */
    async settle(ms: number): Promise<void> {
      stopping = true;
      d.clock.clearTimeout(retryTimer);
      if (inFlight.size === 0) return;
      await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => d.clock.setTimeout(() => r(undefined), ms))]);
    },
    /**
     * Call on every printer state change: a usable printer gets the held tickets at once, unless
     * a reprint has just failed (then the retry timer's backoff decides when).
     */
    printerChanged(signal: AbortSignal): void {
      external = signal;
      if (closed || !usable() || held.size === 0) return;
      if (d.clock.now() < notBefore) return scheduleRetry();
      startRetry();
    },
    /**
     * A test ticket: not a queue number, so no journal, no ticket events, no hold. Refused at once
     * while the printer is not usable (a pile of test prints must not wait for the paper and then
     * stand between the next patient and their ticket).
     */
    async printTest(ticket: Ticket, signal: AbortSignal): Promise<TestPrintResult> {
      const state = d.printer.state();
      if (closed) return { outcome: 'dropped', reason: 'the kiosk is stopping' };
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
    held: (): Array<{ ticketId: string; number: string }> =>
      [...held.values()].map((h) => ({ ticketId: h.ticket.ticketId, number: h.ticket.number })),
    /** Stopping: held tickets cannot outlive the process (their content is in memory only). */
    close(): void {
      closed = true;
      d.clock.clearTimeout(retryTimer);
      stop.abort(new Error('the spooler closed'));
      for (const id of [...held.keys()]) voidTicket(id, 'the kiosk stopped before the printer recovered');
    },
  };

  async function submit(ticket: Ticket, signal: AbortSignal): Promise<SubmitResult> {
    d.journal.record({ ticketId: ticket.ticketId, number: ticket.number, department: ticket.department, event: 'issued' });
    let bytes: Uint8Array;
    try {
      bytes = await d.encode(ticket);
    } catch (err) {
      // A ticket that cannot be laid out will not print later either: record it void, loudly.
      // The reason stays generic: an encoder message could quote the ticket's text (the name).
      const reason = `cannot encode the ticket (${err instanceof Error ? err.name : 'error'})`;
      d.journal.record({ ticketId: ticket.ticketId, number: ticket.number, department: ticket.department, event: 'voided', reason });
      d.event('ticket.voided', { ...ids(ticket), reason });
      return { outcome: 'void', reason };
    }
    const outcome = await d.printer.print(bytes, signal);
    if (outcome.ok) {
      markDone(ticket.ticketId);
      d.journal.record({ ticketId: ticket.ticketId, number: ticket.number, department: ticket.department, event: 'printed' });
      d.event('ticket.printed', { ...ids(ticket), bytes: outcome.bytes, ms: Math.round(outcome.ms), reprint: false });
      return { outcome: 'printed' };
    }
    hold(ticket, outcome.reason);
    return { outcome: 'held', reason: outcome.reason };
  }
}

export type TicketSpooler = ReturnType<typeof createTicketSpooler>;
