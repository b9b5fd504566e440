// Just enough BER-TLV / DER writing to lay out the virtual card's files. Deliberately separate from
// src/chip/tlv.ts (the reader), so a shared misreading of the encoding cannot pass unnoticed.

/** An element: tag of one or two bytes (0x61, 0x5F1F …), definite length in the shortest form. */
export function der(tag: number, ...parts: readonly Uint8Array[]): Uint8Array {
  const value = Buffer.concat(parts);
  const tagBytes = tag > 0xff ? [tag >> 8, tag & 0xff] : [tag];
  const n = value.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return new Uint8Array(Buffer.concat([Uint8Array.from(tagBytes), Uint8Array.from(length), value]));
}

export const int = (n: number): Uint8Array => der(0x02, Uint8Array.of(n)); // 0..127 only: versions and field numbers
export const utf8 = (s: string): Uint8Array => der(0x0c, new TextEncoder().encode(s));
export const printable = (s: string): Uint8Array => der(0x13, new TextEncoder().encode(s));
export const octets = (b: Uint8Array): Uint8Array => der(0x04, b);
export const seq = (...parts: readonly Uint8Array[]): Uint8Array => der(0x30, ...parts);
export const set = (...parts: readonly Uint8Array[]): Uint8Array => der(0x31, ...parts);

/** An OBJECT IDENTIFIER from dotted text. */
export function oid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a! + b!];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80);
    out.push(...groups);
  }
  return der(0x06, Uint8Array.from(out));
}

export function u16(n: number): Uint8Array {
  return Uint8Array.of(n >> 8, n & 0xff);
}

export function u32(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}
