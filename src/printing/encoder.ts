import type { Worker } from 'node:worker_threads';
import type { EncodeOptions } from '../hal/printer/encode.js';
import type { Ticket, TicketTemplate } from '../hal/printer/ticket.js';
import type { Logger } from '../log/logger.js';
import { startWorker } from '../util/worker.js';

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
  let nextId = 1;
  const pending = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
  const failAll = (err: Error): void => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const get = (): Worker => {
    if (worker) return worker;
    const w = startWorker(import.meta.url, 'encode-worker', { template, settings });
    w.on('message', (m: { id: number; bytes?: Uint8Array; error?: string }) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.bytes) p.resolve(m.bytes);
      else p.reject(new Error(m.error ?? 'Error'));
    });
    w.on('error', (err) => {
      log.error({ err: err.message }, 'ticket encoder worker failed; it restarts with the next ticket');
      if (worker === w) worker = null;
      failAll(new Error('encoder worker failed'));
    });
    w.on('exit', () => {
      if (worker === w) worker = null;
      failAll(new Error('encoder worker exited'));
    });
    worker = w;
    return w;
  };
  // Started now, so the first patient does not wait for the worker and its fonts (~0.5 s).
  get();
  return {
    encode(ticket) {
      return new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        get().postMessage({ id, ticket });
      });
    },
    async close() {
      const w = worker;
      worker = null;
      failAll(new Error('encoder closed'));
      await w?.terminate();
    },
  };
}
