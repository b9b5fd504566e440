import test from 'ava';
import { spawnSync } from 'node:child_process';
import { SAMPLE_IDENTITIES, cccdPayload } from '../../hw-sim/identities.js';
import { kioskdArgv } from '../../hw-sim/daemon.js';

/** kioskd as the tests run it: the build when up to date, else the source (hw-sim/daemon.ts). */
const KIOSKD = kioskdArgv();

const decode = (input: string | Buffer, ...args: string[]) =>
  spawnSync(process.execPath, [...KIOSKD, 'card', 'decode', ...args], { input, encoding: 'utf8' });
const p = SAMPLE_IDENTITIES[0]!;

test('card decode: the 7-field form, masked by default', (t) => {
  const r = decode(cccdPayload(p) + '\r\n');
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.like(out, { idNumber: '********0001', fullName: 'N. T. Á. T.', dateOfBirth: '1990-**-**', sex: 'female', form: '7-field' });
  for (const secret of [p.idNumber, p.fullName, p.dob, p.address, p.oldIdNumber]) t.false(r.stdout.includes(secret));
});

test('card decode --reveal shows every field', (t) => {
  const r = decode(cccdPayload(p), '--reveal');
  t.is(r.status, 0);
  t.like(JSON.parse(r.stdout), {
    idNumber: p.idNumber,
    fullName: p.fullName,
    dateOfBirth: '1990-01-01',
    address: p.address,
    issueDate: '2021-04-15',
  });
});

test('card decode handles each payload form a scanner sends', (t) => {
  const forms: Array<[string, string | Buffer]> = [
    ['6-field, dd/MM/yyyy', cccdPayload(p, '6-field') + '\n'],
    ['no terminator', cccdPayload(p)],
    ['CR only', cccdPayload(p) + '\r'],
    ['UTF-8 BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(cccdPayload(p) + '\r\n')])],
    ['empty old ID and address', `${p.idNumber}||${p.fullName}|${p.dob}|Nữ||${p.issued}\r\n`],
    ['year-only birth date', `${p.idNumber}||${p.fullName}|1990|Nữ|Hà Nội|${p.issued}\r\n`],
    ['extra trailing fields', cccdPayload(p) + '|01012046|x\r\n'],
    ['keyboard wedge: | typed as \\', cccdPayload(p).replaceAll('|', '\\') + '\r\n'],
  ];
  for (const [what, input] of forms) {
    const r = decode(input);
    t.is(r.status, 0, `${what}: ${r.stderr}`);
    t.is(JSON.parse(r.stdout).idNumber, '********0001', what);
  }
});

test('card decode: two scans in one input give two lines', (t) => {
  const r = decode(cccdPayload(p) + '\r\n' + cccdPayload(SAMPLE_IDENTITIES[1]!) + '\r\n');
  t.is(r.status, 0);
  t.deepEqual(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).idNumber),
    ['********0001', '********0002'],
  );
});

test('card decode rejects a tampered payload with a specific reason and exit 65', (t) => {
  const cases: Array<[string, RegExp]> = [
    [cccdPayload(p).replace('01011990', '01011991'), /rejected \(id-year-mismatch\)/],
    [cccdPayload(p).replace('Nữ', 'Nam'), /rejected \(id-sex-mismatch\)/],
    [cccdPayload(p).replace('01011990', '30021990'), /rejected \(bad-date-of-birth\)/],
    [cccdPayload(p).replace('001190900001', '097190900001'), /rejected \(bad-province-code\)/],
    ['hello', /rejected \(not-a-cccd-payload\)/],
    ['', /rejected \(empty\)/],
  ];
  for (const [input, reason] of cases) {
    const r = decode(input + '\n');
    t.is(r.status, 65, input);
    t.regex(r.stderr, reason);
    t.is(r.stdout, '');
    t.false(r.stderr.includes(p.idNumber));
  }
});
