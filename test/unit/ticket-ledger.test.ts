import test from 'ava';
import pino from 'pino';
import { SimulatedClock } from 'xstate';
import type { PortState, PrintOutcome } from '../../src/hal/ports.js';
import { eventData } from '../../src/mqtt/contract.js';
import type { JournalEntry } from '../../src/printing/journal.js';
import type { TicketFateEvent } from '../../src/printing/ledger.js';
import { createTicketSpooler } from '../../src/printing/spooler.js';
import type { Ticket } from '../../src/printing/ticket/ticket.js';
import { ticketEventToMqtt } from '../../src/reporting/ticket-events.js';
import { fakePrinterPort, testTicket } from '../helpers/tickets.js';

/** A printer whose answers the test gives in order; `encode` fails for tickets named "bad". */
function rig(answers: PrintOutcome[], o: { ledgerThrows?: boolean } = {}) {
  const clock = new SimulatedClock();
  const state: PortState = { kind: 'ready' } as PortState;
  const printer = fakePrinterPort(
    async () => answers.shift() ?? { ok: false, reason: 'no answer scripted' },
    () => state,
  );
  const journal: JournalEntry[] = [];
  const ledger: string[] = [];
  const events: TicketFateEvent[] = [];
  const logged: string[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line).msg) });
  const spooler = createTicketSpooler({
    printer,
    encode: (t) => {
      if (t.ticketId === 'bad') throw new TypeError(`cannot lay out ${t.patientName}`);
      return new Uint8Array(10);
    },
    journal: { path: 'memory', record: (e) => void journal.push(e), flush: async () => {} },
    ledger: {
      markPrinted: (id) => {
        if (o.ledgerThrows) throw new Error('SQLITE_FULL');
        ledger.push(`printed ${id}`);
      },
      markVoid: (id, reason) => void ledger.push(`void ${id}: ${reason}`),
    },
    onEvent: (e) => void events.push(e),
    clock,
    log,
    reprintWithinMs: 60_000,
  });
  return { clock, spooler, journal, ledger, events, logged };
}
const ticket = (id: string): Ticket => testTicket(id, 'kham-benh');
const signal = new AbortController().signal;
const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

test('a first print is journalled, marked printed in the ledger and announced, once each', async (t) => {
  const r = rig([{ ok: true, ms: 12.4, bytes: 10 }]);
  t.deepEqual(await r.spooler.submit(ticket('a'), signal), { outcome: 'printed' });
  t.deepEqual(
    r.journal.map((e) => e.event),
    ['issued', 'printed'],
  );
  t.deepEqual(r.ledger, ['printed a']);
  t.deepEqual(
    r.events.map((e) => e.type),
    ['issued', 'printed'],
  );
  t.deepEqual(r.events[1], { ticketId: 'a', number: 'A', department: 'kham-benh', type: 'printed', bytes: 10, ms: 12.4 });
});

test('held, then reprinted: the ledger is written when it prints, not when it is held', async (t) => {
  const r = rig([
    { ok: false, reason: 'paper-out' },
    { ok: true, ms: 5, bytes: 10 },
  ]);
  t.like(await r.spooler.submit(ticket('h'), signal), { outcome: 'held' });
  t.deepEqual(r.ledger, []);
  r.clock.increment(3000);
  r.spooler.printerChanged(signal);
  await settle();
  t.deepEqual(r.ledger, ['printed h']);
  t.deepEqual(
    r.journal.map((e) => [e.event, e.reason]),
    [
      ['issued', undefined],
      ['failed', 'paper-out'],
      ['reprinted', undefined],
    ],
  );
  t.like(r.events.at(-1), { type: 'reprinted', heldMs: 3000 });
});

test('a ticket that cannot be encoded, or is not reprinted in time, is void in the ledger with the reason', async (t) => {
  const r = rig([{ ok: false, reason: 'cover-open' }]);
  t.like(await r.spooler.submit(ticket('bad'), signal), { outcome: 'void' });
  await r.spooler.submit(ticket('late'), signal);
  r.spooler.printerChanged(signal); // the reprint fails too (no more answers): it stays held
  await settle();
  r.clock.increment(60_000);
  await settle();
  t.deepEqual(r.ledger, ['void bad: cannot encode the ticket (TypeError)', 'void late: not reprinted within 60 s']);
  t.false(JSON.stringify([r.journal, r.events]).includes('Nguyễn'), 'the encoder message (with the name) goes nowhere');
});

test('a test print writes nothing: no journal, no ledger, no event', async (t) => {
  const r = rig([{ ok: true, ms: 5, bytes: 10 }]);
  t.deepEqual(await r.spooler.printTest({ ...ticket('test-1'), test: true }, signal), { outcome: 'printed' });
  t.deepEqual([r.journal, r.ledger, r.events], [[], [], []]);
});

test('a ledger that fails is logged; the ticket still counts as printed and is announced', async (t) => {
  const r = rig([{ ok: true, ms: 5, bytes: 10 }], { ledgerThrows: true });
  t.deepEqual(await r.spooler.submit(ticket('a'), signal), { outcome: 'printed' });
  t.deepEqual(r.logged, ['a printed ticket could not be recorded']);
  t.like(r.events.at(-1), { type: 'printed' });
});

test('unknown tickets of a previous run go to the journal with the reason; the ledger is left to the store', (t) => {
  const r = rig([]);
  r.spooler.recordUnknown({ ticketId: 'u', number: 'A007', department: 'kham-benh' }, 'the kiosk restarted while it was printing');
  t.deepEqual(r.journal, [
    { ticketId: 'u', number: 'A007', department: 'kham-benh', event: 'unknown', reason: 'the kiosk restarted while it was printing' },
  ]);
  t.deepEqual(r.ledger, []);
  t.is(ticketEventToMqtt(r.events[0]!), null, 'no ticket event: one alert covers them at start');
});

test('the MQTT mapping gives the contract ticket events, with the same fields and values as before', (t) => {
  const ids = { ticketId: 't1', number: 'A001', department: 'kham-benh' };
  const wire = { ticket_id: 't1', number: 'A001', department: 'kham-benh' };
  const cases: Array<[TicketFateEvent, unknown]> = [
    [
      { ...ids, type: 'printed', bytes: 4711, ms: 12.6 },
      { kind: 'ticket.printed', data: { ...wire, bytes: 4711, ms: 13, reprint: false } },
    ],
    [
      { ...ids, type: 'held', reason: 'paper-out' },
      { kind: 'ticket.failed', data: { ...wire, reason: 'paper-out' } },
    ],
    [
      { ...ids, type: 'reprinted', heldMs: 7600 },
      { kind: 'ticket.reprinted', data: { ...wire, held_s: 8 } },
    ],
    [
      { ...ids, type: 'voided', reason: 'not reprinted within 900 s' },
      { kind: 'ticket.voided', data: { ...wire, reason: 'not reprinted within 900 s' } },
    ],
    [{ ...ids, type: 'issued' }, null],
    [{ ...ids, type: 'reprint-failed', reason: 'offline' }, null],
    [{ ...ids, type: 'unknown', reason: 'restarted' }, null],
  ];
  for (const [event, expected] of cases) {
    const m = ticketEventToMqtt(event);
    t.deepEqual(m, expected, event.type);
    if (m) t.notThrows(() => eventData[m.kind].strict().parse(m.data), `${m.kind} matches the contract exactly`);
  }
});
