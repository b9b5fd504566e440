import test from 'ava';
import { rng } from '../helpers/rng.js';
import { SimulatedClock } from 'xstate';
import pino from 'pino';
import { Framer } from '../../src/hal/card/framer.js';
import { parseCccd, parseCccdBytes } from '../../src/hal/card/parse.js';
import { createScanAssembler } from '../../src/hal/card/reader.js';
import type { RejectionCode, ScanResult } from '../../src/hal/card/types.js';

const today = { year: 2026, month: 11, day: 23 };
const CODES: ReadonlySet<RejectionCode> = new Set<RejectionCode>([
  'empty',
  'too-long',
  'control-characters',
  'not-a-cccd-payload',
  'wrong-field-count',
  'bad-id-number',
  'bad-province-code',
  'id-century-mismatch',
  'id-year-mismatch',
  'id-sex-mismatch',
  'bad-old-id-number',
  'missing-name',
  'bad-name',
  'bad-date-of-birth',
  'bad-sex',
  'bad-issue-date',
]);

const SYLLABLES = [
  'Nguyễn',
  'Trần',
  'Lê',
  'Phạm',
  'Hoàng',
  'Huỳnh',
  'Võ',
  'Đặng',
  'Bùi',
  'Đỗ',
  'Thị',
  'Văn',
  'Ánh',
  'Tuyết',
  'Đức',
  'Phượng',
  'Ỷ',
  'Ưng',
  'Hữu',
  'Ngọc',
  'Diệp',
  'Khuê',
  'Ỹ',
  'Quốc',
  'Thuỷ',
  'Ở',
  'Ợ',
  'Ự',
];
const pad = (n: number, w: number) => String(n).padStart(w, '0');

function validPayload(r: () => number): { text: string; id: string } {
  const int = (a: number, b: number) => a + Math.floor(r() * (b - a + 1));
  const year = int(1900, 2025);
  const month = int(1, 12);
  const day = int(1, new Date(Date.UTC(year, month, 0)).getUTCDate());
  const male = r() < 0.5;
  const centuryDigit = 2 * Math.floor((year - 1900) / 100) + (male ? 0 : 1);
  const id = `${pad(int(1, 96), 3)}${centuryDigit}${pad(year % 100, 2)}${pad(int(0, 999_999), 6)}`;
  const name = Array.from({ length: int(2, 5) }, () => SYLLABLES[int(0, SYLLABLES.length - 1)]).join(' ');
  const dob = `${pad(day, 2)}${pad(month, 2)}${year}`;
  const issueYear = int(Math.max(year + 1, 2016), 2026);
  const issue = issueYear === 2026 ? '01012026' : `15${pad(int(1, 12), 2)}${issueYear}`;
  const sex = male ? 'Nam' : 'Nữ';
  const address = `Số ${int(1, 999)} ${SYLLABLES[int(0, SYLLABLES.length - 1)]}, Hà Nội`;
  const slash = (d: string) => `${d.slice(0, 2)}/${d.slice(2, 4)}/${d.slice(4)}`;
  const text =
    r() < 0.7
      ? [id, r() < 0.5 ? pad(int(0, 999_999_999), 9) : '', name, r() < 0.05 ? String(year) : dob, sex, address, issue].join('|')
      : [id, name, slash(dob), sex, address, slash(issue)].join('|');
  return { text, id };
}

function mutate(bytes: Uint8Array, r: () => number): Uint8Array {
  const b = [...bytes];
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (b.length + 1));
    switch (Math.floor(r() * 7)) {
      case 0:
        b[at] = Math.floor(r() * 256);
        break;
      case 1:
        b.splice(at, 0, Math.floor(r() * 256));
        break;
      case 2:
        b.splice(at, 1 + Math.floor(r() * 8));
        break;
      case 3:
        b.splice(at, 0, 0x7c);
        break; // an extra "|"
      case 4:
        b.splice(at, 0, 0x0d, 0x0a);
        break; // a terminator in the middle
      case 5:
        b.splice(at, 0, ...b.slice(0, Math.floor(r() * b.length)));
        break;
      case 6:
        b.length = at;
        break;
    }
  }
  return Uint8Array.from(b);
}

test('fuzz: 100,000 generated and mutated payloads through the framer and the parser: each is parsed or rejected with a reason, none throws', (t) => {
  const r = rng(20261123);
  const enc = new TextEncoder();
  let parsed = 0;
  let rejected = 0;
  let validAccepted = 0;
  const started = performance.now();
  const framer = new Framer('any', 4096);
  const check = (bytes: Uint8Array): void => {
    const res = parseCccdBytes(bytes, { today });
    if (res.ok) parsed++;
    else {
      rejected++;
      if (!CODES.has(res.rejection.code) || res.rejection.message === '')
        t.fail(`rejection without a known reason: ${JSON.stringify(res.rejection)}`);
    }
  };
  for (let i = 0; i < 100_000; i++) {
    const kind = i % 4;
    if (kind === 0) {
      // Valid identities must be accepted exactly: a wrong rejection turns a patient away.
      const v = validPayload(r);
      const res = parseCccd(v.text, { today });
      if (!res.ok) t.fail(`valid payload rejected (${res.rejection.code}): ${v.text}`);
      else if (res.identity.idNumber !== v.id) t.fail('wrong id parsed');
      else validAccepted++;
      parsed++;
      continue;
    }
    const base =
      kind === 3 ? Uint8Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256)) : mutate(enc.encode(validPayload(r).text), r);
    // Through the framer in random chunks, as a serial port delivers them.
    let off = 0;
    while (off < base.length) {
      const len = 1 + Math.floor(r() * 64);
      for (const f of framer.push(base.subarray(off, off + len))) if (f.kind === 'frame') check(f.bytes);
      off += len;
    }
    for (const f of [...framer.push(Uint8Array.of(0x0d)), ...framer.idle()]) if (f.kind === 'frame') check(f.bytes);
  }
  const ms = performance.now() - started;
  t.log(`100,000 payloads in ${ms.toFixed(0)} ms: ${parsed} parsed (${validAccepted} valid ones all accepted), ${rejected} rejected with a reason`);
  t.is(validAccepted, 25_000);
  t.true(rejected > 50_000, 'mutations are mostly rejected');
});

test('fuzz at the driver boundary: 20,000 random chunks through the scan assembler never throw, and every rejection carries a known reason', (t) => {
  const r = rng(7);
  const clock = new SimulatedClock();
  const results: ScanResult[] = [];
  const asm = createScanAssembler(
    { termination: 'any', idleGapMs: 100, duplicateWindowMs: 5000 },
    { clock, log: pino({ level: 'silent' }), today: () => today },
  );
  asm.onScan((x) => void results.push(x));
  const enc = new TextEncoder();
  for (let i = 0; i < 20_000; i++) {
    const chunk =
      i % 3 === 0
        ? mutate(enc.encode(validPayload(r).text + '\r\n'), r)
        : Uint8Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256));
    asm.push(chunk);
    if (r() < 0.3) clock.increment(150); // idle gaps end unterminated scans
  }
  clock.increment(1000);
  t.true(results.length > 5000);
  for (const x of results) if (x.kind === 'rejected' && !CODES.has(x.rejection.code)) t.fail(x.rejection.code);
});

const TERMINATORS = { any: '\r\n', cr: '\r', lf: '\n', crlf: '\r\n', idle: '' } as const;

for (const termination of Object.keys(TERMINATORS) as Array<keyof typeof TERMINATORS>) {
  test(`framing ${termination}: valid scans in random chunks, between garbage and 8 KB floods, each come out as exactly that identity`, (t) => {
    const r = rng(termination.length * 977);
    const clock = new SimulatedClock();
    const results: ScanResult[] = [];
    const asm = createScanAssembler(
      { termination, idleGapMs: 100, duplicateWindowMs: 5000 },
      { clock, log: pino({ level: 'silent' }), today: () => today },
    );
    asm.onScan((x) => void results.push(x));
    const enc = new TextEncoder();
    const send = (bytes: Uint8Array): void => {
      for (let off = 0; off < bytes.length;) {
        const len = 1 + Math.floor(r() * 40);
        asm.push(bytes.subarray(off, off + len));
        off += len;
        clock.increment(Math.floor(r() * 20)); // bytes trickle, always well inside the idle gap
      }
      clock.increment(150); // the patient lifts the card: the gap ends an unterminated scan
    };
    const expected: string[] = [];
    for (let i = 0; i < 300; i++) {
      const v = validPayload(r);
      send(enc.encode(v.text + TERMINATORS[termination]));
      expected.push(`id:${v.id}`);
      if (i % 3 === 0) {
        send(enc.encode('x'.repeat(8192) + TERMINATORS[termination]));
        expected.push('rejected:too-long');
      } else if (i % 3 === 1) {
        send(Uint8Array.from({ length: 1 + Math.floor(r() * 100) }, () => 0x30 + Math.floor(r() * 10)));
        expected.push('rejected:*');
      }
    }
    const seen = results.map((x) => (x.kind === 'identity' ? `id:${x.identity.idNumber}` : `rejected:${x.rejection.code}`));
    t.is(seen.length, expected.length, 'one result per scan, no scan lost or split');
    for (let i = 0; i < expected.length; i++) {
      if (expected[i] === 'rejected:*' ? !seen[i]?.startsWith('rejected:') : seen[i] !== expected[i]) {
        t.fail(`scan ${i}: expected ${expected[i]}, got ${seen[i]}`);
        break;
      }
    }
  });
}

test('a duplicate within the window counts once, but only after the kiosk acted on the first scan', (t) => {
  const clock = new SimulatedClock();
  const got: number[] = [];
  let take = false;
  const asm = createScanAssembler(
    { termination: 'any', idleGapMs: 100, duplicateWindowMs: 5000 },
    { clock, log: pino({ level: 'silent' }), today: () => today },
  );
  asm.onScan((x) => {
    if (x.kind === 'identity' && x.identity.idNumber === v.id) got.push(clock.now());
    return take;
  });
  const v = validPayload(rng(5));
  const scan = () => asm.push(new TextEncoder().encode(v.text + '\r\n'));
  scan(); // kiosk busy: ignored
  clock.increment(1000);
  take = true;
  scan(); // the patient's second try is taken
  clock.increment(1000);
  scan(); // a third within the window: counted once
  clock.increment(4000);
  scan(); // card left under a continuous scanner: each repeat refreshes the window
  clock.increment(5000);
  scan(); // a new check-in
  // Delivered at 0 (ignored by the busy kiosk, so not remembered), 1000 (taken) and 11000:
  // a guard that remembered the ignored scan would have let 6000 through instead of 1000.
  t.deepEqual(got, [0, 1000, 11000]);
});

test('HID-POS end of scan ends the frame without a terminator or idle gap; reset drops half a scan', (t) => {
  const clock = new SimulatedClock();
  const got: string[] = [];
  const asm = createScanAssembler(
    { termination: 'cr', idleGapMs: 100, duplicateWindowMs: 0 },
    { clock, log: pino({ level: 'silent' }), today: () => today },
  );
  asm.onScan((x) => void got.push(x.kind === 'identity' ? x.identity.idNumber : x.rejection.code));
  const v = validPayload(rng(9));
  asm.push(new TextEncoder().encode(v.text), true);
  t.deepEqual(got, [v.id]);
  asm.push(new TextEncoder().encode(v.text.slice(0, 20)));
  asm.reset();
  clock.increment(1000);
  asm.push(new TextEncoder().encode(v.text + '\r'));
  t.deepEqual(got, [v.id, v.id]);
});

test('a listener that throws is logged and the scanner keeps delivering', (t) => {
  const clock = new SimulatedClock();
  const got: string[] = [];
  const asm = createScanAssembler(
    { termination: 'any', idleGapMs: 100, duplicateWindowMs: 0 },
    { clock, log: pino({ level: 'silent' }), today: () => today },
  );
  asm.onScan(() => {
    throw new Error('boom');
  });
  asm.onScan((x) => void got.push(x.kind));
  asm.push(new TextEncoder().encode('garbage\r\n'));
  asm.push(new TextEncoder().encode(validPayload(rng(3)).text + '\r\n'));
  t.deepEqual(got, ['rejected', 'identity']);
});
