// The BER-TLV reader under the chip's files. Public vectors: ICAO 9303-10 Appendix A (EF.COM) and
// ICAO 9303-11 Appendix D.4 (secure-messaging responses), as transcribed in ZeroPass/dmrtd
// test/ef_test.dart and test/tlv_test.dart; OID bytes from the BSI TR-03105-5 reference EF.SOD
// (ZeroPass/pymrtd tests/ef/sod_test.py).
import test from 'ava';
import { ChipError } from '../../src/chip/apdu.js';
import { checkTree, childrenOf, readAll, readFile, readOid, readSmallInteger, readTlv, MAX_DEPTH } from '../../src/chip/tlv.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

function malformed(t: import('ava').ExecutionContext, fn: () => unknown, message: RegExp): void {
  const e = t.throws(fn, { instanceOf: ChipError });
  t.is(e?.reason, 'malformed');
  t.regex(e?.message ?? '', message);
}

test('ICAO 9303-10 A.1 EF.COM: one 60 element whose children are 5F01, 5F36 and 5C with their values', (t) => {
  const com = hex('60165F0104303130375F36063034303030305C046175766C');
  const root = readFile(com, 0x60, 'EF.COM');
  t.true(root.constructed);
  t.is(root.value.length, 0x16);
  const [lds, unicode, list] = childrenOf(root);
  t.deepEqual([lds?.tag, unicode?.tag, list?.tag], [0x5f01, 0x5f36, 0x5c]);
  t.is(text(lds!.value), '0107');
  t.is(text(unicode!.value), '040000');
  t.deepEqual([...list!.value], [0x61, 0x75, 0x76, 0x6c]);
  t.deepEqual([...lds!.raw], [0x5f, 0x01, 0x04, 0x30, 0x31, 0x30, 0x37]);
});

test('ICAO 9303-11 D.4 responses: DO87, DO99 and DO8E read one after another', (t) => {
  const [do99, do8e] = readAll(hex('990290008E08FA855A5D4C50A8ED'));
  t.is(do99?.tag, 0x99);
  t.deepEqual(do99?.value, hex('9000'));
  t.is(do8e?.tag, 0x8e);
  t.deepEqual(do8e?.value, hex('FA855A5D4C50A8ED'));
  const parts = readAll(hex('871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D74'));
  t.deepEqual(
    parts.map((p) => p.tag),
    [0x87, 0x99, 0x8e],
  );
  t.deepEqual(parts[0]?.value, hex('01FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A'));
  // The decrypted first bytes of EF.COM in that example: tag 60, length 0x14.
  const { tlv } = readTlv(new Uint8Array([...hex('60145F01'), ...new Uint8Array(0x12)]));
  t.is(tlv.tag, 0x60);
  t.is(tlv.value.length, 0x14);
});

test('lengths: short form, 81, 82, 83 and 84 forms read; 85 and indefinite refused', (t) => {
  for (const [header, n] of [
    ['047F', 0x7f],
    ['048180', 0x80],
    ['04820100', 0x100],
    ['0483010000', 0x10000],
    ['048400000005', 5],
  ] as const) {
    const bytes = new Uint8Array([...hex(header), ...new Uint8Array(n).fill(0xaa)]);
    const { tlv, end } = readTlv(bytes);
    t.is(tlv.value.length, n, header);
    t.is(end, bytes.length);
  }
  malformed(t, () => readTlv(hex('0485000000000100')), /length field over 4 bytes/);
  malformed(t, () => readTlv(hex('30800000')), /indefinite length/);
});

test('multi-byte tags: 5F1F, 7F61 and a three-byte BF8149; a fifth tag byte is refused', (t) => {
  t.is(readTlv(hex('5F1F0141')).tlv.tag, 0x5f1f);
  const big = readTlv(hex('7F6103020101'));
  t.is(big.tlv.tag, 0x7f61);
  t.true(big.tlv.constructed);
  t.is(readTlv(hex('BF81490100')).tlv.tag, 0xbf8149);
  t.is(readTlv(hex('5F8181010100')).tlv.tag, 0x5f818101);
  malformed(t, () => readTlv(hex('5F8181818101 00')), /tag over 4 bytes/);
});

test('a length past the end is refused before anything is read, whatever its size', (t) => {
  malformed(t, () => readTlv(hex('0405AABB')), /value runs past the end/);
  malformed(t, () => readTlv(hex('0484FFFFFFFF00')), /value runs past the end/);
  malformed(t, () => readTlv(hex('04 82 01')), /length runs past the end/);
  malformed(t, () => readTlv(hex('5F')), /tag runs past the end/);
  malformed(t, () => readTlv(hex('61')), /no length/);
  malformed(t, () => readTlv(new Uint8Array(0)), /no tag/);
});

test('every truncation of a file is refused as malformed, never read past its end', (t) => {
  const com = hex('60165F0104303130375F36063034303030305C046175766C');
  for (let n = 0; n < com.length; n++) t.throws(() => readFile(com.subarray(0, n), 0x60, 'EF.COM'), { instanceOf: ChipError }, `${n} bytes`);
});

test('a file must be exactly one element of the expected tag', (t) => {
  const com = hex('60165F0104303130375F36063034303030305C046175766C');
  malformed(t, () => readFile(new Uint8Array([...com, 0x00]), 0x60, 'EF.COM'), /EF.COM: bytes after the end/);
  malformed(t, () => readFile(com, 0x61, 'DG1'), /DG1: tag 60, expected 61/);
  // A constructed child whose own contents do not parse is found at once, not when first used.
  malformed(t, () => readFile(hex('6004 30 02 05 05'), 0x60, 'EF.COM'), /value runs past the end/);
});

test(`nesting: ${MAX_DEPTH} levels read, ${MAX_DEPTH + 1} refused; 100,000 levels are refused at that depth, without recursion`, (t) => {
  const nest = (depth: number): Uint8Array => {
    let b = hex('0500');
    for (let i = 1; i < depth; i++) b = new Uint8Array([0x30, b.length, ...b]);
    return b;
  };
  t.notThrows(() => checkTree(readTlv(nest(MAX_DEPTH)).tlv));
  malformed(t, () => checkTree(readTlv(nest(MAX_DEPTH + 1)).tlv), /nested deeper than/);
  // Each level a SEQUENCE with a 4-byte length (84 form), written in one pass.
  const levels = 100_000;
  const deep = new Uint8Array(6 * (levels - 1) + 2);
  for (let i = 0; i < levels - 1; i++) {
    const length = deep.length - 6 * (i + 1);
    deep.set([0x30, 0x84, length >>> 24, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff], 6 * i);
  }
  deep.set([0x05, 0x00], deep.length - 2);
  malformed(t, () => readFile(deep, 0x30, 'test'), /nested deeper than/);
  // 30 80 … cannot nest for free either: indefinite lengths are refused at the first level.
  const indefinite = new Uint8Array(200_000);
  for (let i = 0; i < indefinite.length; i += 2) indefinite.set([0x30, 0x80], i);
  malformed(t, () => readFile(indefinite, 0x30, 'test'), /indefinite length/);
});

test('opaque tags (a 7F2E biometric record) are not looked into', (t) => {
  const bdb = hex('7F2E04 46414300'); // constructed by its tag bits, but raw bytes inside
  malformed(t, () => checkTree(readTlv(bdb).tlv), /TLV/);
  t.notThrows(() => checkTree(readTlv(bdb).tlv, [0x7f2e]));
});

test('OIDs: the LDS security object, SHA-256 and the UTF-8 encoding level of DG13', (t) => {
  t.is(readOid(readTlv(hex('0606678108010101')).tlv, 'x'), '2.23.136.1.1.1');
  t.is(readOid(readTlv(hex('0609608648016503040201')).tlv, 'x'), '2.16.840.1.101.3.4.2.1');
  t.is(readOid(readTlv(hex('060628D316010008')).tlv, 'x'), '1.0.10646.1.0.8');
  t.is(readOid(readTlv(hex('06080400 7F00 0702 0202')).tlv, 'x'), '0.4.0.127.0.7.2.2.2');
  malformed(t, () => readOid(readTlv(hex('06036781 88')).tlv, 'x'), /cut short/);
  malformed(t, () => readOid(readTlv(hex('0603 2A 80 01')).tlv, 'x'), /not minimal/);
  malformed(t, () => readOid(readTlv(hex('0400')).tlv, 'x'), /not an OBJECT IDENTIFIER/);
});

test('small INTEGERs: values up to 6 bytes, no negatives', (t) => {
  t.is(readSmallInteger(readTlv(hex('020101')).tlv, 'x'), 1);
  t.is(readSmallInteger(readTlv(hex('02020080')).tlv, 'x'), 128);
  malformed(t, () => readSmallInteger(readTlv(hex('0201FF')).tlv, 'x'), /negative/);
  malformed(t, () => readSmallInteger(readTlv(hex('0200')).tlv, 'x'), /INTEGER of 0 bytes/);
  malformed(t, () => readSmallInteger(readTlv(hex('02070100000000000000')).tlv, 'x'), /INTEGER of 7 bytes/);
});
