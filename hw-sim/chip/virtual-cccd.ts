/**
 * The virtual CCCD chip's command dispatch, as Vietnamese cards behave (chip.md §2, §6): ATR
 * 3B 80 80 01 01; SELECT MF refused with 6D00 but EF.CardAccess selectable by its file id in
 * plain; PACE/BAC commands handed to CardSecurity; after that every command protected (unwrap,
 * dispatch, wrap); the eMRTD application, files by id, READ BINARY with offsets; DG3 locked
 * (6982), DG11 absent (6A82). Placed on a vpcd reader with faults settable at run time.
 */
import type { FileName } from '../../src/chip/read-chip.js';
import { parseCommand, parseTlvs, sw, tlv, type Command } from './card-apdu.js';
import type { CardSecurity } from './card-security.js';
import { openVpcdLink, VPCD_POWER_OFF, type VpcdCard, type VpcdLink, type VpcdLinkState } from './vpcd-link.js';

export const CCCD_ATR = Uint8Array.of(0x3b, 0x80, 0x80, 0x01, 0x01);
export const CCCD_AID = Uint8Array.of(0xa0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01);

/** File ids (ICAO 9303-10): EF.CardAccess in the MF, the rest in the eMRTD application; short ids for READ BINARY. */
const BY_ID = new Map<number, FileName>([
  [0x011c, 'CardAccess'],
  [0x011e, 'COM'],
  [0x011d, 'SOD'],
  ...Array.from({ length: 16 }, (_, i) => [0x0101 + i, `DG${i + 1}` as FileName] as const),
]);
const BY_SFI = new Map<number, FileName>([...BY_ID].map(([id, name]) => [id & 0x1f, name]));

const SW_OK = 0x9000;
const respond = (data: Uint8Array, word: number): Uint8Array => {
  const out = new Uint8Array(data.length + 2);
  out.set(data);
  out.set(sw(word), data.length);
  return out;
};

export interface VirtualCccdOptions {
  /** The card's files (hw-sim/chip/card-files.ts); a card without CardAccess is a BAC-only card. */
  readonly files: ReadonlyMap<FileName, Uint8Array>;
  readonly security: CardSecurity;
}

export interface VirtualCccd extends VpcdCard {
  /** One command APDU → the response (data ‖ SW); never throws, garbage gets a status word. */
  process(apdu: Uint8Array): Uint8Array;
}

/** What the card's file system remembers between commands. */
interface FileState {
  readonly files: ReadonlyMap<FileName, Uint8Array>;
  appSelected: boolean;
  current: FileName | null;
}

/** Whether `name` may be opened now: the status word if not. */
function refusal(fs: FileState, name: FileName | undefined, secured: boolean): number | null {
  if (name === 'CardAccess') return fs.files.has(name) ? null : 0x6a82; // in the MF, readable before any authentication
  if (!secured) return 0x6982;
  if (!fs.appSelected) return 0x6a82;
  if (name === 'DG3') return 0x6982; // fingerprints: needs EAC terminal authentication
  if (!name || name === 'DG11' || !fs.files.has(name)) return 0x6a82;
  return null;
}

function select(fs: FileState, c: Command, secured: boolean): Uint8Array {
  if (c.p1 === 0x00) return sw(0x6d00); // SELECT MF: Vietnamese cards answer "instruction not supported"
  if (c.p1 === 0x04) {
    if (c.data.length !== CCCD_AID.length || !c.data.every((b, i) => b === CCCD_AID[i])) return sw(0x6a82);
    [fs.appSelected, fs.current] = [true, null];
    return sw(SW_OK);
  }
  if (c.p1 !== 0x02 || c.p2 !== 0x0c) return sw(0x6a86);
  if (c.data.length !== 2) return sw(0x6700);
  const name = BY_ID.get((c.data[0]! << 8) | c.data[1]!);
  const refused = refusal(fs, name, secured);
  if (refused !== null) return sw(refused);
  fs.current = name!;
  return sw(SW_OK);
}

function readBinary(fs: FileState, c: Command, secured: boolean): Uint8Array {
  let offset = (c.p1 << 8) | c.p2;
  if (c.p1 & 0x80) {
    // short EF id in P1, offset in P2: selects the file as it reads
    const name = BY_SFI.get(c.p1 & 0x1f);
    const refused = refusal(fs, name, secured);
    if (refused !== null) return sw(refused);
    [fs.current, offset] = [name!, c.p2];
  }
  if (fs.current === null) return sw(0x6986);
  if (c.le === null) return sw(0x6700);
  const data = fs.files.get(fs.current) ?? new Uint8Array(0);
  if (offset > data.length) return sw(0x6b00);
  const chunk = data.subarray(offset, offset + c.le);
  return respond(chunk, chunk.length < c.le ? 0x6282 : SW_OK);
}

/** Odd-INS READ BINARY (ICAO 9303-10): offsets past 32767 in DO54, the bytes back in DO53. Current file only. */
function readBinaryOdd(fs: FileState, c: Command): Uint8Array {
  if (c.p1 !== 0 || c.p2 !== 0) return sw(0x6a86);
  if (fs.current === null) return sw(0x6986);
  if (c.le === null) return sw(0x6700);
  const at = parseTlvs(c.data)?.find((t) => t.tag === 0x54)?.value;
  if (!at || at.length < 1 || at.length > 3) return sw(0x6a80);
  const offset = at.reduce((n, b) => n * 256 + b, 0);
  const data = fs.files.get(fs.current) ?? new Uint8Array(0);
  if (offset > data.length) return sw(0x6b00);
  // as many bytes as fit in Le together with DO53's tag and length
  let n = Math.min(data.length - offset, c.le - 2);
  if (n > 0x7f) n = Math.min(n, c.le - 3);
  if (n > 0xff) n = Math.min(n, c.le - 4);
  const answer = tlv(0x53, data.subarray(offset, offset + Math.max(0, n)));
  return respond(answer, offset + n >= data.length && answer.length < c.le ? 0x6282 : SW_OK);
}

export function createVirtualCccd(o: VirtualCccdOptions): VirtualCccd {
  const { security } = o;
  const fs: FileState = { files: o.files, appSelected: false, current: null };

  const forget = (): void => {
    security.reset();
    [fs.appSelected, fs.current] = [false, null];
  };

  const dispatch = (apdu: Uint8Array, secured: boolean): Uint8Array => {
    const c = parseCommand(apdu);
    if (!c) return sw(0x6700);
    if ((c.cla & ~0x0c) !== 0) return sw(0x6e00);
    if (c.ins === 0xa4) return select(fs, c, secured);
    if (c.ins === 0xb0) return readBinary(fs, c, secured);
    if (c.ins === 0xb1) return readBinaryOdd(fs, c);
    return sw(0x6d00);
  };

  const process = (apdu: Uint8Array): Uint8Array => {
    if (apdu.length < 4) return sw(0x6700);
    if (apdu[0]! & 0x0c) {
      const unwrapped = security.unwrap(apdu);
      if (!unwrapped.ok) return unwrapped.response;
      return security.wrap(security.authenticate(unwrapped.plain) ?? dispatch(unwrapped.plain, true));
    }
    const answer = security.authenticate(apdu);
    if (answer) return answer;
    if (security.secured) {
      // A plain command inside a secure session ends it (ICAO 9303-11 §9.8): authenticate again.
      forget();
      return sw(0x6987);
    }
    return dispatch(apdu, false);
  };

  return {
    atr: () => CCCD_ATR,
    power: forget,
    apdu: process,
    process(apdu) {
      try {
        return process(apdu);
      } catch {
        return sw(0x6f00); // no precise diagnosis: a card bug must not take the reader down
      }
    },
  };
}

export interface ChipFaults {
  /** The card leaves the field when command N+1 arrives (that one is never answered). */
  readonly removeAfterApdus?: number;
  /** Every answer is held back this long, in ms (a weak field, a slow chip). */
  readonly slowMs?: number;
  /** A card without a chip (a QR-only older card): nothing ever reaches the reader. */
  readonly noChip?: boolean;
}

export type PlacedCardState = VpcdLinkState | 'no-chip';

export interface PlacedCard {
  state(): PlacedCardState;
  /** Takes effect now; the count for removeAfterApdus starts again. */
  setFaults(faults: ChipFaults): void;
  /** Commands answered since the card was placed. */
  answered(): number;
  /** Resolves once pcscd's vpcd has the card's connection. */
  connected(signal?: AbortSignal): Promise<void>;
  /** Takes the card off the reader (for good: place it again for a new session). */
  remove(): void;
}

export interface PlaceOptions {
  /** vpcd's port for the slot (the reader.conf port, + n for slot n). */
  readonly port: number;
  readonly host?: string;
  readonly faults?: ChipFaults;
  readonly retryMs?: number;
  /** How the slow fault waits; setTimeout by default. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** The removeAfterApdus fault has just taken the card off the reader (hw-sim puts it back). */
  readonly onFaultRemoval?: () => void;
}

/** Puts the card on a vpcd slot; faults apply from now on and can be changed at run time. */
export function placeCard(card: VirtualCccd, o: PlaceOptions): PlacedCard {
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let faults: ChipFaults = o.faults ?? {};
  let seen = 0;
  let answered = 0;
  let removed = false;
  let link: VpcdLink | null = null;

  const faulty: VpcdCard = {
    atr: () => card.atr(),
    power: (code) => card.power(code),
    apdu: async (command) => {
      seen++;
      if (faults.removeAfterApdus !== undefined && seen > faults.removeAfterApdus) {
        const first = !removed;
        remove();
        if (first) o.onFaultRemoval?.();
        return null;
      }
      if (faults.slowMs) await sleep(faults.slowMs);
      if (removed) return null;
      answered++;
      return card.process(command);
    },
  };
  const place = (): void => {
    if (!removed && !faults.noChip && !link)
      link = openVpcdLink({ port: o.port, card: faulty, ...(o.host ? { host: o.host } : {}), ...(o.retryMs ? { retryMs: o.retryMs } : {}) });
  };
  const lift = (): void => {
    link?.close();
    link = null;
    card.power(VPCD_POWER_OFF);
  };
  function remove(): void {
    removed = true;
    lift();
  }

  place();
  return {
    state: () => (removed ? 'closed' : faults.noChip ? 'no-chip' : (link?.state() ?? 'connecting')),
    setFaults(next) {
      faults = { ...next };
      seen = 0;
      if (faults.noChip) lift();
      else place();
    },
    answered: () => answered,
    connected(signal) {
      if (removed) return Promise.reject(new Error('the card was removed'));
      if (!link) return Promise.reject(new Error('the card has no chip (fault no-chip)'));
      return link.connected(signal);
    },
    remove,
  };
}
