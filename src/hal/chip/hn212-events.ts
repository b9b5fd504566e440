/**
 * The messages of the HN-212 reader's service (JTH's package, chip.md §12), decoded without trust:
 * every payload may be anything. Pure functions; nothing here logs or keeps what it decodes, and
 * no message or error quotes a payload (it holds a citizen's data).
 *
 *   { id: 1, message: "new card!" }                         a card was placed
 *   { id: 2, message, data: { idCode, personName, … } }     the card's text fields: NOT used
 *   { id: 3, message: "<why>" }                             the read failed
 *   { id: 4, message, data: { img_data, dg2, dg13, dg14, dg15, sod } }   raw groups in base64
 *
 * Only the raw groups are used: the text fields (and the service's own img_data) are the service's
 * say-so, while DG2/DG13/DG14/DG15 are the chip's bytes, which passive authentication
 * (src/chip/passive-auth.ts) checks against the hashes in EF.SOD and EF.SOD's signature.
 */
import { ChipError, readTlvHeader } from '../../chip/apdu.js';
import type { FileName, Refusal } from '../../chip/read-chip.js';
import { HN212_LIMITS } from './hn212-config.js';

export interface Hn212Files {
  readonly files: Map<FileName, Uint8Array>;
  readonly refused: Map<FileName, Refusal>;
}

export type Hn212Event =
  | { readonly kind: 'new-card' }
  /** Deliberately carries nothing of the payload. */
  | { readonly kind: 'text' }
  | { readonly kind: 'failed'; readonly error: ChipError }
  | ({ readonly kind: 'raw' } & Hn212Files)
  /** Not a message of the service; `why` names types and sizes only. */
  | { readonly kind: 'ignored'; readonly why: string };

interface RawField {
  readonly field: string;
  readonly name: FileName;
  /** The file's outer TLV tag (ICAO 9303-10 §4.7). */
  readonly tag: number;
  readonly maxBytes: number;
}

export const RAW_FIELDS: readonly RawField[] = [
  { field: 'dg2', name: 'DG2', tag: 0x75, maxBytes: HN212_LIMITS.dg2 },
  { field: 'dg13', name: 'DG13', tag: 0x6d, maxBytes: HN212_LIMITS.other },
  { field: 'dg14', name: 'DG14', tag: 0x6e, maxBytes: HN212_LIMITS.other },
  { field: 'dg15', name: 'DG15', tag: 0x6f, maxBytes: HN212_LIMITS.other },
  { field: 'sod', name: 'SOD', tag: 0x77, maxBytes: HN212_LIMITS.sod },
];

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && !(v instanceof ArrayBuffer);

const own = (o: Record<string, unknown>, key: string): unknown => (Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined);

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : ArrayBuffer.isView(v) ? 'binary' : typeof v);

/** The service's `id`, as a number or a numeric string; null for anything else. */
function idOf(v: unknown): number | null {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^\d{1,2}$/.test(v)) return Number(v);
  return null;
}

/** One payload of the event → what it means. Never throws. */
export function parseHn212Event(payload: unknown): Hn212Event {
  let p = payload;
  if (typeof payload === 'string') {
    // Some Socket.IO servers emit JSON text rather than an object; the transport already capped its size.
    if (payload.length > HN212_LIMITS.message) return { kind: 'ignored', why: `a text payload of ${payload.length} characters` };
    try {
      p = JSON.parse(payload) as unknown;
    } catch {
      return { kind: 'ignored', why: `a text payload of ${payload.length} characters that is not JSON` };
    }
  }
  if (!isRecord(p)) return { kind: 'ignored', why: `a payload of type ${typeOf(p)}` };
  const id = idOf(own(p, 'id'));
  switch (id) {
    case 1:
      return { kind: 'new-card' };
    case 2:
      return { kind: 'text' };
    case 3:
      return { kind: 'failed', error: readError(own(p, 'message')) };
    case 4:
      try {
        return { kind: 'raw', ...decodeRawGroups(own(p, 'data')) };
      } catch (e) {
        return { kind: 'failed', error: e instanceof ChipError ? e : new ChipError('malformed', 'the raw-data message could not be decoded') };
      }
    default:
      return { kind: 'ignored', why: id === null ? `a message without a numeric id (${typeOf(own(p, 'id'))})` : `a message with unknown id ${id}` };
  }
}

/**
 * The failure message's own words are not repeated (they might name the card holder): only whether
 * it reads as the card leaving the field. The service's wording is unknown (no sample published):
 * these are guesses in English and Vietnamese; anything else is a plain I/O failure, retried alike.
 */
const REMOVED =
  /\b(?:card|tag)\b.{0,20}\b(?:remov|lost|absent|not (?:present|found)|missing|gone)|\bremoved\b|no card|rút thẻ|thẻ.{0,20}(?:rút|lấy ra|bị nhấc|không còn|mất kết nối)|mất thẻ|không (?:tìm thấy|có) thẻ/iu;

function readError(message: unknown): ChipError {
  const text = typeof message === 'string' ? message.slice(0, 300).normalize('NFC') : '';
  return REMOVED.test(text)
    ? new ChipError('card-removed', 'the HN-212 service reports the card left the reader mid-read')
    : new ChipError(
        'io',
        `the HN-212 service reports a failed read (${typeof message === 'string' ? `${message.length}-character message` : 'no message'})`,
      );
}

/** The raw-data message's `data` → the files it holds. Absent or empty fields are "not-found". Throws ChipError. */
export function decodeRawGroups(data: unknown): Hn212Files {
  if (!isRecord(data)) throw new ChipError('malformed', `the raw-data message has no data object (${typeOf(data)})`);
  const files = new Map<FileName, Uint8Array>();
  const refused = new Map<FileName, Refusal>();
  try {
    for (const f of RAW_FIELDS) {
      const v = own(data, f.field);
      if (v === undefined || v === null || v === '') refused.set(f.name, 'not-found');
      else if (typeof v !== 'string') throw new ChipError('malformed', `${f.field} is not a base64 string (${typeOf(v)})`);
      else files.set(f.name, wholeFile(decodeBase64(v, f.maxBytes, f.field), f));
    }
  } catch (e) {
    for (const b of files.values()) b.fill(0);
    throw e;
  }
  return { files, refused };
}

const BASE64 = /^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (Buffer's decoder skips what it does not know), sized before it is decoded. */
export function decodeBase64(text: string, maxBytes: number, what: string): Uint8Array {
  const maxChars = 4 * Math.ceil(maxBytes / 3);
  // Line breaks (MIME-style encoders) are tolerated: at most one per 64 characters.
  if (text.length > maxChars + 2 * Math.ceil(maxChars / 64)) throw new ChipError('too-large', `${what} is over ${maxBytes} bytes`);
  const clean = /[\r\n]/.test(text) ? text.replace(/\r?\n/g, '') : text;
  if (clean.length > maxChars) throw new ChipError('too-large', `${what} is over ${maxBytes} bytes`);
  if (clean.length % 4 === 1 || !BASE64.test(clean)) throw new ChipError('malformed', `${what} is not valid base64`);
  const buf = Buffer.from(clean, 'base64');
  if (buf.length > maxBytes) {
    buf.fill(0);
    throw new ChipError('too-large', `${what} is over ${maxBytes} bytes`);
  }
  // A copy the caller owns outright (small Buffers share a pool) and can wipe.
  const out = new Uint8Array(buf);
  buf.fill(0);
  return out;
}

/**
 * The file's bytes: its outer tag must be the group's, and its TLV must fit. Bytes after the TLV
 * (a reader padding its last block) are dropped: EF.SOD's hashes cover the TLV alone, as readChip reads it.
 */
function wholeFile(bytes: Uint8Array, f: RawField): Uint8Array {
  try {
    const { tag, length, headerLength } = readTlvHeader(bytes);
    if (tag !== f.tag) throw new ChipError('malformed', `${f.field} does not start with tag ${f.tag.toString(16).toUpperCase()}`);
    const total = headerLength + length;
    if (total > bytes.length) throw new ChipError('malformed', `${f.field} is cut short (${bytes.length} of ${total} bytes)`);
    if (total === bytes.length) return bytes;
    const trimmed = bytes.slice(0, total);
    bytes.fill(0);
    return trimmed;
  } catch (e) {
    bytes.fill(0);
    throw e instanceof ChipError ? new ChipError(e.reason, e.message.startsWith(f.field) ? e.message : `${f.field}: ${e.message}`) : e;
  }
}
