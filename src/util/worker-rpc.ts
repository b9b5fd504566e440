import type { Worker } from 'node:worker_threads';
import { systemClock, type Clock } from './clock.js';

export interface CallOptions {
  /** Abandons the call (rejects with the signal's reason); the worker is left alone. */
  readonly signal?: AbortSignal | undefined;
  /** After this long the call rejects with `onTimeout()`'s error (the caller restarts its worker there). */
  readonly timeoutMs?: number | undefined;
  readonly onTimeout?: (() => Error) | undefined;
}

/**
 * The calls a worker owes answers to: an id per call, settled by the worker's reply, by a
 * timeout on the injected clock, by the caller's signal, or all at once when the worker dies.
 * Used by the face engine and the ticket encoder; each keeps its own worker lifecycle.
 */
export class PendingCalls<T> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: T) => void; reject: (e: Error) => void }>();

  constructor(private readonly clock: Clock = systemClock()) {}

  /** Registers a call and hands its id to `send`, which posts the request. */
  call(send: (id: number) => void, o: CallOptions = {}): Promise<T> {
    const id = this.nextId++;
    const { signal, timeoutMs } = o;
    return new Promise<T>((resolve, reject) => {
      let timer: unknown;
      const done = (): void => {
        if (timer !== undefined) this.clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
      };
      const onAbort = (): void => {
        done();
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      if (signal?.aborted) return onAbort();
      if (timeoutMs !== undefined)
        timer = this.clock.setTimeout(() => {
          done();
          reject(o.onTimeout?.() ?? new Error(`no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (v) => {
          done();
          resolve(v);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      send(id);
    });
  }

  /** The worker's answer to call `id`; false when that call is no longer waiting (timed out, aborted, failed). */
  resolve(id: number, value: T): boolean {
    const p = this.pending.get(id);
    p?.resolve(value);
    return p !== undefined;
  }

  reject(id: number, err: Error): boolean {
    const p = this.pending.get(id);
    p?.reject(err);
    return p !== undefined;
  }

  /** Every waiting call fails with `err` (the worker stopped, crashed or is being replaced). */
  failAll(err: Error): void {
    for (const p of [...this.pending.values()]) p.reject(err);
    this.pending.clear();
  }
}

/** Fails every waiting call and terminates the worker (stop, restart): the one way a worker is retired. */
export async function retireWorker<T>(worker: Worker | null, calls: PendingCalls<T>, err: Error): Promise<void> {
  calls.failAll(err);
  await worker?.terminate();
}
