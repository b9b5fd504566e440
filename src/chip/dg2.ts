// DG2, the face (ICAO 9303-10 §4.7.2): 75 → 7F61 (biometric group) → 7F60 (one biometric) → A1
// header and 5F2E (or 7F2E) data block, which holds an ISO/IEC 19794-5:2005 record: 'FAC\0',
// version '010\0', then the facial record whose image info gives width and height, then the image.
// The image's format is read from its own first bytes, not from the record's claim.
import { ChipError } from './apdu.js';
import { childrenOf, malformed, need, readFile, readSmallInteger } from './tlv.js';

export type ImageFormat = 'jpeg' | 'jp2' | 'j2k' | 'unknown';

export interface Dg2 {
  readonly format: ImageFormat;
  /** A copy, so the caller can zero it after use without touching the file bytes. */
  readonly image: Uint8Array;
  /** From the record's image information; absent when the record says 0. */
  readonly width?: number;
  readonly height?: number;
}

/** Far above a chip portrait (15-30 KB) and above any DG2 a 64 KiB read limit lets through. */
export const MAX_IMAGE_BYTES = 1024 * 1024;

const BDB_TAGS = [0x5f2e, 0x7f2e];
const FAC = [0x46, 0x41, 0x43, 0x00];
const VERSION_010 = [0x30, 0x31, 0x30, 0x00];
const RECORD_HEADER = 14; // 'FAC\0', version, record length (4), number of images (2)
const FACIAL_HEADER = 20; // block length (4), feature points (2), gender … pose uncertainty
const FEATURE_POINT = 8;
const IMAGE_INFO = 12; // type, data type, width (2), height (2), colour space, source, device (2), quality (2)

export function parseDg2(bytes: Uint8Array, opts: { maxImageBytes?: number } = {}): Dg2 {
  const root = readFile(bytes, 0x75, 'DG2', [0x7f2e]);
  const group = childrenOf(need(childrenOf(root), 0x7f61, 'DG2'));
  const count = readSmallInteger(need(group, 0x02, 'DG2 biometric group'), 'DG2 instance count');
  if (count < 1) throw malformed('DG2: no biometric instance');
  const instance = childrenOf(need(group, 0x7f60, 'DG2 biometric group'));
  const bdb = instance.find((c) => BDB_TAGS.includes(c.tag));
  if (!bdb) throw malformed('DG2: no biometric data block (5F2E/7F2E)');
  return readFaceRecord(bdb.value, opts.maxImageBytes ?? MAX_IMAGE_BYTES);
}

export function imageFormat(image: Uint8Array): ImageFormat {
  if (startsWith(image, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(image, [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a])) return 'jp2';
  if (startsWith(image, [0xff, 0x4f, 0xff, 0x51])) return 'j2k';
  return 'unknown';
}

function readFaceRecord(record: Uint8Array, maxImageBytes: number): Dg2 {
  if (record.length < RECORD_HEADER || !startsWith(record, FAC)) throw malformed('DG2: data block is not an ISO 19794-5 record (FAC)');
  if (!startsWith(record.subarray(4), VERSION_010)) throw new ChipError('unsupported', 'DG2: ISO 19794-5 record version is not 010');
  const recordLength = u32(record, 8);
  if (recordLength < RECORD_HEADER || recordLength > record.length) throw malformed('DG2: record length disagrees with the data block');
  if (u16(record, 12) < 1) throw malformed('DG2: record holds no image');
  const block = record.subarray(RECORD_HEADER, recordLength);
  if (block.length < FACIAL_HEADER) throw malformed('DG2: facial record cut short');
  const blockLength = u32(block, 0);
  if (blockLength < FACIAL_HEADER + IMAGE_INFO || blockLength > block.length) throw malformed('DG2: facial record length out of range');
  const infoAt = FACIAL_HEADER + FEATURE_POINT * u16(block, 4);
  const imageAt = infoAt + IMAGE_INFO;
  if (imageAt >= blockLength) throw malformed('DG2: facial record has no image data');
  const imageLength = blockLength - imageAt;
  if (imageLength > maxImageBytes) throw new ChipError('too-large', `DG2: image of ${imageLength} bytes, limit ${maxImageBytes}`);
  const image = block.slice(imageAt, blockLength);
  const width = u16(block, infoAt + 2);
  const height = u16(block, infoAt + 4);
  return { format: imageFormat(image), image, ...(width > 0 ? { width } : {}), ...(height > 0 ? { height } : {}) };
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

// Callers check the bounds first; these read inside them.
function u16(b: Uint8Array, at: number): number {
  return b[at]! * 256 + b[at + 1]!;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! * 256 + b[at + 1]!) * 256 + b[at + 2]!) * 256 + b[at + 3]!;
}
