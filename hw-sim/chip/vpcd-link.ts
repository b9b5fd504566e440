/**
 * The card side of vpcd's socket protocol (frankmorgner/vsmartcard vpcd.c; chip.md §10): vpcd
 * runs inside pcscd and listens, the virtual card dials 127.0.0.1:port. Every message both
 * ways is a 2-byte big-endian length and the payload. A 1-byte payload from vpcd is a control
 * code (0 power off, 1 power on, 2 reset, 4 get ATR; only 4 is answered, with the framed ATR);
 * anything longer is a command APDU, answered by one framed response. Connecting is "card
 * inserted", closing is "card removed". If vpcd drops the connection (pcscd restarted) the card
 * dials again, as a card left on a reader would be seen again.
 */
import { connect, type Socket } from 'node:net';

export const VPCD_POWER_OFF = 0;
export const VPCD_POWER_ON = 1;
export const VPCD_RESET = 2;
export const VPCD_GET_ATR = 4;

export interface VpcdCard {
  atr(): Uint8Array;
  /** Power off, power on or reset: the card forgets its session. */
  power(code: typeof VPCD_POWER_OFF | typeof VPCD_POWER_ON | typeof VPCD_RESET): void;
  /** A command APDU → the response (data ‖ SW); null: the card is gone and gives no answer. */
  apdu(command: Uint8Array): Uint8Array | null | Promise<Uint8Array | null>;
}

export type VpcdLinkState = 'connecting' | 'connected' | 'closed';

export interface VpcdLinkOptions {
  readonly port: number;
  readonly host?: string;
  readonly card: VpcdCard;
  /** Pause before dialling again after vpcd refused or dropped the connection; 300 ms by default. */
  readonly retryMs?: number;
  readonly onState?: (state: VpcdLinkState) => void;
}

export interface VpcdLink {
  state(): VpcdLinkState;
  /** Resolves once the connection is up (pcscd sees a card at its next poll). */
  connected(signal?: AbortSignal): Promise<void>;
  /** Ends the connection for good: pcscd sees the card removed. */
  close(): void;
}

/** One message on the wire. */
export function frame(payload: Uint8Array): Uint8Array {
  if (payload.length > 0xffff) throw new RangeError(`a vpcd message holds at most 65535 bytes, not ${payload.length}`);
  const out = new Uint8Array(payload.length + 2);
  out[0] = payload.length >> 8;
  out[1] = payload.length & 0xff;
  out.set(payload, 2);
  return out;
}

/** Splits the byte stream back into messages; bytes of a message not yet complete are kept. */
export function createFrameReader(): { push(chunk: Uint8Array): Uint8Array[] } {
  let pending = new Uint8Array(0);
  return {
    push(chunk) {
      const all = new Uint8Array(pending.length + chunk.length);
      all.set(pending);
      all.set(chunk, pending.length);
      const out: Uint8Array[] = [];
      let at = 0;
      while (all.length - at >= 2) {
        const len = (all[at]! << 8) | all[at + 1]!;
        if (all.length - at - 2 < len) break;
        out.push(all.slice(at + 2, at + 2 + len));
        at += 2 + len;
      }
      pending = all.slice(at);
      return out;
    },
  };
}

export function openVpcdLink(o: VpcdLinkOptions): VpcdLink {
  const host = o.host ?? '127.0.0.1';
  const retryMs = o.retryMs ?? 300;
  let state: VpcdLinkState = 'connecting';
  let socket: Socket | null = null;
  let timer: NodeJS.Timeout | null = null;
  const waiters = new Set<() => void>();

  const setState = (next: VpcdLinkState): void => {
    if (next === state) return;
    state = next;
    o.onState?.(next);
    for (const w of [...waiters]) w();
  };

  /** Answers in arrival order, even when the card takes its time over one command. */
  const serve = (s: Socket, message: Uint8Array, queue: Promise<void>): Promise<void> =>
    queue.then(async () => {
      if (socket !== s) return;
      if (message.length === 1) {
        const code = message[0]!;
        if (code === VPCD_GET_ATR) s.write(frame(o.card.atr()));
        else if (code === VPCD_POWER_OFF || code === VPCD_POWER_ON || code === VPCD_RESET) o.card.power(code);
        return;
      }
      if (message.length === 0) return;
      const response = await o.card.apdu(message);
      if (response && socket === s) s.write(frame(response));
    });

  const dial = (): void => {
    timer = null;
    if (state === 'closed') return;
    const s = connect({ port: o.port, host });
    s.setNoDelay(true);
    socket = s;
    const reader = createFrameReader();
    let queue: Promise<void> = Promise.resolve();
    s.on('connect', () => socket === s && setState('connected'));
    s.on('data', (chunk: Buffer) => {
      for (const m of reader.push(chunk))
        queue = serve(s, m, queue).catch(() => {
          s.destroy(); // a card that throws is a card that fell off the reader
        });
    });
    s.on('error', () => {}); // refused or reset: 'close' follows and decides
    s.on('close', () => {
      if (socket !== s) return;
      socket = null;
      if (state === 'closed') return;
      setState('connecting');
      timer = setTimeout(dial, retryMs);
    });
  };

  dial();
  return {
    state: () => state,
    connected(signal) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (state === 'connected') resolve();
          else if (state === 'closed') reject(new Error('the card was removed'));
          else if (signal?.aborted) reject(new Error('aborted'));
          else return;
          waiters.delete(check);
          signal?.removeEventListener('abort', check);
        };
        waiters.add(check);
        signal?.addEventListener('abort', check, { once: true });
        check();
      });
    },
    close() {
      if (state === 'closed') return;
      if (timer) clearTimeout(timer);
      const s = socket;
      socket = null;
      setState('closed');
      s?.destroy();
    },
  };
}
