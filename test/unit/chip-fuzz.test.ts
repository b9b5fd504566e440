// 10,000 damaged chip files through every parser, from a seeded generator (the card's keys are
// new each run, so a failure prints the input itself, in hex): bit flips, truncations, lengths set
// huge or off by one, deep nesting, spliced and random bytes. No parser may crash, hang or throw
// anything but a ChipError with a reason; passive authentication must catch every changed data
// group, and accept a changed EF.SOD only when the bytes its verdict rests on are untouched.
import test from 'ava';
import { X509Certificate } from 'node:crypto';
import jpeg from 'jpeg-js';
import { ChipError } from '../../src/chip/apdu.js';
import { parseCom } from '../../src/chip/com.js';
import { parseDg1 } from '../../src/chip/dg1.js';
import { parseDg2 } from '../../src/chip/dg2.js';
import { parseDg13 } from '../../src/chip/dg13.js';
import { passiveAuth } from '../../src/chip/passive-auth.js';
import type { FileName } from '../../src/chip/read-chip.js';
import { parseSod, type Sod } from '../../src/chip/sod.js';
import { childrenOf, readFile, readTlv, type Tlv } from '../../src/chip/tlv.js';
import { buildCardFiles, createTestPki } from '../../hw-sim/chip/card-files.js';
import { rng } from '../helpers/rng.js';

/** Another seed explores other damage: CHIP_FUZZ_SEED=7 npx ava test/unit/chip-fuzz.test.ts */
const SEED = Number(process.env.CHIP_FUZZ_SEED ?? 20260718);
const ID = '046315900005';
const pki = createTestPki();
const portrait = new Uint8Array(jpeg.encode({ data: Buffer.alloc(24 * 32 * 4, 77), width: 24, height: 32 }, 70).data);
const files = buildCardFiles({
  idNumber: ID,
  fullName: 'Võ Ngọc Diệp Ỹ Khuê',
  birthDate: '05/05/2015',
  sex: 'F',
  expiryDate: '05/05/2040',
  issueDate: '01/07/2024',
  portrait,
  pki,
});
const groups = new Map([...files].filter(([name]) => name.startsWith('DG')));
const genuineSod = parseSod(files.get('SOD')!);
let changedSignerCerts = 0;

type Parser = (bytes: Uint8Array) => unknown;
const PARSERS: ReadonlyArray<readonly [FileName, Parser]> = [
  ['COM', parseCom],
  ['DG1', parseDg1],
  ['DG2', (b) => parseDg2(b)],
  ['DG13', parseDg13],
  ['DG14', (b) => readFile(b, 0x6e, 'DG14')],
  ['SOD', parseSod],
];
const SECRETS = [ID, ID.slice(-6), 'Võ', 'KHUE', '150505'];

/** Offsets of every TLV header in a file, walking into constructed elements (not into 7F2E). */
function headers(bytes: Uint8Array): number[] {
  const out: number[] = [];
  const walk = (tlv: Tlv, at: number): void => {
    out.push(at);
    if (!tlv.constructed || tlv.tag === 0x7f2e) return;
    let p = at + (tlv.raw.length - tlv.value.length);
    for (const child of childrenOf(tlv)) {
      walk(child, p);
      p += child.raw.length;
    }
  };
  walk(readTlv(bytes).tlv, 0);
  return out;
}
const HEADERS = new Map([...files].filter(([n]) => n !== 'CardAccess').map(([n, b]) => [n, headers(b)]));

function mutate(name: FileName, original: Uint8Array, r: () => number, op: number): Uint8Array {
  const int = (n: number) => Math.floor(r() * n);
  const b = [...original];
  const header = () => HEADERS.get(name)![int(HEADERS.get(name)!.length)]!;
  const lengthAt = (h: number): number => ((b[h]! & 0x1f) === 0x1f ? h + 1 + tagTail(b, h + 1) : h + 1);
  switch (op) {
    case 0: // bit flips
      for (let n = 1 + int(4); n > 0; n--) {
        const k = int(b.length);
        b[k] = b[k]! ^ (1 << int(8));
      }
      return Uint8Array.from(b);
    case 1: // truncation
      return Uint8Array.from(b.slice(0, int(b.length)));
    case 2: {
      // a length field set huge (4-byte form) at a real header
      const at = lengthAt(header());
      const skip = b[at]! > 0x80 ? 1 + (b[at]! & 0x7f) : 1;
      b.splice(
        at,
        skip,
        ...[[0x84, 0xff, 0xff, 0xff, 0xff], [0x84, 0x7f, 0xff, 0xff, 0xff], [0x83, 0xff, 0xff, 0xff], [0x82, 0xff, 0xff], [0x80]][int(5)]!,
      );
      return Uint8Array.from(b);
    }
    case 3: {
      // a length one more or one less (short form), or the tag byte changed
      const h = header();
      const at = lengthAt(h);
      if (r() < 0.5 && b[at]! < 0x80) b[at] = (b[at]! + (r() < 0.5 ? 1 : 0x7f)) & 0x7f;
      else b[h] = int(256);
      return Uint8Array.from(b);
    }
    case 4:
      return nested(original[0]!, 1 + int(3000));
    case 5: // random bytes, half of them behind the right tag
      return Uint8Array.from({ length: int(600) }, (_, i) => (i === 0 && r() < 0.5 ? original[0]! : int(256)));
    case 6: {
      // a run of bytes deleted, duplicated or replaced by another file's
      const at = int(b.length);
      const n = 1 + int(40);
      const others = [...files.values()];
      const other = others[int(others.length)]!;
      const from = int(other.length);
      if (r() < 0.33) b.splice(at, n);
      else if (r() < 0.5) b.splice(at, 0, ...b.slice(at, at + n));
      else b.splice(at, n, ...other.slice(from, from + n));
      return Uint8Array.from(b);
    }
    default: {
      // a byte inserted at a header
      b.splice(header(), 0, int(256));
      return Uint8Array.from(b);
    }
  }
}

function tagTail(b: readonly number[], from: number): number {
  let n = 1;
  while ((b[from + n - 1]! & 0x80) !== 0 && n < 4) n++;
  return n;
}

/** The file's tag around `depth` SEQUENCEs with 2-byte lengths, written inside out. */
function nested(tag: number, depth: number): Uint8Array {
  const out = new Uint8Array(4 * depth + 4);
  out.set([tag, 0x82, ((out.length - 4) >> 8) & 0xff, (out.length - 4) & 0xff], 0);
  for (let i = 1; i <= depth; i++) {
    const length = out.length - 4 * (i + 1);
    out.set([0x30, 0x82, (length >> 8) & 0xff, length & 0xff], 4 * i);
  }
  return out;
}

test('fuzz: 10,000 damaged files through every parser: each parsed or refused with a ChipError and a reason', (t) => {
  const r = rng(SEED);
  const reasons = new Map<string, number>();
  const messages = new Map<string, number>();
  let parsed = 0;
  let changedGroupsCaught = 0;
  for (let i = 0; i < 10_000; i++) {
    const [name, parse] = PARSERS[i % PARSERS.length]!;
    const original = files.get(name)!;
    const bytes = mutate(name, original, r, Math.floor(r() * 8));
    let value: unknown;
    try {
      value = parse(bytes);
      parsed++;
    } catch (e) {
      if (!(e instanceof ChipError)) {
        t.fail(`#${i} ${name}: threw ${String(e)} on ${Buffer.from(bytes).toString('hex')}`);
        continue;
      }
      reasons.set(e.reason, (reasons.get(e.reason) ?? 0) + 1);
      const key = `${e.reason}: ${e.message.replace(/tag [0-9A-F]+, expected [0-9A-F]+/, 'tag T, expected T').replace(/\b\d+\b/g, 'N')}`;
      messages.set(key, (messages.get(key) ?? 0) + 1);
      for (const s of SECRETS) if (e.message.includes(s)) t.fail(`#${i} ${name}: message holds card data`);
    }
    const same = Buffer.from(bytes).equals(Buffer.from(original));
    if (name.startsWith('DG')) {
      // Whatever a changed group parses as, passive authentication must refuse it.
      const pa = passiveAuth(new Map([...groups, [name, bytes]]), genuineSod, [pki.cscaDer]);
      if (!same && pa.pa !== 'failed') t.fail(`#${i} ${name}: a changed group passed as ${pa.pa}`);
      if (!same) changedGroupsCaught++;
    } else if (name === 'SOD' && value) checkChangedSod(t, i, value as Sod);
  }
  t.log(
    `seed ${SEED}, 10,000 files: ${parsed} parsed, ${10_000 - parsed} refused; ${changedGroupsCaught} changed data groups, all failed passive authentication; ${changedSignerCerts} EF.SODs with a changed signer certificate (same key) were hashes-ok, none chain-ok`,
  );
  t.log(`reasons: ${[...reasons].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const [k, v] of [...messages].sort((a, b) => b[1] - a[1])) t.log(`${String(v).padStart(5)}  ${k}`);
  t.true(reasons.get('malformed')! > 5000, 'most damage is refused as malformed');
  t.true(changedGroupsCaught > 5000);
});

/**
 * A changed EF.SOD that still parses may pass only on the genuine signed content, signed attributes
 * and signature; as chain-ok only with the genuine signer certificate too (a change elsewhere in
 * that certificate keeps its key, so the SOD still verifies, but unanchored: hashes-ok).
 */
function checkChangedSod(t: import('ava').ExecutionContext, i: number, sod: Sod): void {
  const pa = passiveAuth(groups, sod, [pki.cscaDer]);
  if (pa.pa === 'failed' || pa.pa === 'unverified') return;
  const eq = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
  const signed =
    eq(sod.content, genuineSod.content) &&
    eq(sod.signature.value, genuineSod.signature.value) &&
    eq(sod.signature.signedAttrs!, genuineSod.signature.signedAttrs!);
  const sameKey = new X509Certificate(sod.signer.certDer).publicKey.equals(new X509Certificate(genuineSod.signer.certDer).publicKey);
  if (!signed || !sameKey) t.fail(`#${i}: a changed EF.SOD passed as ${pa.pa}`);
  if (pa.pa === 'chain-ok' && !eq(sod.signer.certDer, genuineSod.signer.certDer)) t.fail(`#${i}: a changed signer certificate chained`);
  if (pa.pa === 'hashes-ok') changedSignerCerts++;
}
