import type { Worker } from 'node:worker_threads';
import type { EncodeOptions } from '../hal/printer/encode.js';
import type { Ticket, TicketTemplate } from './ticket/ticket.js';
import type { Logger } from '../log/logger.js';
import { startWorker } from '../util/worker.js';
import { PendingCalls, retireWorker } from '../util/worker-rpc.js';

export interface TicketEncoder {
  encode(ticket: Ticket): Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * Ticket → ESC/POS bytes in a worker thread (see encode-worker.ts for why). A worker that dies
 * fails the tickets it held (the spooler records them) and is started again for the next one.
 */
export function createWorkerEncoder(template: TicketTemplate, settings: EncodeOptions, log: Logger): TicketEncoder {
  let worker: Worker | null = null;
  const calls = new PendingCalls<Uint8Array>();
  const get = (): Worker => {
    if (worker) return worker;
    const w = startWorker(import.meta.url, 'encode-worker', { template, settings });
    w.on('message', (m: { id: number; bytes?: Uint8Array; error?: string }) => {
      if (m.bytes) calls.resolve(m.id, m.bytes);
      else calls.reject(m.id, new Error(m.error ?? 'Error'));
    });
    w.on('error', (err) => {
      log.error({ err: err.message }, 'ticket encoder worker failed; it restarts with the next ticket');
      if (worker === w) worker = null;
      calls.failAll(new Error('encoder worker failed'));
    });
    w.on('exit', () => {
      if (worker === w) worker = null;
      calls.failAll(new Error('encoder worker exited'));
    });
    worker = w;
    return w;
  };
  // Started now, so the first patient does not wait for the worker and its fonts (~0.5 s).
  get();
  return {
    encode(ticket) {
      return calls.call((id) => get().postMessage({ id, ticket }));
    },
    async close() {
      const w = worker;
      worker = null;
      await retireWorker(w, calls, new Error('encoder closed'));
    },
  };
}
