/**
 * One connected card over PC/SC: APDUs one at a time, the T=0 transport status words handled
 * (61xx: more data, fetched with GET RESPONSE; 6Cxx: wrong Le, repeated with the right one),
 * PC/SC errors turned into ChipLinkError reasons. The caller's AbortSignal ends the wait at
 * once; the native call it cannot cancel is waited for before the next one starts, so the
 * card never sees two commands at a time.
 */
import { concat } from '../../util/bytes.js';
import type { Clock } from '../../util/clock.js';
import { ChipLinkError, type CardLink } from './port.js';

// The part of the smartcard module this driver uses (a fake can stand in for tests).
export interface ScCard {
  readonly atr: Uint8Array | null;
  transmit(command: Buffer, options?: { maxRecvLength?: number }): Promise<Uint8Array>;
  reconnect(shareMode: number, protocols: number, initialization: number): Promise<number>;
  disconnect(disposition?: number): void;
}
export interface ScReader {
  readonly name: string;
  readonly state: number;
  readonly atr: Uint8Array | null;
  connect(shareMode: number, protocols: number): Promise<ScCard>;
}
export interface ScContext {
  listReaders(): ScReader[];
  close(): void;
}
export interface ScMonitorEvent {
  readonly type: string;
  /** The reader's name; for `error`, the PC/SC error message. */
  readonly reader: string;
  readonly state: number;
}
export interface ScMonitor {
  start(callback: (event: ScMonitorEvent) => void): void;
  stop(): void;
}
export interface SmartcardModule {
  readonly Context: new () => ScContext;
  readonly ReaderMonitor: new () => ScMonitor;
  readonly SCARD_SHARE_SHARED: number;
  readonly SCARD_PROTOCOL_T0: number;
  readonly SCARD_PROTOCOL_T1: number;
  readonly SCARD_STATE_PRESENT: number;
  readonly SCARD_RESET_CARD: number;
  readonly SCARD_LEAVE_CARD: number;
}

export type RawTransmit = (apdu: Uint8Array, signal: AbortSignal) => Promise<Uint8Array>;

/** An extended-length response and its status word: the largest answer a card can give. */
const MAX_RESPONSE = 65_536 + 2;
/** GET RESPONSE rounds before the card is taken to be looping. */
const MAX_GET_RESPONSE_ROUNDS = 300;
/** How long release waits for a native call (a command in flight, the reset) before leaving the clean-up to it. */
const RELEASE_WAIT_MS = 3000;

const noop = (): void => {};
/** No status word came back: vpcd says so when its card has gone; a real reader might after a glitch. */
class Mute extends Error {}
export const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
/** Clean-up calls on handles pcscd may have dropped already. */
export const quietly = (...fns: (() => void)[]): void => {
  for (const fn of fns) {
    try {
      fn();
    } catch {
      // gone already
    }
  }
};

/** The command with its Le replaced (or added): for 6Cxx. Null for an extended or malformed command. */
export function withLe(apdu: Uint8Array, le: number): Uint8Array | null {
  if (apdu.length < 4) return null;
  if (apdu.length === 4) return Uint8Array.of(...apdu, le);
  if (apdu.length === 5) return Uint8Array.of(...apdu.subarray(0, 4), le);
  const lc = apdu[4]!;
  if (lc === 0) return null;
  if (apdu.length === 5 + lc) return Uint8Array.of(...apdu, le);
  if (apdu.length === 6 + lc) return Uint8Array.of(...apdu.subarray(0, 5 + lc), le);
  return null;
}

/**
 * One command with the transport status words resolved: the caller sees the whole response
 * and the final status word, as if the card had answered at once.
 */
export async function exchange(raw: RawTransmit, apdu: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
  const checked = async (command: Uint8Array): Promise<Uint8Array> => {
    const r = await raw(command, signal);
    if (r.length < 2) throw new ChipLinkError('io', `the card answered ${r.length} byte(s), not even a status word`);
    return r;
  };
  let res = await checked(apdu);
  if (res[res.length - 2] === 0x6c) {
    const again = withLe(apdu, res[res.length - 1]!);
    if (again) res = await checked(again);
  }
  if (res[res.length - 2] !== 0x61) return res;
  // GET RESPONSE keeps the logical channel of an interindustry class byte; SM is not applied to it.
  const cla = apdu[0]! < 0x40 ? apdu[0]! & 0x03 : 0x00;
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let round = 0; res[res.length - 2] === 0x61; round++) {
    const data = res.subarray(0, res.length - 2);
    total += data.length;
    if (round >= MAX_GET_RESPONSE_ROUNDS || total > MAX_RESPONSE)
      throw new ChipLinkError('io', 'the card kept answering 61xx (more data) past any sane size');
    parts.push(data);
    res = await checked(Uint8Array.of(cla, 0xc0, 0x00, 0x00, res[res.length - 1]!));
  }
  parts.push(res);
  return concat(...parts);
}

/** What a PC/SC error message says about the card (the binding gives messages, not codes). */
export function pcscErrorKind(msg: string): 'card-removed' | 'no-service' | 'ambiguous' | 'io' {
  if (/removed|no smart card|reader unavailable|unknown reader|unpowered/i.test(msg)) return 'card-removed';
  if (/service not running|service stopped/i.test(msg)) return 'no-service';
  // A card pulled mid-command usually shows as a failed transaction first; pcscd notices the
  // empty slot only at its next poll.
  if (/transaction failed|communication error|invalid handle|unresponsive|not transacted/i.test(msg)) return 'ambiguous';
  return 'io';
}

/** Rejects with `aborted` as soon as the signal fires; `p` itself keeps running. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new ChipLinkError('aborted', `${what} aborted`));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new ChipLinkError('aborted', `${what} aborted`));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export interface PcscLinkOptions {
  readonly reader: string;
  readonly clock: Clock;
  /**
   * The binding's constants for release: reconnect with a reset (the card's secure channel ends
   * with the session), then disconnect leaving the card. Disconnecting with a reset would hold
   * the JS thread while the card answers (a deadlock when the card is simulated in-process).
   */
  readonly release: { readonly share: number; readonly protocols: number; readonly reset: number; readonly leave: number };
  /** Resolves true once pcscd reports the card gone from the reader, false after a short grace. */
  readonly cardGone: (signal: AbortSignal) => Promise<boolean>;
  /** Frees the PC/SC context the card was connected through. */
  readonly closeContext: () => void;
}

export function pcscLink(card: ScCard, atr: Uint8Array, o: PcscLinkOptions): CardLink {
  let released = false;
  /** Settles when the last native transmit does; the next one waits for it. */
  let nativeIdle: Promise<void> = Promise.resolve();
  /** Serialises whole exchanges (a GET RESPONSE sequence must not interleave with another command). */
  let chain: Promise<void> = Promise.resolve();

  const failure = async (e: unknown, signal: AbortSignal): Promise<ChipLinkError> => {
    if (e instanceof ChipLinkError) return e;
    const msg = message(e);
    const kind = e instanceof Mute ? 'ambiguous' : pcscErrorKind(msg);
    if (kind === 'card-removed') return new ChipLinkError('card-removed', `card removed from ${o.reader} (${msg})`);
    if (kind === 'no-service') return new ChipLinkError('no-service', `pcscd went away during a command (${msg})`);
    if (kind === 'ambiguous' && (await o.cardGone(signal).catch(() => false)))
      return new ChipLinkError('card-removed', `card removed from ${o.reader} during a command (${msg})`);
    if (signal.aborted) return new ChipLinkError('aborted', 'transmit aborted');
    return new ChipLinkError('io', `${o.reader}: ${msg}`);
  };

  const raw: RawTransmit = async (apdu, signal) => {
    await abortable(nativeIdle, signal, 'transmit');
    if (released) throw new ChipLinkError('io', 'the card link was released');
    // The binding throws synchronously for a handle it knows is dead: make that a rejection too.
    const pending = new Promise<Uint8Array>((resolve) => resolve(card.transmit(Buffer.from(apdu), { maxRecvLength: MAX_RESPONSE })));
    nativeIdle = pending.then(noop, noop);
    try {
      const response = new Uint8Array(await abortable(pending, signal, 'transmit'));
      if (response.length < 2) throw new Mute(`the card answered ${response.length} byte(s), not even a status word`);
      return response;
    } catch (e) {
      throw await failure(e, signal);
    }
  };

  const cleanup = (): void =>
    quietly(
      () => card.disconnect(o.release.leave),
      () => o.closeContext(),
    );
  /** Whether `p` settled within RELEASE_WAIT_MS. */
  const settles = async (p: Promise<unknown>): Promise<boolean> => {
    let timer: unknown;
    const inTime = await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((r) => (timer = o.clock.setTimeout(() => r(false), RELEASE_WAIT_MS))),
    ]);
    o.clock.clearTimeout(timer);
    return inTime;
  };

  return {
    atr,
    transmit(apdu, signal) {
      if (released) return Promise.reject(new ChipLinkError('io', 'the card link was released'));
      const run = chain.then(() => exchange(raw, apdu, signal));
      chain = run.then(noop, noop);
      return run;
    },
    async release() {
      if (released) return;
      released = true;
      // Any call while a command is in flight would block on pcsc-lite's context lock: the last call cleans up.
      if (!(await settles(nativeIdle))) return void nativeIdle.then(cleanup);
      const { share, protocols, reset } = o.release;
      const resetting = new Promise<number>((resolve) => resolve(card.reconnect(share, protocols, reset)));
      if (await settles(resetting)) cleanup();
      else void resetting.then(cleanup, cleanup);
    },
  };
}
