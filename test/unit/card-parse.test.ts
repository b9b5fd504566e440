import test from 'ava';
import { parseCccd, parseCccdBytes, decodeScannerBytes } from '../../src/hal/card/parse.js';
import { Framer, DuplicateGuard } from '../../src/hal/card/framer.js';
import { initials, maskId } from '../../src/log/mask.js';

const today = { year: 2026, month: 11, day: 23 };
const opts = { today };
// Synthetic identities (fake numbers).
const SEVEN = '001190000001|123456789|Nguyễn Thị Ánh Tuyết|01011990|Nữ|Số 1 Phố Huế, Hà Nội|15042021';
const SIX = '079085000123|Trần Văn Đức|07/03/1985|Nam|12/3 Lê Lợi, Quận 1, TP Hồ Chí Minh|20/06/2022';

const ok = (text: string) => {
  const r = parseCccd(text, opts);
  if (!r.ok) throw new Error(`expected a parse, got ${r.rejection.code}: ${r.rejection.message}`);
  return r.identity;
};
const code = (text: string) => {
  const r = parseCccd(text, opts);
  return r.ok ? 'ok' : r.rejection.code;
};

test('the 7-field chip-card form parses into a typed identity', (t) => {
  t.deepEqual(ok(SEVEN), {
    idNumber: '001190000001',
    oldIdNumber: '123456789',
    fullName: 'Nguyễn Thị Ánh Tuyết',
    dateOfBirth: '1990-01-01',
    sex: 'female',
    address: 'Số 1 Phố Huế, Hà Nội',
    issueDate: '2021-04-15',
    form: '7-field',
    repairs: [],
  });
});

test('the 6-field form with dd/MM/yyyy dates parses too', (t) => {
  const id = ok(SIX);
  t.like(id, {
    idNumber: '079085000123',
    oldIdNumber: null,
    fullName: 'Trần Văn Đức',
    dateOfBirth: '1985-03-07',
    sex: 'male',
    issueDate: '2022-06-20',
    form: '6-field',
  });
  t.is(id.address, '12/3 Lê Lợi, Quận 1, TP Hồ Chí Minh');
});

test('empty optional fields, extra trailing fields, a year-only birth date, and a BOM are accepted', (t) => {
  t.like(ok('001190000001||Nguyễn Thị Ánh Tuyết|01011990|Nữ||'), { oldIdNumber: null, address: null, issueDate: null });
  t.like(ok(`${SEVEN}|15042046|extra`), { issueDate: '2021-04-15' });
  t.like(ok('001190000001|123456789|Nguyễn Thị Ánh Tuyết|1990|Nữ|Hà Nội|15042021'), { dateOfBirth: '1990' });
  t.like(ok('\uFEFF' + SEVEN + '\r\n'), { idNumber: '001190000001' });
  t.like(ok(SEVEN.replace('Nữ', 'NU')), { sex: 'female' });
  const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(SEVEN)]);
  const r = parseCccdBytes(bytes, opts);
  t.true(r.ok);
});

test('a decomposed (NFD) name from some scanners is normalised', (t) => {
  t.is(ok(SEVEN.normalize('NFD')).fullName, 'Nguyễn Thị Ánh Tuyết'.normalize('NFC'));
});

test('structure of the number is checked against the birth date and sex', (t) => {
  t.is(code(SEVEN.replace('001190000001', '001290000001')), 'id-century-mismatch'); // 21st-century digit, born 1990
  t.is(code(SEVEN.replace('001190000001', '001191000001')), 'id-year-mismatch');
  t.is(code(SEVEN.replace('001190000001', '001090000001')), 'id-sex-mismatch'); // male digit, "Nữ"
  t.is(code(SEVEN.replace('001190000001', '099190000001')), 'bad-province-code');
  t.is(code(SEVEN.replace('001190000001', '000190000001')), 'bad-province-code');
  t.is(code(SEVEN.replace('001190000001', '00119000001')), 'bad-id-number');
  t.is(code('001390000001|123456789|Lê Minh An|01012090|Nữ|Huế|01012025'), 'bad-date-of-birth'); // in the future
  t.is(ok('001204000002||Lê Minh An|29022004|Nam|Huế|').dateOfBirth, '2004-02-29');
});

test('dates are checked for reality', (t) => {
  t.is(code(SEVEN.replace('01011990', '31021990')), 'bad-date-of-birth');
  t.is(code(SEVEN.replace('01011990', '01131990')), 'bad-date-of-birth');
  t.is(code(SEVEN.replace('15042021', '30022021')), 'bad-issue-date');
  t.is(code(SEVEN.replace('15042021', '15042031')), 'bad-issue-date');
  t.is(code(SEVEN.replace('15042021', '15041980')), 'bad-issue-date');
});

test('garbage, control characters and oversize payloads are rejected with a reason', (t) => {
  t.is(code(''), 'empty');
  t.is(code('   '), 'empty');
  t.is(code('hello world'), 'not-a-cccd-payload');
  t.is(code('https://example.test/qr'), 'not-a-cccd-payload');
  t.is(code('001190000001|Nguyễn'), 'wrong-field-count');
  t.is(code(SEVEN.replace('Nguyễn', 'Ngu\u0007yễn')), 'control-characters');
  t.is(code(SEVEN.replace('Nguyễn', 'Ngu\u001b[2Jyễn')), 'control-characters');
  t.is(code(SEVEN.replace('Nữ', 'X')), 'bad-sex');
  t.is(code(SEVEN.replace('Nguyễn Thị Ánh Tuyết', 'Nguyen <script>')), 'bad-name');
  t.is(code(SEVEN.replace('Nguyễn Thị Ánh Tuyết', '')), 'missing-name');
  t.is(code(SEVEN.replace('123456789', '12345')), 'bad-old-id-number');
  const big = parseCccdBytes(new Uint8Array(5000).fill(0x41), opts);
  t.false(big.ok);
  t.is(!big.ok && big.rejection.code, 'too-long');
});

test('rejection messages never repeat the personal data they reject', (t) => {
  const bad = [
    SEVEN.replace('Nữ', 'X'),
    SEVEN.replace('001190000001', '001191000001'),
    SEVEN.replace('01011990', '31021990'),
    SEVEN.replace('001190000001', '099190000001'),
    SEVEN.replace('001190000001', '001180000001'),
    SEVEN.replace('001190000001', '001290000001'),
    SEVEN.replace('123456789', '12345'),
    SEVEN.replace('15042021', '15042031'),
    SEVEN.replace('Nguyễn', 'Nguyễn<b>'),
  ];
  for (const payload of bad) {
    const r = parseCccd(payload, opts);
    t.false(r.ok);
    // No run of 3+ digits at all: even a province code narrows down who a patient is.
    if (!r.ok) {
      t.notRegex(r.rejection.message, /\d{3,}/, r.rejection.code);
      for (const part of ['Nguyễn', 'Phố Huế']) t.false(r.rejection.message.includes(part), part);
    }
  }
});

test('keyboard-wedge damage from Vietnamese input methods is repaired where it is safe', (t) => {
  const backslash = ok(SEVEN.replaceAll('|', '\\'));
  t.is(backslash.idNumber, '001190000001');
  t.deepEqual(backslash.repairs, ['backslash-separators']);
  t.deepEqual(ok(SEVEN.replaceAll('|', '¦')).repairs, ['broken-bar-separators']);
  const d0 = ok(SEVEN.replace('001190000001', 'đđ11900đđđđ1').replace('01011990', 'đ1đ1199đ'));
  t.is(d0.idNumber, '001190000001');
  t.is(d0.dateOfBirth, '1990-01-01');
  t.deepEqual(d0.repairs, ['d-for-0']);
  // Not repaired: a payload mixing | and \ is left alone (the \ may be part of an address).
  t.is(ok(SEVEN.replace('Số 1', 'Số 1\\2')).address, 'Số 1\\2 Phố Huế, Hà Nội');
});

test('names with a no-break space or a typographic apostrophe, and scanner wrappers (STX/ETX, Tab suffix), are accepted', (t) => {
  t.is(ok(SEVEN.replace('Thị Ánh', 'Thị\u00a0Ánh')).fullName, 'Nguyễn Thị Ánh Tuyết');
  t.is(ok(SEVEN.replace('Nguyễn Thị Ánh Tuyết', 'H’Hen Niê')).fullName, 'H’Hen Niê');
  t.is(ok(SEVEN.replace('Nguyễn Thị Ánh Tuyết', "K'Sor H'Bia")).fullName, "K'Sor H'Bia");
  t.is(ok(`\u0002${SEVEN}\u0003`).idNumber, '001190000001');
  t.is(ok(`${SEVEN}\t`).idNumber, '001190000001');
  t.is(ok(`${SEVEN}\u0003\r\n`).idNumber, '001190000001');
  // A control byte inside the payload is still refused.
  t.is(code(SEVEN.replace('|Nữ|', '|N\u0003ữ|')), 'control-characters');
});

test('Windows-1252 bytes from a misconfigured scanner decode instead of failing', (t) => {
  t.is(decodeScannerBytes(new Uint8Array([0x41, 0xe9, 0x42])), 'AéB');
});

test('masking helpers', (t) => {
  t.is(maskId('001190000001'), '********0001');
  t.is(initials('Nguyễn Thị Ánh Tuyết'), 'N. T. Á. T.');
});

const enc = (s: string) => new TextEncoder().encode(s);
const frames = (f: Framer, ...chunks: string[]) =>
  chunks.flatMap((c) => f.push(enc(c))).map((e) => (e.kind === 'frame' ? new TextDecoder().decode(e.bytes) : `overflow:${e.bytes}`));

test('framing by CR, LF, CRLF, or any of them', (t) => {
  t.deepEqual(frames(new Framer('any', 4096), 'a\r', 'b\n', 'c\r\n', 'd'), ['a', 'b', 'c']);
  t.deepEqual(frames(new Framer('crlf', 4096), 'a\rb\r\n', 'c\r', '\n'), ['a\rb', 'c']);
  t.deepEqual(frames(new Framer('cr', 4096), 'a\r\nb\r'), ['a', 'b']);
  t.deepEqual(frames(new Framer('lf', 4096), 'a\r\nb\n'), ['a', 'b']);
});

test('bytes split anywhere, even inside a UTF-8 character, reassemble into one scan', (t) => {
  const f = new Framer('any', 4096);
  const bytes = enc(SEVEN + '\r\n');
  const out = [];
  for (const b of bytes) out.push(...f.push(Uint8Array.of(b)));
  t.is(out.length, 1);
  t.is(out[0]!.kind === 'frame' && new TextDecoder().decode(out[0]!.bytes), SEVEN);
});

test('no terminator: the idle gap ends the scan', (t) => {
  const f = new Framer('idle', 4096);
  t.deepEqual(frames(f, SEVEN), []);
  t.is(f.pending(), enc(SEVEN).length);
  const out = f.idle();
  t.is(out.length, 1);
  t.deepEqual(f.idle(), []);
});

test('an 8 KB line is reported once as an overflow, and the next scan still works', (t) => {
  const f = new Framer('any', 4096);
  t.deepEqual(frames(f, 'x'.repeat(8192) + '\r\n', SEVEN + '\r\n'), ['overflow:8192', SEVEN]);
  t.true(f.pending() === 0);
});

test('the same card within the window counts once, and a repeat extends the window', (t) => {
  const g = new DuplicateGuard(5000);
  t.false(g.repeats('A', 0));
  g.record('A', 0);
  t.true(g.repeats('A', 4999));
  t.false(g.repeats('B', 4999));
  t.true(g.repeats('A', 9998));
  t.false(g.repeats('A', 14998));
});

for (const termination of ['crlf', 'idle', 'cr', 'lf'] as const) {
  test(`framing ${termination}: after an 8 KB line the next scan still works`, (t) => {
    const f = new Framer(termination, 4096);
    const end = { crlf: '\r\n', idle: '', cr: '\r', lf: '\n' }[termination];
    const out = frames(f, 'x'.repeat(8192) + end);
    if (termination === 'idle') {
      t.true(f.pending() > 0, 'a discarded flood still counts as pending, so the idle gap ends it');
      out.push(...f.idle().map((e) => (e.kind === 'frame' ? new TextDecoder().decode(e.bytes) : `overflow:${e.bytes}`)));
    }
    t.deepEqual(out, ['overflow:8192']);
    t.deepEqual(
      frames(f, SEVEN + end).concat(
        termination === 'idle' ? f.idle().map((e) => (e.kind === 'frame' ? new TextDecoder().decode(e.bytes) : 'overflow')) : [],
      ),
      [SEVEN],
    );
  });
}

test("every hw-sim sample identity parses in both forms (the simulator's cards are valid cards)", async (t) => {
  const { SAMPLE_IDENTITIES, cccdPayload } = await import('../../hw-sim/identities.js');
  for (const p of SAMPLE_IDENTITIES) {
    for (const form of ['7-field', '6-field'] as const) {
      const r = parseCccd(cccdPayload(p, form), opts);
      t.true(r.ok, `${p.idNumber.slice(-4)} ${form}: ${r.ok ? '' : r.rejection.code}`);
      if (r.ok) t.is(r.identity.fullName, p.fullName);
    }
  }
});
