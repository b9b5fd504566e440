// Reads a CCCD (or any ICAO 9303 eMRTD) chip: EF.CardAccess in plain, PACE (or BAC), then the asked files under
// secure messaging (chip.md §2). Returns raw file bytes; parsing and passive authentication are elsewhere.
import {
  buildApdu,
  ChipError,
  concat,
  exchange,
  readTlv,
  readTlvHeader,
  statusError,
  SW_END_OF_FILE,
  SW_OK,
  transmitChecked,
  type Command,
  type Response,
  type Transmit,
} from './apdu.js';
import { performBac, type MrzKey, type RandomBytes } from './bac.js';
import { parseCardAccess, supportedPace, VIETNAM_CARD_ACCESS, type CardAccess } from './card-access.js';
import { performPace, type PacePassword } from './pace.js';
import type { SecureMessaging } from './secure-messaging.js';

type DgNumber = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | 13 | 14 | 15 | 16;
export type FileName = 'CardAccess' | 'COM' | 'SOD' | `DG${DgNumber}`;
export type Refusal = 'access-denied' | 'not-found';

export interface ChipRead {
  /** How the chip was opened; 'vendor': a reader's own service read it (src/hal/chip/hn212.ts), not readChip. */
  readonly protocol: 'pace' | 'bac' | 'vendor';
  /** Raw file bytes as read (TLV). */
  readonly files: ReadonlyMap<FileName, Uint8Array>;
  /** Files the chip would not give, e.g. DG3 6982, DG11 6A82. */
  readonly refused: ReadonlyMap<FileName, Refusal>;
  readonly timings: readonly { step: string; ms: number; apdus: number }[];
}

export interface ReadChipOptions {
  /** 6 digits (the last 6 of the 12-digit number). */
  readonly can?: string;
  /** Only when known, never guessed: BAC, or PACE with the MRZ password when no CAN is given. */
  readonly bac?: MrzKey;
  readonly groups: readonly FileName[];
  /** Injected clock (ms). */
  readonly now: () => number;
  readonly signal: AbortSignal;
  /** Default 64 KiB. */
  readonly maxFileBytes?: number;
  /** Random source for the protocol nonces and keys (tests inject the ICAO worked examples'). */
  readonly randomBytes?: RandomBytes;
}

/** eMRTD application (ICAO 9303-10 §3.10.1); also the CCCD's. */
export const EMRTD_AID = Uint8Array.of(0xa0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01);
/** Responses stay under 256 bytes with the SM overhead (chip.md §5). */
export const MAX_CHUNK = 0xdf;
const DEFAULT_MAX_FILE = 64 * 1024;
/** READ BINARY B0 offsets are 15 bits; past that, odd-INS B1 with the offset in DO54 (ICAO 9303-10). */
const MAX_B0_OFFSET = 0x7fff;

export function fileId(name: FileName): number {
  if (name === 'CardAccess') return 0x011c;
  if (name === 'COM') return 0x011e;
  if (name === 'SOD') return 0x011d;
  const n = /^DG(\d{1,2})$/.exec(name);
  const dg = n ? Number(n[1]) : 0;
  if (dg < 1 || dg > 16) throw new ChipError('malformed', `unknown file ${String(name)}`);
  return 0x0100 + dg;
}

type Channel = (cmd: Command) => Promise<Response>;

function plainChannel(transmit: Transmit, signal: AbortSignal): Channel {
  return (cmd) => exchange(transmit, buildApdu(cmd), signal);
}

function smChannel(transmit: Transmit, sm: SecureMessaging, signal: AbortSignal): Channel {
  return async (cmd) => sm.unprotect(await transmitChecked(transmit, sm.protect(cmd), signal));
}

function refusalOf(sw: number): Refusal | undefined {
  return sw === 0x6982 ? 'access-denied' : sw === 0x6a82 ? 'not-found' : undefined;
}

async function readBinary(ch: Channel, name: FileName, offset: number, le: number): Promise<Response> {
  if (offset <= MAX_B0_OFFSET) return ch({ cla: 0x00, ins: 0xb0, p1: offset >> 8, p2: offset & 0xff, le });
  const off = offset > 0xffff ? [offset >> 16, (offset >> 8) & 0xff, offset & 0xff] : [offset >> 8, offset & 0xff];
  const rsp = await ch({ cla: 0x00, ins: 0xb1, p1: 0x00, p2: 0x00, data: Uint8Array.of(0x54, off.length, ...off), le: le + 3 });
  if (rsp.sw !== SW_OK && rsp.sw !== SW_END_OF_FILE) return rsp;
  const wrapped = readTlv(rsp.data);
  if (wrapped.tag !== 0x53) throw new ChipError('malformed', `${name}: odd-INS READ BINARY answer is not DO53`);
  return { data: wrapped.value, sw: rsp.sw };
}

/** Tag and length from the file's first bytes; a long form that does not fit in 4 bytes (over 64 KiB) costs one more read. */
async function fileHeader(ch: Channel, name: FileName, first: Uint8Array): Promise<{ length: number; headerLength: number; bytes: Uint8Array }> {
  try {
    return { ...readTlvHeader(first), bytes: first };
  } catch (err) {
    if (first.length < 4) throw err;
  }
  const more = await readBinary(ch, name, first.length, 4);
  if (more.sw !== SW_OK && more.sw !== SW_END_OF_FILE) throw statusError(`READ BINARY ${name}`, more.sw);
  const bytes = concat(first, more.data);
  return { ...readTlvHeader(bytes), bytes };
}

/** SELECT by file id, then READ BINARY: 4 bytes for the TLV length, then chunks of at most 0xDF. */
async function readFile(ch: Channel, name: FileName, maxBytes: number): Promise<Uint8Array | Refusal> {
  const id = fileId(name);
  const sel = await ch({ cla: 0x00, ins: 0xa4, p1: 0x02, p2: 0x0c, data: Uint8Array.of(id >> 8, id & 0xff) });
  if (sel.sw !== SW_OK) {
    const refusal = refusalOf(sel.sw);
    if (refusal === undefined) throw statusError(`SELECT ${name}`, sel.sw);
    return refusal;
  }
  const first = await readBinary(ch, name, 0, 4);
  if (first.sw !== SW_OK && first.sw !== SW_END_OF_FILE) {
    const refusal = refusalOf(first.sw);
    if (refusal === undefined) throw statusError(`READ BINARY ${name}`, first.sw);
    return refusal;
  }
  const head = await fileHeader(ch, name, first.data);
  const total = head.headerLength + head.length;
  if (total > maxBytes) throw new ChipError('too-large', `${name} is ${total} bytes, over the ${maxBytes}-byte limit`);
  const out = new Uint8Array(total);
  const got = head.bytes.subarray(0, total);
  out.set(got);
  for (let offset = got.length; offset < total;) {
    // An odd-INS answer wraps the bytes in DO53 (up to 3 header bytes): ask for less so the answer stays within MAX_CHUNK.
    const room = offset > MAX_B0_OFFSET ? MAX_CHUNK - 3 : MAX_CHUNK;
    const rsp = await readBinary(ch, name, offset, Math.min(room, total - offset));
    if (rsp.sw !== SW_OK && rsp.sw !== SW_END_OF_FILE) throw statusError(`READ BINARY ${name}`, rsp.sw);
    if (rsp.data.length === 0) throw new ChipError('malformed', `${name} is shorter than its TLV length`);
    const part = rsp.data.subarray(0, total - offset);
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

interface Run {
  readonly transmit: Transmit;
  readonly opts: ReadChipOptions;
  readonly timings: { step: string; ms: number; apdus: number }[];
  apdus: number;
}

async function step<T>(run: Run, name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = run.opts.now();
  const a0 = run.apdus;
  try {
    return await fn();
  } finally {
    run.timings.push({ step: name, ms: run.opts.now() - t0, apdus: run.apdus - a0 });
  }
}

/** EF.CardAccess in plain (SELECT MF gives 6D00 on CCCDs, so by file id). The Vietnamese bytes stand in when refused. */
async function cardAccess(
  run: Run,
  files: Map<FileName, Uint8Array>,
  refused: Map<FileName, Refusal>,
): Promise<{ access: CardAccess; assumed: boolean }> {
  const assumed = { access: parseCardAccess(VIETNAM_CARD_ACCESS), assumed: true };
  let result: Uint8Array | Refusal;
  try {
    result = await readFile(plainChannel(run.transmit, run.opts.signal), 'CardAccess', run.opts.maxFileBytes ?? DEFAULT_MAX_FILE);
  } catch (err) {
    // A card without the file may answer anything but 9000 (6D00, 6A86…) or garbage: treat as absent.
    // Transport failures, aborts and a too-large file stay errors.
    if (err instanceof ChipError && (err.reason === 'io' || err.reason === 'unsupported' || err.reason === 'malformed')) return assumed;
    throw err;
  }
  if (typeof result === 'string') {
    refused.set('CardAccess', result);
    return assumed;
  }
  files.set('CardAccess', result);
  try {
    return { access: parseCardAccess(result), assumed: false };
  } catch {
    return assumed;
  }
}

async function authenticate(run: Run, access: CardAccess, assumed: boolean): Promise<{ protocol: 'pace' | 'bac'; sm: SecureMessaging }> {
  const { opts } = run;
  const pace = supportedPace(access);
  const password: PacePassword | undefined = opts.can !== undefined ? { can: opts.can } : opts.bac !== undefined ? { mrz: opts.bac } : undefined;
  const random = opts.randomBytes !== undefined ? { randomBytes: opts.randomBytes } : {};
  if (pace !== undefined && password !== undefined) {
    try {
      const sm = await step(run, 'pace', () => performPace(run.transmit, { info: pace, password, signal: opts.signal, ...random }));
      return { protocol: 'pace', sm };
    } catch (err) {
      // Only a guessed EF.CardAccess may be wrong about PACE: then BAC, if its key is known.
      if (!(assumed && opts.bac !== undefined && err instanceof ChipError && err.reason === 'unsupported')) throw err;
    }
  }
  const bac = opts.bac;
  if (bac === undefined) {
    throw new ChipError(
      'unsupported',
      pace === undefined ? 'the chip offers no supported PACE and no MRZ key was given for BAC' : 'no CAN or MRZ key given',
    );
  }
  const sm = await step(run, 'bac', async () => {
    const sel = await exchange(run.transmit, buildApdu({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x0c, data: EMRTD_AID }), opts.signal);
    if (sel.sw !== SW_OK) throw statusError('SELECT eMRTD application', sel.sw);
    return performBac(run.transmit, bac, opts.signal, opts.randomBytes);
  });
  return { protocol: 'bac', sm };
}

/** Reads the asked files. Refused files are recorded, not thrown; anything else that fails throws a ChipError. */
export async function readChip(transmit: Transmit, opts: ReadChipOptions): Promise<ChipRead> {
  const run: Run = {
    opts,
    timings: [],
    apdus: 0,
    transmit: (apdu, signal) => {
      run.apdus += 1;
      return transmit(apdu, signal);
    },
  };
  const files = new Map<FileName, Uint8Array>();
  const refused = new Map<FileName, Refusal>();
  const { access, assumed } = await step(run, 'card-access', () => cardAccess(run, files, refused));
  const { protocol, sm } = await authenticate(run, access, assumed);
  const ch = smChannel(run.transmit, sm, opts.signal);
  if (protocol === 'pace') {
    await step(run, 'select-application', async () => {
      const sel = await ch({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x0c, data: EMRTD_AID });
      if (sel.sw !== SW_OK) throw statusError('SELECT eMRTD application', sel.sw);
    });
  }
  for (const name of opts.groups) {
    if (name === 'CardAccess' || files.has(name) || refused.has(name)) continue;
    const result = await step(run, `read ${name}`, () => readFile(ch, name, opts.maxFileBytes ?? DEFAULT_MAX_FILE));
    if (typeof result === 'string') refused.set(name, result);
    else files.set(name, result);
  }
  return { protocol, files, refused, timings: run.timings };
}
