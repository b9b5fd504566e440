import type { PortState, TicketPrinter } from '../../src/hal/ports.js';
import type { Ticket } from '../../src/printing/ticket/ticket.js';

/** A queue ticket for spooler and ledger tests: a made-up patient, `id` as its id and (upper-cased) number. */
export const testTicket = (id: string, department = 'Khoa Khám bệnh'): Ticket => ({
  ticketId: id,
  number: id.toUpperCase(),
  department,
  room: null,
  priority: null,
  issuedAt: new Date(0),
  insurance: 'Có BHYT',
  patientName: 'Nguyễn Văn A',
  idLast4: '0001',
});

/** An in-process printer port, always ready, that prints with `print` (the test decides the outcome). */
export function fakePrinterPort(print: TicketPrinter['print'], state: () => PortState = () => ({ kind: 'ready' })): TicketPrinter {
  return {
    id: 'printer',
    driver: 'fake',
    open: async () => {},
    close: async () => {},
    state,
    status: () => null,
    onStateChange: () => () => {},
    print,
  };
}
