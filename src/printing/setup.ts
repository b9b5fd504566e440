import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { TicketPrinter } from '../hal/ports.js';
import type { Ticket } from '../hal/printer/ticket.js';
import type { Clock } from '../util/clock.js';
import { createWorkerEncoder } from './encoder.js';
import { createJournal } from './journal.js';
import { createTicketSpooler, type SpoolerDeps } from './spooler.js';

/** Builds the ticket path (renderer, encoder, journal, spooler) from config; main.ts calls it. */
export async function createPrinting(
  config: Pick<Config, 'hal' | 'ticket' | 'kiosk'>,
  deps: { printer: TicketPrinter; clock: Clock; wallClock: () => Date; log: Logger; event: SpoolerDeps['event'] },
) {
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
    clock: deps.clock,
    wallClock: deps.wallClock,
    event: deps.event,
    reprintWithinMs: settings.reprintWithinSec * 1000,
  });
  return { spooler, journal, encode, encoder };
}

/**
 * The technician's test ticket: every Vietnamese letter shape a real ticket needs, no real patient,
 * and a TEST-… number no lane uses, between two "not valid" bars (see layoutTicket).
 */
export function sampleTicket(ticketId: string, number: string, issuedAt: Date): Ticket {
  return {
    ticketId,
    number,
    department: 'Khoa Khám bệnh',
    room: 'Phòng 105 – Tầng 1',
    priority: null,
    issuedAt,
    insurance: 'Có BHYT – đúng tuyến (phiếu in thử)',
    patientName: 'Nguyễn Thị Ánh Tuyết',
    idLast4: '0001',
    test: true,
  };
}

/** A test ticket's number: "TEST-" and four characters; no queue lane starts with TEST. */
export function testTicketNumber(ticketId: string): string {
  return `TEST-${ticketId
    .replace(/[^0-9a-z]/gi, '')
    .slice(-4)
    .toUpperCase()}`;
}
