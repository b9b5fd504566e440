import type { Clock } from '../util/clock.js';
import type { RecordFate } from './ledger.js';
import type { Ticket } from './ticket/ticket.js';

export interface Held {
  readonly ticket: Ticket;
  readonly heldAt: number;
  readonly expiry: unknown;
}

export interface HeldTicketsDeps {
  readonly clock: Clock;
  readonly reprintWithinMs: number;
  readonly record: RecordFate;
  /** The last held ticket was voided: an outage that ended in voids must not leave the reprint backoff high. */
  readonly emptied: () => void;
}

/**
 * The tickets waiting for a reprint (in memory only: they carry the patient's name), each voided
 * when its window ends, and the tickets already printed, which are never held or printed again.
 */
export function createHeldTickets(d: HeldTicketsDeps) {
  const held = new Map<string, Held>();
  /** Tickets that printed (first time or as a reprint), with when. */
  const done = new Map<string, number>();
  const lateReason = `not reprinted within ${Math.round(d.reprintWithinMs / 1000)} s`;
  const expireIn = (id: string, ms: number): unknown => d.clock.setTimeout(() => voidTicket(id, lateReason), ms);

  function voidTicket(id: string, reason: string): void {
    const h = held.get(id);
    if (!h) return;
    held.delete(id);
    d.clock.clearTimeout(h.expiry);
    d.record(h.ticket, { type: 'voided', reason });
    if (held.size === 0) d.emptied();
  }

  return {
    get size(): number {
      return held.size;
    },
    has: (id: string): boolean => held.has(id),
    isDone: (id: string): boolean => done.has(id),
    entries: (): Array<[string, Held]> => [...held],
    list: (): Array<{ ticketId: string; number: string }> =>
      [...held.values()].map((h) => ({ ticketId: h.ticket.ticketId, number: h.ticket.number })),
    /** Holds a ticket that did not print, unless it is held already or has printed since. */
    add(ticket: Ticket): boolean {
      if (held.has(ticket.ticketId) || done.has(ticket.ticketId)) return false;
      held.set(ticket.ticketId, { ticket, heldAt: d.clock.now(), expiry: expireIn(ticket.ticketId, d.reprintWithinMs) });
      return true;
    },
    void: voidTicket,
    voidAll(reason: string): void {
      for (const id of [...held.keys()]) voidTicket(id, reason);
    },
    /** While it is on the printer it must not be voided under it: the expiry waits. */
    pauseExpiry(id: string): void {
      const h = held.get(id);
      if (h) d.clock.clearTimeout(h.expiry);
    },
    /** After a reprint that did not print: the rest of its window, or void now if none is left. False when voided. */
    resumeExpiry(id: string): boolean {
      const h = held.get(id);
      if (!h) return false;
      const left = d.reprintWithinMs - (d.clock.now() - h.heldAt);
      if (left <= 0) {
        voidTicket(id, lateReason);
        return false;
      }
      held.set(id, { ...h, expiry: expireIn(id, left) });
      return true;
    },
    /** Printed (first time or reprinted): never held or sent again. */
    markDone(id: string): void {
      held.delete(id);
      const now = d.clock.now();
      // Only as long as a ticket could still be held: the map stays small.
      for (const [k, at] of done) if (now - at > d.reprintWithinMs) done.delete(k);
      done.set(id, now);
    },
  };
}

export type HeldTickets = ReturnType<typeof createHeldTickets>;
