// BER-TLV as the chip's files use it (ISO/IEC 7816-4, ICAO 9303-10 §4; X.690 for the ASN.1 inside).
// Every read is bounds-checked before it happens and nesting is depth-limited, so any byte string
// gives either elements or a ChipError('malformed') whose message names the defect, never the data.
import { ChipError } from './apdu.js';

/** One element. `value` and `raw` are views into the input, not copies. */
export interface Tlv {
  /** The tag bytes as one big-endian number: 0x61, 0x5F1F, 0x7F61. */
  readonly tag: number;
  readonly constructed: boolean;
  readonly value: Uint8Array;
  /** Tag, length and value: the bytes a signature or hash covers. */
  readonly raw: Uint8Array;
}

/** Deep enough for a CMS SignedData with certificates (about 10 levels); a file nested deeper is built to hurt. */
export const MAX_DEPTH = 24;
/** Tags up to 4 bytes (the first and 3 more) cover ISO 7816 and ICAO; longer ones do not occur. */
const MAX_TAG_BYTES = 4;
/** Lengths in up to 4 bytes (0x84): ICAO 9303-10 allows no more. */
const MAX_LENGTH_BYTES = 4;

export function malformed(what: string): ChipError {
  return new ChipError('malformed', what);
}

/** Reads the element at `offset`. `end` is where the next one starts. */
export function readTlv(bytes: Uint8Array, offset = 0): { tlv: Tlv; end: number } {
  let p = offset;
  if (p >= bytes.length) throw malformed('TLV: no tag');
  const first = bytes[p++]!;
  let tag = first;
  if ((first & 0x1f) === 0x1f) {
    // Multi-byte tag: more bytes follow while bit 8 is set.
    for (let n = 1; ; n++) {
      if (n >= MAX_TAG_BYTES) throw malformed('TLV: tag over 4 bytes');
      if (p >= bytes.length) throw malformed('TLV: tag runs past the end');
      const b = bytes[p++]!;
      tag = tag * 256 + b;
      if ((b & 0x80) === 0) break;
    }
  }
  if (p >= bytes.length) throw malformed('TLV: no length');
  const l0 = bytes[p++]!;
  let length = l0;
  if (l0 === 0x80) throw malformed('TLV: indefinite length');
  if (l0 > 0x80) {
    const n = l0 & 0x7f;
    if (n > MAX_LENGTH_BYTES) throw malformed('TLV: length field over 4 bytes');
    if (n > bytes.length - p) throw malformed('TLV: length runs past the end');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + bytes[p++]!;
  }
  if (length > bytes.length - p) throw malformed('TLV: value runs past the end');
  const end = p + length;
  return { tlv: { tag, constructed: (first & 0x20) !== 0, value: bytes.subarray(p, end), raw: bytes.subarray(offset, end) }, end };
}

/** The elements that exactly fill `bytes` (a constructed value, or a file of several objects). */
export function readAll(bytes: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  for (let p = 0; p < bytes.length;) {
    const { tlv, end } = readTlv(bytes, p);
    out.push(tlv);
    p = end;
  }
  return out;
}

/** The children of a constructed element. */
export function childrenOf(tlv: Tlv): Tlv[] {
  if (!tlv.constructed) throw malformed(`TLV: ${tagName(tlv.tag)} is not constructed`);
  return readAll(tlv.value);
}

/**
 * A whole file: exactly one element with the expected tag, nothing after it, and every constructed
 * element inside well-formed and at most MAX_DEPTH deep.
 */
export function readFile(bytes: Uint8Array, tag: number, what: string, opaque: readonly number[] = []): Tlv {
  const { tlv, end } = readTlv(bytes, 0);
  if (tlv.tag !== tag) throw malformed(`${what}: tag ${tagName(tlv.tag)}, expected ${tagName(tag)}`);
  if (end !== bytes.length) throw malformed(`${what}: bytes after the end`);
  checkTree(tlv, opaque);
  return tlv;
}

/**
 * Walks every constructed element under `root` (iteratively, so depth costs no stack). Elements
 * whose tag is in `opaque` are constructed by their tag bits but hold raw bytes (7F2E: a
 * biometric record), so they are not looked into.
 */
export function checkTree(root: Tlv, opaque: readonly number[] = [], maxDepth = MAX_DEPTH): void {
  const stack: Array<{ tlv: Tlv; depth: number }> = [{ tlv: root, depth: 1 }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    if (!item.tlv.constructed || opaque.includes(item.tlv.tag)) continue;
    if (item.depth >= maxDepth) throw malformed(`TLV: nested deeper than ${maxDepth}`);
    for (const child of readAll(item.tlv.value)) stack.push({ tlv: child, depth: item.depth + 1 });
  }
}

/** The first child with `tag`, or a malformed error naming what is missing. */
export function need(children: readonly Tlv[], tag: number, what: string): Tlv {
  const found = children.find((c) => c.tag === tag);
  if (!found) throw malformed(`${what}: no ${tagName(tag)}`);
  return found;
}

export function tagName(tag: number): string {
  return tag.toString(16).toUpperCase().padStart(2, '0');
}

/** A non-negative DER INTEGER up to 2^53 (field numbers, versions, counts). */
export function readSmallInteger(tlv: Tlv, what: string): number {
  if (tlv.tag !== 0x02) throw malformed(`${what}: not an INTEGER`);
  const v = tlv.value;
  if (v.length === 0 || v.length > 6) throw malformed(`${what}: INTEGER of ${v.length} bytes`);
  if (v[0]! & 0x80) throw malformed(`${what}: negative INTEGER`);
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

/** An OBJECT IDENTIFIER's value bytes as dotted text. */
export function readOid(tlv: Tlv, what: string): string {
  if (tlv.tag !== 0x06) throw malformed(`${what}: not an OBJECT IDENTIFIER`);
  const v = tlv.value;
  if (v.length === 0 || v.length > 64) throw malformed(`${what}: OBJECT IDENTIFIER of ${v.length} bytes`);
  const arcs: number[] = [];
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const b = v[i]!;
    if (n === 0 && b === 0x80) throw malformed(`${what}: OBJECT IDENTIFIER not minimal`);
    n = n * 128 + (b & 0x7f);
    if (n > Number.MAX_SAFE_INTEGER / 128) throw malformed(`${what}: OBJECT IDENTIFIER arc too large`);
    if ((b & 0x80) === 0) {
      arcs.push(n);
      n = 0;
    } else if (i === v.length - 1) throw malformed(`${what}: OBJECT IDENTIFIER cut short`);
  }
  const head = arcs[0]!;
  const [a, b] = head < 40 ? [0, head] : head < 80 ? [1, head - 40] : [2, head - 80];
  return [a, b, ...arcs.slice(1)].join('.');
}
