// Command APDUs and BER-TLV as the card reads them: every length is checked before it is used, garbage gives null.

export interface Command {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly data: Uint8Array;
  /** Expected response length (256 / 65536 for a zero Le), null when absent. */
  readonly le: number | null;
}

/** ISO 7816-4 cases 1–4, short or extended length; null when the lengths do not add up. */
export function parseCommand(apdu: Uint8Array): Command | null {
  if (apdu.length < 4) return null;
  const [cla, ins, p1, p2] = [apdu[0]!, apdu[1]!, apdu[2]!, apdu[3]!];
  const head = { cla, ins, p1, p2 };
  const body = apdu.subarray(4);
  if (body.length === 0) return { ...head, data: new Uint8Array(0), le: null };
  if (body.length === 1) return { ...head, data: new Uint8Array(0), le: body[0] || 256 };
  if (body[0] !== 0) {
    const lc = body[0]!;
    if (body.length === 1 + lc) return { ...head, data: body.subarray(1), le: null };
    if (body.length === 2 + lc) return { ...head, data: body.subarray(1, 1 + lc), le: body[1 + lc] || 256 };
    return null;
  }
  // extended: 00 then two length bytes
  if (body.length < 3) return null;
  if (body.length === 3) return { ...head, data: new Uint8Array(0), le: (body[1]! << 8) | body[2]! || 65536 };
  const lc = (body[1]! << 8) | body[2]!;
  if (lc === 0) return null;
  if (body.length === 3 + lc) return { ...head, data: body.subarray(3), le: null };
  if (body.length === 5 + lc) return { ...head, data: body.subarray(3, 3 + lc), le: (body[3 + lc]! << 8) | body[4 + lc]! || 65536 };
  return null;
}

/** Encodes a command: short lengths when they fit, extended otherwise. */
export function encodeCommand(c: Command): Uint8Array {
  const extended = c.data.length > 255 || (c.le !== null && c.le > 256);
  const out: number[] = [c.cla, c.ins, c.p1, c.p2];
  if (c.data.length > 0) out.push(...(extended ? [0, c.data.length >> 8, c.data.length & 0xff] : [c.data.length]), ...c.data);
  if (c.le !== null) {
    const le = c.le & (extended ? 0xffff : 0xff);
    out.push(...(extended ? (c.data.length > 0 ? [le >> 8, le & 0xff] : [0, le >> 8, le & 0xff]) : [le]));
  }
  return Uint8Array.from(out);
}

export interface Tlv {
  readonly tag: number;
  readonly value: Uint8Array;
  /** The whole object, tag and length included (the secure-messaging MAC covers it). */
  readonly raw: Uint8Array;
}

/** One BER-TLV object at `at`: tags of one or two bytes, definite lengths up to three bytes. */
function readTlv(bytes: Uint8Array, at: number): { tlv: Tlv; next: number } | null {
  let i = at;
  if (i >= bytes.length) return null;
  let tag = bytes[i++]!;
  if ((tag & 0x1f) === 0x1f) {
    if (i >= bytes.length || bytes[i]! & 0x80) return null;
    tag = (tag << 8) | bytes[i++]!;
  }
  if (i >= bytes.length) return null;
  let length = bytes[i++]!;
  if (length > 0x80) {
    const n = length & 0x7f;
    if (n > 2 || i + n > bytes.length) return null;
    length = 0;
    for (let k = 0; k < n; k++) length = (length << 8) | bytes[i++]!;
  } else if (length === 0x80) return null; // indefinite length has no place in an APDU
  if (i + length > bytes.length) return null;
  return { tlv: { tag, value: bytes.subarray(i, i + length), raw: bytes.subarray(at, i + length) }, next: i + length };
}

/** A run of TLV objects filling `bytes` exactly, else null. */
export function parseTlvs(bytes: Uint8Array): Tlv[] | null {
  const out: Tlv[] = [];
  for (let at = 0; at < bytes.length;) {
    const read = readTlv(bytes, at);
    if (!read) return null;
    out.push(read.tlv);
    at = read.next;
  }
  return out;
}

/** A TLV object's encoding (lengths up to 65535). */
export function tlv(tag: number, value: Uint8Array): Uint8Array {
  const tagBytes = tag > 0xff ? [tag >> 8, tag & 0xff] : [tag];
  const n = value.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  const out = new Uint8Array(tagBytes.length + len.length + n);
  out.set([...tagBytes, ...len]);
  out.set(value, tagBytes.length + len.length);
  return out;
}

/** A status word alone, e.g. sw(0x6300). */
export const sw = (word: number): Uint8Array => Uint8Array.of(word >> 8, word & 0xff);

/** Response data followed by 90 00. */
export function ok(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 2);
  out.set(data);
  out.set([0x90, 0x00], data.length);
  return out;
}
