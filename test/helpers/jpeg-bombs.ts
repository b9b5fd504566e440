/**
 * Hand-built JPEGs for the decompression-bomb tests: a few hundred bytes that declare as many
 * pixels as we like. Built here, byte by byte, so no such file sits in the repository.
 */

const u16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];
const segment = (marker: number, payload: readonly number[]): number[] => [0xff, marker, ...u16(payload.length + 2), ...payload];

/** A frame header: 8-bit, `height`×`width`, `components` components sampled 1×1 with table 0. */
export function sof(width: number, height: number, marker = 0xc0, components = 3): number[] {
  const comps: number[] = [];
  for (let c = 1; c <= components; c++) comps.push(c, 0x11, 0);
  return segment(marker, [8, ...u16(height), ...u16(width), components, ...comps]);
}

/** One quantisation table of ones, and the smallest Huffman tables (one code each, DC and AC). */
const TABLES: readonly number[] = [
  ...segment(0xdb, [0x00, ...new Array<number>(64).fill(1)]),
  ...segment(0xc4, [0x00, 1, ...new Array<number>(15).fill(0), 0x00]), // DC 0: one 1-bit code for category 0
  ...segment(0xc4, [0x10, 1, ...new Array<number>(15).fill(0), 0x00]), // AC 0: one 1-bit code for EOB
];

const SCAN: readonly number[] = [...segment(0xda, [3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]), ...new Array<number>(64).fill(0x00)];

/**
 * SOI, JFIF, tables, a SOF0 declaring `width`×`height`, a scan of a few zero bytes, padding to
 * `size` bytes in a comment, EOI: what a hostile identity service or camera could send.
 * The default is the 8000×8000 of the fault review, 695 bytes like the file it found.
 */
export function jpegBomb(width = 8000, height = 8000, size = 695): Uint8Array {
  const jfif = segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0x00, 1, 1, 0, ...u16(1), ...u16(1), 0, 0]);
  const head = [0xff, 0xd8, ...jfif, ...TABLES, ...sof(width, height)];
  const tail = [...SCAN, 0xff, 0xd9];
  const pad = Math.max(0, size - head.length - tail.length - 4);
  return Uint8Array.from([...head, ...(pad > 0 ? segment(0xfe, new Array<number>(pad).fill(0x20)) : []), ...tail]);
}

/** A JPEG with these raw segments between SOI and EOI (no pixel data needed for header tests). */
export function jpegOf(...segments: readonly (readonly number[])[]): Uint8Array {
  return Uint8Array.from([0xff, 0xd8, ...segments.flat(), 0xff, 0xd9]);
}

/** A comment segment of `n` payload bytes (n ≤ 65533). */
export function comment(n: number): number[] {
  return segment(0xfe, new Array<number>(n).fill(0x41));
}

/** An APP1 segment holding `inner` (e.g. an EXIF thumbnail, a whole JPEG with its own SOF). */
export function app1(inner: Uint8Array): number[] {
  return segment(0xe1, [0x45, 0x78, 0x69, 0x66, 0, 0, ...inner]);
}
