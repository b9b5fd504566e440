import test from 'ava';
import { Writable } from 'node:stream';
import { createLogger } from '../src/log/logger.js';

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

test('card fields and secrets never reach the log, at the top level or nested', (t) => {
  const { lines, log } = capture();
  log.child({ ns: 'card' }).info(
    { idNumber: '001099012345', card: { fullName: 'Nguyễn Thị Ánh Tuyết', dateOfBirth: '01011990', address: 'Hà Nội', last4: '2345' }, password: 'hunter2', mqtt: { token: 'abc' } },
    'card read',
  );
  const text = JSON.stringify(lines);
  for (const secret of ['001099012345', 'Nguyễn', 'Tuyết', '01011990', 'Hà Nội', 'hunter2', '"abc"']) t.false(text.includes(secret), secret);
  t.is((lines[0]!['card'] as Record<string, unknown>)['last4'], '2345');
  t.is(lines[0]!['ns'], 'card');
  t.is(lines[0]!['level'], 'info');
});
