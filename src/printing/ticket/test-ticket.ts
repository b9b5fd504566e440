import type { Ticket } from './ticket.js';
import { SAMPLE_TICKET_WORDS, SELFTEST_TICKET_WORDS } from './wording.js';

/**
 * The technician's test ticket: every Vietnamese letter shape a real ticket needs, no real patient,
 * and a TEST-… number no lane uses, between two "not valid" bars (see layoutTicket).
 */
export function sampleTicket(ticketId: string, number: string, issuedAt: Date): Ticket {
  return {
    ticketId,
    number,
    department: SAMPLE_TICKET_WORDS.department,
    room: SAMPLE_TICKET_WORDS.room,
    priority: null,
    issuedAt,
    insurance: SAMPLE_TICKET_WORDS.insurance,
    patientName: SAMPLE_TICKET_WORDS.patientName,
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

/** What `kioskd selftest` prints: says what it is, when and which kiosk; no patient, no queue number. */
export function selftestTicket(deviceId: string, at: Date): Ticket {
  return {
    ticketId: `selftest-${deviceId}`.slice(0, 64),
    number: 'TEST',
    department: SELFTEST_TICKET_WORDS.department,
    room: 'self-test',
    priority: null,
    issuedAt: at,
    insurance: SELFTEST_TICKET_WORDS.insurance,
    patientName: null,
    idLast4: null,
    notes: [SELFTEST_TICKET_WORDS.kiosk(deviceId), SELFTEST_TICKET_WORDS.notANumber],
  };
}
