import type { Config } from '../config/schema.js';
import type { TicketPrinter } from '../hal/ports.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';
import { createWorkerEncoder, type TicketEncoder } from './encoder.js';
import { createJournal, type Journal } from './journal.js';
import { createTicketSpooler, type SpoolerDeps, type TicketSpooler } from './spooler.js';
import type { Ticket } from './ticket/ticket.js';

export interface PrintingDeps {
  readonly printer: TicketPrinter;
  readonly clock: Clock;
  readonly wallClock: () => Date;
  readonly log: Logger;
  /** The audit's ticket state; the spooler is its only writer. */
  readonly ledger: SpoolerDeps['ledger'];
  /** The spooler's domain events (reporting/ticket-events.ts maps them to MQTT). */
  readonly onEvent: SpoolerDeps['onEvent'];
}

export interface Printing {
  readonly spooler: TicketSpooler;
  readonly journal: Journal & { pending(): number };
  readonly encode: (t: Ticket) => Promise<Uint8Array>;
  readonly encoder: TicketEncoder;
}

/** Builds the ticket path (renderer, encoder, journal, spooler) from config; the daemon's wiring calls it. */
export async function createPrinting(config: Pick<Config, 'hal' | 'ticket' | 'kiosk'>, deps: PrintingDeps): Promise<Printing> {
  const p = config.hal.printer;
  const settings = p.driver === 'none' ? { model: 'epson-tm-t20iii', paperMm: 80 as const, text: 'raster' as const, reprintWithinSec: 900 } : p;
  const template = { ...config.ticket, paperMm: settings.paperMm };
  const encoder = createWorkerEncoder(template, { model: settings.model, paperMm: settings.paperMm, text: settings.text }, deps.log);
  const encode = (t: Ticket): Promise<Uint8Array> => encoder.encode(t);
  const journal = createJournal(config.kiosk.stateDir, deps.wallClock, deps.log);
  const spooler = createTicketSpooler({
    printer: deps.printer,
    encode,
    journal,
    ledger: deps.ledger,
    onEvent: deps.onEvent,
    clock: deps.clock,
    log: deps.log,
    reprintWithinMs: settings.reprintWithinSec * 1000,
  });
  return { spooler, journal, encode, encoder };
}
