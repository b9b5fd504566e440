/**
 * Where the HN-212's result for the card on the reader waits for the kiosk's read, or the read waits
 * for the result. One result at a time, used once; a result nobody asked for is wiped after
 * freshForMs (it holds a citizen's portrait and data); a newer card or a lost connection drops it.
 */
import { ChipError } from '../../chip/apdu.js';
import type { Clock } from '../../util/clock.js';
import type { Hn212Files } from './hn212-events.js';

/** What the service sent for one card: its groups (decoded), or why there are none. */
export type Outcome = { readonly read: Hn212Files; readonly decodeMs: number } | { readonly error: ChipError };

export interface ResultSlot {
  /** Hands the result to the waiting read, else keeps it for freshForMs. Replaces (and wipes) a kept one. */
  put(outcome: Outcome): void;
  /** The kept result if still fresh (taken: used once), else the next one; rejects on abort or with onTimeout()'s error. */
  take(signal: AbortSignal, timeoutMs: number, onTimeout: () => ChipError): Promise<Outcome>;
  /** Wipes the kept result, if any. */
  clear(): void;
  /** Rejects the waiting read, if any. */
  fail(error: ChipError): void;
  waiting(): boolean;
}

export function wipeOutcome(o: Outcome | null): void {
  if (o && 'read' in o) for (const b of o.read.files.values()) b.fill(0);
}

interface Waiter {
  readonly give: (o: Outcome) => void;
  readonly fail: (e: ChipError) => void;
}

export function createResultSlot(o: { clock: Clock; freshForMs: number; onExpired: () => void }): ResultSlot {
  const { clock } = o;
  let kept: { outcome: Outcome; at: number; timer: unknown } | null = null;
  let waiter: Waiter | null = null;

  const clear = (): void => {
    if (!kept) return;
    clock.clearTimeout(kept.timer);
    wipeOutcome(kept.outcome);
    kept = null;
  };

  const wait = (signal: AbortSignal, timeoutMs: number, onTimeout: () => ChipError): Promise<Outcome> =>
    new Promise<Outcome>((resolve, reject) => {
      const end = (): void => {
        clock.clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (waiter === self) waiter = null;
      };
      const onAbort = (): void => {
        end();
        reject(new ChipError('aborted', 'the HN-212 read was aborted'));
      };
      const timer = clock.setTimeout(() => {
        end();
        reject(onTimeout());
      }, timeoutMs);
      const self: Waiter = {
        give: (out) => {
          end();
          resolve(out);
        },
        fail: (e) => {
          end();
          reject(e);
        },
      };
      waiter = self;
      signal.addEventListener('abort', onAbort, { once: true });
    });

  return {
    put(outcome) {
      clear();
      if (waiter) return waiter.give(outcome);
      const timer = clock.setTimeout(() => {
        clear();
        o.onExpired();
      }, o.freshForMs);
      kept = { outcome, at: clock.now(), timer };
    },
    take(signal, timeoutMs, onTimeout) {
      if (signal.aborted) return Promise.reject(new ChipError('aborted', 'the HN-212 read was aborted'));
      if (waiter) return Promise.reject(new ChipError('io', 'another read is already waiting for the HN-212 reader'));
      if (kept && clock.now() - kept.at <= o.freshForMs) {
        const { outcome, timer } = kept;
        clock.clearTimeout(timer);
        kept = null;
        return Promise.resolve(outcome);
      }
      clear();
      return wait(signal, timeoutMs, onTimeout);
    },
    clear,
    fail(error) {
      waiter?.fail(error);
    },
    waiting: () => waiter !== null,
  };
}
