import test from 'ava';
import { SimulatedClock } from 'xstate';
import pino from 'pino';
import { Framer } from '../src/hal/card/framer.js';
import { parseCccd, parseCccdBytes } from '../src/hal/card/parse.js';
import { createScanAssembler } from '../src/hal/card/reader.js';
import type { RejectionCode, ScanResult } from '../src/hal/card/types.js';

const today = { year: 2026, month: 11, day: 23 };
const CODES: ReadonlySet<RejectionCode> = new Set<RejectionCode>([
  'empty', 'too-long', 'control-characters', 'not-a-cccd-payload', 'wrong-field-count', 'bad-id-number', 'bad-province-code',
  'id-century-mismatch', 'id-year-mismatch', 'id-sex-mismatch', 'bad-old-id-number', 'missing-name', 'bad-name', 'bad-date-of-birth',
  'bad-sex', 'bad-issue-date',
]);

/** A small seeded PRNG, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ['Nguyễn', 'Trần', 'Lê', 'Phạm', 'Hoàng', 'Huỳnh', 'Võ', 'Đặng', 'Bùi', 'Đỗ', 'Thị', 'Văn', 'Ánh', 'Tuyết', 'Đức', 'Phượng', 'Ỷ', 'Ưng', 'Hữu', 'Ngọc', 'Diệp', 'Khuê', 'Ỹ', 'Quốc', 'Thuỷ', 'Ở', 'Ợ', 'Ự'];
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
      case 0: b[at] = Math.floor(r() * 256); break;
      case 1: b.splice(at, 0, Math.floor(r() * 256)); break;
      case 2: b.splice(at, 1 + Math.floor(r() * 8)); break;
      case 3: b.splice(at, 0, 0x7c); break; // an extra "|"
      case 4: b.splice(at, 0, 0x0d, 0x0a); break; // a terminator in the middle
      case 5: b.splice(at, 0, ...b.slice(0, Math.floor(r() * b.length))); break;
      case 6: b.length = at; break;
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
      if (!CODES.has(res.rejection.code) || res.rejection.message === '') t.fail(`rejection without a known reason: ${JSON.stringify(res.rejection)}`);
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
    const base = kind === 3 ? Uint8Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256)) : mutate(enc.encode(validPayload(r).text), r);
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

test('fuzz at the driver boundary: 20,000 random chunks through the scan assembler never throw and every frame yields one result', (t) => {
  const r = rng(7);
  const clock = new SimulatedClock();
  const results: ScanResult[] = [];
  const asm = createScanAssembler({ termination: 'any', idleGapMs: 100, duplicateWindowMs: 5000 }, { clock, log: pino({ level: 'silent' }), today: () => today }, (x) => results.push(x));
  const enc = new TextEncoder();
  for (let i = 0; i < 20_000; i++) {
    const chunk = i % 3 === 0 ? mutate(enc.encode(validPayload(r).text + '\r\n'), r) : Uint8Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256));
    asm.push(chunk);
    if (r() < 0.3) clock.increment(150); // idle gaps end unterminated scans
  }
  clock.increment(1000);
  t.true(results.length > 5000);
  for (const x of results) if (x.kind === 'rejected' && !CODES.has(x.rejection.code)) t.fail(x.rejection.code);
});
