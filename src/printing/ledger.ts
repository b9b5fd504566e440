import type { Logger } from '../log/logger.js';
import type { Journal, JournalEntry } from './journal.js';

/** What names a ticket in every record of its fate: never the patient's name or card. */
export interface TicketIds {
  readonly ticketId: string;
  readonly number: string;
  readonly department: string;
}

/** What became of a queue ticket, as the spooler saw it. */
export type TicketFate =
  /** On its way to the printer. */
  | { readonly type: 'issued' }
  /** Printed the first time: every byte left kioskd and the printer reported no fault. */
  | { readonly type: 'printed'; readonly bytes: number; readonly ms: number }
  /** Did not print: held in memory for a reprint. */
  | { readonly type: 'held'; readonly reason: string }
  /** A reprint attempt did not print: still held (journalled, not announced again). */
  | { readonly type: 'reprint-failed'; readonly reason: string }
  /** A held ticket printed as a reprint, `heldMs` after it was held. */
  | { readonly type: 'reprinted'; readonly heldMs: number }
  /** Known not to have printed (could not be encoded, not reprinted in time, the kiosk stopped). */
  | { readonly type: 'voided'; readonly reason: string }
  /** Allocated by a run that died: it may or may not be on paper (the store recorded it at start). */
  | { readonly type: 'unknown'; readonly reason: string };

/** The spooler's domain event: a ticket and its fate. reporting/ticket-events.ts maps it to MQTT. */
export type TicketFateEvent = TicketIds & TicketFate;

/** The ticket state the check-in audit keeps (the queue store); the spooler is its only writer. */
export interface TicketLedger {
  /** On paper: a first print, or a reprint (also of a ticket a crash left `unknown`). */
  markPrinted(ticketId: string): void;
  /** Known not to have printed. */
  markVoid(ticketId: string, reason: string): void;
}

export interface FateRecorderDeps {
  readonly journal: Journal;
  readonly ledger: TicketLedger;
  readonly log: Logger;
  readonly onEvent: (e: TicketFateEvent) => void;
}

export type RecordFate = (ticket: TicketIds, fate: TicketFate) => void;

/**
 * The one path a ticket's fate takes: the journal (tickets.jsonl), the audit's ticket state, and
 * the domain event, in that order. Only the ids are taken from the ticket, so its personal data
 * cannot reach any of them.
 */
export function createFateRecorder(d: FateRecorderDeps): RecordFate {
  return (ticket, fate) => {
    const ids: TicketIds = { ticketId: ticket.ticketId, number: ticket.number, department: ticket.department };
    d.journal.record(journalEntry(ids, fate));
    if (fate.type === 'printed' || fate.type === 'reprinted' || fate.type === 'voided') {
      // The patient holds the ticket (or not) whatever the database says: a failure here is logged, never a failed print.
      try {
        if (fate.type === 'voided') d.ledger.markVoid(ids.ticketId, fate.reason);
        else d.ledger.markPrinted(ids.ticketId);
      } catch (err) {
        d.log.error(
          { err: err instanceof Error ? err.message : String(err), ticket: ids.ticketId },
          fate.type === 'printed' ? 'a printed ticket could not be recorded' : 'the ticket state could not be recorded',
        );
      }
    }
    d.onEvent({ ...ids, ...fate });
  };
}

function journalEntry(ids: TicketIds, fate: TicketFate): JournalEntry {
  switch (fate.type) {
    case 'issued':
    case 'printed':
    case 'reprinted':
      return { ...ids, event: fate.type };
    case 'held':
      return { ...ids, event: 'failed', reason: fate.reason };
    case 'reprint-failed':
      return { ...ids, event: 'failed', reason: `reprint: ${fate.reason}` };
    case 'voided':
    case 'unknown':
      return { ...ids, event: fate.type, reason: fate.reason };
  }
}
