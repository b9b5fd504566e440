// Command APDUs, status words and the BER-TLV the ICAO 9303 protocols carry in them (ISO/IEC 7816-4).
// Pure functions; the only I/O is the injected Transmit.

import { concat } from '../util/bytes.js';

export { concat };
/** One command APDU to the card; resolves to the response data followed by SW1 SW2 (same shape as CardLink.transmit). */
export type Transmit = (apdu: Uint8Array, signal: AbortSignal) => Promise<Uint8Array>;

export type ChipErrorReason =
  'wrong-can' | 'access-denied' | 'not-found' | 'card-removed' | 'sm-lost' | 'unsupported' | 'malformed' | 'too-large' | 'aborted' | 'io';

/** A failed chip read. The message names the step and status word only: never a CAN, MRZ or file content. */
export class ChipError extends Error {
  constructor(
    readonly reason: ChipErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'ChipError';
  }
}

export interface Command {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly data?: Uint8Array;
  /** Expected response length, 1..256 (short) or up to 65536 (extended); 256 and 65536 are coded as zeros. */
  readonly le?: number;
}

export interface Response {
  readonly data: Uint8Array;
  readonly sw: number;
}

export const SW_OK = 0x9000;
/** READ BINARY: end of file reached before Le bytes (the data is still good). */
export const SW_END_OF_FILE = 0x6282;

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase();
}

export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean)) throw new ChipError('malformed', 'not a hex string');
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

export function swHex(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}

/**
 * ISO/IEC 7816-4 cases 1-4. Short by default (the CCCD path keeps responses under 256 bytes);
 * `extended` (or data over 255 bytes, or Le over 256) gives the three-byte Lc / two-byte Le forms.
 */
export function buildApdu(cmd: Command, opts: { extended?: boolean } = {}): Uint8Array {
  const data = cmd.data ?? new Uint8Array(0);
  const le = cmd.le;
  if (data.length > 65535) throw new ChipError('too-large', 'command data over 65535 bytes');
  if (le !== undefined && (!Number.isInteger(le) || le < 1 || le > 65536)) throw new ChipError('malformed', `Le ${le} out of range`);
  const extended = opts.extended === true || data.length > 255 || (le !== undefined && le > 256);
  const header = Uint8Array.of(cmd.cla, cmd.ins, cmd.p1, cmd.p2);
  if (!extended) {
    const lc = data.length > 0 ? Uint8Array.of(data.length) : new Uint8Array(0);
    const leByte = le !== undefined ? Uint8Array.of(le & 0xff) : new Uint8Array(0);
    return concat(header, lc, data, leByte);
  }
  const lc = data.length > 0 ? Uint8Array.of(0, data.length >> 8, data.length & 0xff) : new Uint8Array(0);
  const leBytes = le === undefined ? new Uint8Array(0) : Uint8Array.of(...(data.length > 0 ? [] : [0]), (le >> 8) & 0xff, le & 0xff);
  return concat(header, lc, data, leBytes);
}

export function parseResponse(bytes: Uint8Array): Response {
  if (bytes.length < 2) throw new ChipError('malformed', `response of ${bytes.length} bytes has no status word`);
  const n = bytes.length - 2;
  return { data: bytes.slice(0, n), sw: (bytes[n]! << 8) | bytes[n + 1]! };
}

/** The error a status word means, for a step that needed success. */
export function statusError(step: string, sw: number): ChipError {
  const msg = `${step}: status ${swHex(sw)}`;
  if (sw === 0x6982) return new ChipError('access-denied', msg);
  if (sw === 0x6a82) return new ChipError('not-found', msg);
  if (sw === 0x6987 || sw === 0x6988) return new ChipError('sm-lost', msg);
  if (sw === 0x6d00 || sw === 0x6e00 || sw === 0x6a81) return new ChipError('unsupported', msg);
  return new ChipError('io', msg);
}

/** 63Cx: verification failed, x tries left (ISO/IEC 7816-4); 6300: failed, no counter. */
export function isVerificationFailure(sw: number): boolean {
  return (sw & 0xfff0) === 0x63c0 || sw === 0x6300;
}

function isAbort(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (err instanceof Error && err.name === 'AbortError');
}

/** One round trip: checks the signal first, maps transport failures to ChipError; the raw response (data ‖ SW, at least 2 bytes). */
export async function transmitChecked(transmit: Transmit, apdu: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
  if (signal.aborted) throw new ChipError('aborted', 'chip read aborted');
  let raw: Uint8Array;
  try {
    raw = await transmit(apdu, signal);
  } catch (err) {
    if (err instanceof ChipError) throw err;
    if (isAbort(err, signal)) throw new ChipError('aborted', 'chip read aborted');
    throw new ChipError('io', `transmit failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (raw.length < 2) throw new ChipError('malformed', `response of ${raw.length} bytes has no status word`);
  return raw;
}

/** One round trip, the status word split off. */
export async function exchange(transmit: Transmit, apdu: Uint8Array, signal: AbortSignal): Promise<Response> {
  return parseResponse(await transmitChecked(transmit, apdu, signal));
}

// ---- BER-TLV (ISO/IEC 7816-4 §5.2; ICAO 9303-10), bounded: every length is checked before it is read.

export interface Tlv {
  readonly tag: number;
  readonly value: Uint8Array;
  /** Offset of the first byte after this object in the buffer it was read from. */
  readonly end: number;
  /** Bytes of tag and length. */
  readonly headerLength: number;
}

/** Tag and length at `offset`, without requiring the value to be there (used to size a file from its first bytes). */
export function readTlvHeader(buf: Uint8Array, offset = 0): { tag: number; length: number; headerLength: number } {
  let at = offset;
  const byte = (): number => {
    if (at >= buf.length) throw new ChipError('malformed', 'TLV header cut short');
    return buf[at++]!;
  };
  let tag = byte();
  if ((tag & 0x1f) === 0x1f) {
    let next: number;
    let count = 0;
    do {
      next = byte();
      tag = (tag << 8) | next;
      if (++count > 2) throw new ChipError('malformed', 'TLV tag longer than 3 bytes');
    } while (next & 0x80);
  }
  const first = byte();
  let length = first;
  if (first > 0x80) {
    const n = first & 0x7f;
    if (n > 3) throw new ChipError('malformed', 'TLV length over 3 bytes');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + byte();
  } else if (first === 0x80) {
    throw new ChipError('malformed', 'indefinite TLV length');
  }
  return { tag, length, headerLength: at - offset };
}

export function readTlv(buf: Uint8Array, offset = 0): Tlv {
  const { tag, length, headerLength } = readTlvHeader(buf, offset);
  const start = offset + headerLength;
  if (start + length > buf.length) throw new ChipError('malformed', `TLV ${tag.toString(16)} runs past its container`);
  return { tag, value: buf.subarray(start, start + length), end: start + length, headerLength };
}

/** Every object in `buf`, which must hold nothing else. */
export function readTlvs(buf: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < buf.length;) {
    const t = readTlv(buf, at);
    out.push(t);
    at = t.end;
  }
  return out;
}

export function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  if (n < 0x100) return Uint8Array.of(0x81, n);
  if (n < 0x10000) return Uint8Array.of(0x82, n >> 8, n & 0xff);
  return Uint8Array.of(0x83, n >> 16, (n >> 8) & 0xff, n & 0xff);
}

/** A TLV with a 1-, 2- or 3-byte tag. */
export function tlv(tag: number, value: Uint8Array): Uint8Array {
  const tagBytes = tag > 0xffff ? [tag >> 16, (tag >> 8) & 0xff, tag & 0xff] : tag > 0xff ? [tag >> 8, tag & 0xff] : [tag];
  return concat(Uint8Array.from(tagBytes), encodeLength(value.length), value);
}
