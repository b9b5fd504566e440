/** Events: kiosk/<id>/event/<kind>, each {id, ts, data}. Not retained. */
import { z } from 'zod';
import { CHIP_COUNTER_CODES, CHIP_FALLBACK_CODES } from '../../chip/card-verdict.js';
import { kioskMode, mapValues, maskedCard, outcome, portId, sessionId, step } from './shared.js';

const alert = z
  .object({
    level: z.enum(['warning', 'error', 'critical']),
    code: z.string().describe('Machine-readable, e.g. printer.paper-out, faceid.unavailable, mqtt.events_dropped, daemon.crashed.'),
    message: z.string().describe('One line for a technician; no personal data.'),
    port: z.exactOptional(portId),
    count: z.exactOptional(z.number().int()).describe('For mqtt.events_dropped: how many.'),
  })
  .describe('Something needs a person: a device faulted or degraded, face verification unavailable, events lost while offline, a crash.');

const lifecycle = z
  .object({
    phase: z.enum(['started', 'stopping']),
    reason: z.exactOptional(z.string()).describe('Why it is stopping, e.g. the signal.'),
  })
  .describe('The daemon finished starting, or began to stop.');

const cardRead = z
  .object({
    card: maskedCard,
    form: z.string().describe('Which payload form the scanner sent: 7-field or 6-field.'),
    repairs: z.array(z.string()).describe('Repairs made to keyboard-wedge damage, e.g. backslash-separators.'),
    session_id: sessionId.nullable().describe('The session it started, or null when the kiosk was not idle.'),
    mode: kioskMode,
  })
  .describe('A card was read and parsed. Only the masked card number; no other card data.');

const cardRejected = z
  .object({
    code: z.string().describe('Why, e.g. not-a-cccd-payload, wrong-field-count, bad-id-number.'),
    message: z.string().describe('One line for a technician; never quotes the payload.'),
    bytes: z.number().int().describe('Size of what was scanned.'),
    fields: z.number().int().describe('Number of |-separated fields.'),
    card_last4: z
      .string()
      .regex(/^\d{4}$/)
      .nullable()
      .describe('Last 4 digits of a 12-digit first field, if there is one.'),
  })
  .describe('A scan that is not a valid CCCD, with the reason: only sizes and the last 4 digits.');

const checkinStarted = z
  .object({
    session_id: sessionId,
    card: maskedCard,
    priority: z.boolean().describe('Priority lane (aged 75 and over, or under 6).'),
  })
  .describe('A card started a check-in.');

export const checkinEnd = z
  .object({
    session_id: sessionId,
    outcome,
    reason: z.string().nullable().describe('Why, for technicians; no personal data.'),
    ticket: z.enum(['queue', 'counter']).nullable().describe('Which ticket was given, null for none.'),
    number: z.string().nullable().describe('The queue number, e.g. A001.'),
    ticket_printed: z.boolean().describe('The ticket came out of the printer (false: it is held for a reprint, or none was given).'),
    department: z.string().describe('Department id, or counter.'),
    face_verified: z.boolean(),
    attempts: z.number().int().describe('Face capture attempts.'),
    bhyt_code: z.string().nullable().describe("The BHYT gateway's result code (maKetQua), e.g. 000."),
    bhyt: z
      .enum(['checked', 'unchecked', 'skipped', 'not-asked'])
      .describe('unchecked: the gateway could not be asked; the lookup is made later (event checkin.reconciled).'),
    steps_ms: z.record(z.string(), z.number()).describe('Milliseconds per step (summed over attempts).'),
    total_ms: z.number().describe('Milliseconds in all.'),
  })
  .describe('How a check-in ended: completed (a queue ticket printed) or failed (any other end).');

const checkinReconciled = z
  .object({
    session_id: sessionId,
    number: z.string().nullable(),
    bhyt_code: z.string(),
    route: z.enum(['proceed', 'counter']).describe('What the answer would have meant at check-in.'),
    reason: z.string(),
  })
  .describe('A BHYT lookup that could not be made at check-in was made later.');

const chipProgress = z
  .object({
    session_id: sessionId,
    step: z
      .enum(['waiting-card', 'reading', 'retry'])
      .describe(
        'waiting-card: no card on the reader yet, ask the patient to place it ("Đặt thẻ lên đầu đọc"); reading: the chip is being read; retry: the card was pulled away mid-read, ask to hold it still ("Giữ yên thẻ").',
      ),
    attempt: z.number().int().min(1).describe('Which read this is, from 1.'),
  })
  .describe("The chip read of a check-in moved on: what the kiosk's screen should ask of the patient. No card data.");

const chipPa = z
  .enum(['unverified', 'hashes-ok', 'chain-ok', 'failed'])
  .describe(
    "Passive authentication: unverified (nothing could be checked), hashes-ok (the groups match the chip's signed hashes; the signer is not anchored), chain-ok (and the signer is issued by a configured trust anchor), failed (a hash differs or the signature is bad).",
  );

const chipRead = z
  .object({
    session_id: sessionId,
    protocol: z
      .enum(['pace', 'bac', 'vendor'])
      .describe(
        "How the chip was opened: pace or bac by the kiosk; vendor: the reader's own service read it (HN-212), the kiosk checked its groups.",
      ),
    pa: chipPa.exclude(['failed']),
    groups: z.array(z.string()).describe('Files the chip gave, e.g. CardAccess, COM, DG1, DG2, DG13, DG14, SOD.'),
    ms: z.number().describe('From the QR scan to the outcome, waiting for the card included.'),
    apdus: z.number().int().describe('Commands sent to the chip.'),
    attempts: z.number().int().min(1).describe('Reads it took (more than 1: the card was pulled away).'),
  })
  .describe("The chip was read and its portrait is the face reference: its number is the QR's. No card data.");

const chipFailed = z
  .object({
    session_id: sessionId,
    code: z
      .enum([...CHIP_FALLBACK_CODES.filter((c) => c !== 'cancelled'), ...CHIP_COUNTER_CODES])
      .describe(
        "Why: reader-not-ready (no pcscd, no reader, no binding), no-card (none placed in time), unsupported (no PACE and no BAC key), timeout, read-failed, unreadable (a group the kiosk cannot use), jpeg2000 (no decoder); and, sending the patient to the counter: wrong-can (the chip refused the QR's number), number-mismatch (another card), pa-failed (signature checks failed), card-removed (pulled away after the retries).",
      ),
    reason: z.string().describe('One line for a technician: groups, status words, at most the last 4 digits of a number.'),
    counter: z.boolean().describe('true: the patient is sent to the counter; false: the next portrait source is tried.'),
    pa: chipPa.nullable().describe('Passive authentication, when the chip was read.'),
  })
  .describe('The chip gave no usable portrait. No card data.');

const helpRequested = z.object({ mode: kioskMode, step, session_id: sessionId.nullable() }).describe('The patient pressed the help button.');

export const ticketFields = {
  ticket_id: z.string().describe('The ticket (the check-in session id, or test-… for a test print).'),
  number: z.string().describe('The queue number, e.g. A001.'),
  department: z.string().describe('Department id, or counter.'),
};

const ticketPrinted = z
  .object({
    ...ticketFields,
    bytes: z.number().int().describe('Bytes sent to the printer.'),
    ms: z.number().describe('Print time.'),
    reprint: z.boolean(),
  })
  .describe('The printer took the whole ticket and still had paper afterwards.');

const ticketFailed = z
  .object({ ...ticketFields, reason: z.string() })
  .describe('The ticket did not print: the number is held for a reprint when the printer recovers.');

const ticketReprinted = z
  .object({ ...ticketFields, held_s: z.number().describe('Seconds it was held.') })
  .describe('A held ticket was printed after the printer recovered.');

const ticketVoided = z
  .object({ ...ticketFields, reason: z.string() })
  .describe('A held ticket was not reprinted in time (or the daemon stopped): the number is void.');

/** The `data` of each event kind. */
export const eventData = {
  alert,
  lifecycle,
  'card.read': cardRead,
  'card.rejected': cardRejected,
  'checkin.started': checkinStarted,
  'checkin.completed': checkinEnd,
  'checkin.failed': checkinEnd,
  'checkin.reconciled': checkinReconciled,
  'help.requested': helpRequested,
  'chip.progress': chipProgress,
  'chip.read': chipRead,
  'chip.failed': chipFailed,
  'ticket.printed': ticketPrinted,
  'ticket.failed': ticketFailed,
  'ticket.reprinted': ticketReprinted,
  'ticket.voided': ticketVoided,
};

export type EventKind = keyof typeof eventData;

export function envelope<T extends z.ZodType>(data: T, kind: string) {
  return z
    .object({
      id: z.uuid().describe('Unique per event: a monitor that sees it twice (QoS 1) can drop the repeat.'),
      ts: z.iso.datetime().describe('When it happened (ISO 8601, UTC).'),
      data,
    })
    .describe(`Event ${kind}, in the envelope every event has.`);
}

/** The whole payload of each event kind: its data in the envelope. */
export const eventPayloads = mapValues(eventData, (data, kind): z.ZodType => envelope(data, kind));
