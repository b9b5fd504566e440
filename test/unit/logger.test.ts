import test from 'ava';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log/logger.js';
import { maskIdNumbers } from '../../src/log/mask.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, log: createLogger({ level: 'debug', pretty: 'never', destination }) };
}

const PERSONAL = ['001099012345', 'Nguyễn', 'Tuyết', '01011990', 'Hà Nội', 'hunter2', 'tok-abc'];

test('card fields and secrets never reach the log, however deeply nested', (t) => {
  const { lines, log } = capture();
  const card = { idNumber: '001099012345', fullName: 'Nguyễn Thị Ánh Tuyết', dateOfBirth: '01011990', address: 'Hà Nội', last4: '2345' };
  log
    .child({ ns: 'card' })
    .info(
      { card, session: { steps: [{ card }], deeper: { a: { b: { identity: card } } } }, password: 'hunter2', mqtt: { token: 'tok-abc' } },
      'card read',
    );
  const text = JSON.stringify(lines);
  for (const secret of PERSONAL) t.false(text.includes(secret), secret);
  t.is((lines[0]!['card'] as Record<string, unknown>)['last4'], '2345');
  t.is(lines[0]!['ns'], 'card');
  t.is(lines[0]!['level'], 'info');
});

test('ticket names, face photos and embeddings, and objects nested too deep to inspect never reach the log', (t) => {
  const { lines, log } = capture();
  let deep: Record<string, unknown> = { fullName: 'Nguyễn Thị Ánh Tuyết' };
  for (let i = 0; i < 12; i++) deep = { next: deep };
  log.info(
    {
      ticket: { number: 'A-001', patientName: 'Nguyễn Thị Ánh Tuyết' },
      probe: new Uint8Array([1, 2, 3]),
      descriptor: [0.12, 0.34],
      bytes: new Uint8Array(5000),
      deep,
    },
    'face check',
  );
  const text = JSON.stringify(lines);
  t.false(text.includes('Nguyễn'));
  t.false(text.includes('0.12'));
  t.true(text.includes('A-001'));
  t.true(text.includes('[5000 bytes]'), 'raw bytes are summarised, never dumped');
});

test('a CCCD number inside a message, a format argument or an error is cut to its last 4 digits', (t) => {
  const { lines, log } = capture();
  log.warn('bad scan %s', '001099012345|Nguyen');
  log.error({ err: new Error('parse failed at 079203001234') }, 'rejected 001099012345');
  const text = JSON.stringify(lines);
  t.false(text.includes('001099012345'));
  t.false(text.includes('079203001234'));
  t.true(text.includes('********2345'));
  t.true(text.includes('********1234'));
  t.true(typeof lines[0]!['time'] === 'number', 'timestamps (13 digits) are left alone');
});

test('masking leaves other numbers alone', (t) => {
  t.is(maskIdNumbers('time 1795425328635 port 1883 id 001099012345.'), 'time 1795425328635 port 1883 id ********2345.');
  // A UUID whose last group happens to be all digits is an id, not a card number.
  t.is(maskIdNumbers('session 3dadd8f3-571f-440b-91c7-123456786208'), 'session 3dadd8f3-571f-440b-91c7-123456786208');
  t.is(
    maskIdNumbers('card 079123456789 session 3dadd8f3-571f-440b-91c7-0791234567ab'),
    'card ********6789 session 3dadd8f3-571f-440b-91c7-0791234567ab',
  );
});
