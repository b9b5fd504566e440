/**
 * The reading side of `npm run bench -- chip`, on a thread of its own: kioskd's readCard over its
 * PC/SC driver, with the card link's transmit, connect and release timed. Own thread because the
 * virtual card answers on the bench's main thread (hw-sim's sim-chip, as in `hw-sim start`), and
 * the PC/SC binding has synchronous calls (disconnect, listReaders) that wait on pcscd, which may
 * be waiting for the card at that moment: on one thread each would wait for the other (observed;
 * test/helpers/virtual-card-thread.ts says the same). On a kiosk the reader is in kioskd's process.
 * This module is both the main thread's handle and the worker's entry.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { readCard } from '../src/chip/card-reading.js';
import { loadTrustAnchors } from '../src/chip/trust-anchors.js';
import { openPcscChipReader } from '../src/hal/chip/pcsc.js';
import type { CardLink, ChipReaderPort } from '../src/hal/chip/port.js';
import { createLogger } from '../src/log/logger.js';
import { systemClock } from '../src/util/clock.js';

export interface ReaderSpec {
  readonly readerPattern: string;
  readonly trustAnchorsDir: string;
  /** The QR's number: the CAN is its last 6 digits, and DG13 must hold it. Never shown. */
  readonly idNumber: string;
  /** Reads in all, the first a warm-up. */
  readonly reads: number;
}

/** One read, by where its time went; no content of the card. */
export interface ReadResult {
  readonly totalMs: number;
  readonly transmitMs: number;
  readonly apdus: number;
  /** SCardConnect and the release (reset and disconnect): PC/SC round trips that are not APDUs. */
  readonly linkMs: number;
  readonly protocol: string;
  readonly pa: string;
  readonly portraitBytes: number | null;
}

type FromReader = { type: 'read'; read: ReadResult } | { type: 'failed'; message: string } | { type: 'done' };

export interface ReaderThread {
  /** Resolves with every read, or rejects with why the reads stopped. */
  readonly done: Promise<ReadResult[]>;
  /** Cancels the read in progress; the thread closes the reader and ends (terminated after 5 s). */
  stop(): Promise<void>;
}

export function startReaderThread(spec: ReaderSpec, onRead: (n: number) => void): ReaderThread {
  const src = `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}); register(); await import(${JSON.stringify(import.meta.url)});`;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(src)}`), { workerData: { chipReader: spec } });
  const exited = new Promise<void>((r) => worker.once('exit', () => r()));
  const reads: ReadResult[] = [];
  const done = new Promise<ReadResult[]>((resolve, reject) => {
    worker.on('message', (m: FromReader) => {
      if (m.type === 'read') onRead(reads.push(m.read));
      else if (m.type === 'failed') reject(new Error(m.message));
      else resolve(reads);
    });
    worker.on('error', reject);
    void exited.then(() => reject(new Error('the reading thread ended before its reads')));
  });
  done.catch(() => {});
  return {
    done,
    async stop() {
      worker.postMessage('stop');
      const late = setTimeout(() => void worker.terminate(), 5000);
      await exited;
      clearTimeout(late);
    },
  };
}

/** The reader as readCard sees it, with each card link's transmit, connect and release timed into `times()`. */
function timedReader(reader: ChipReaderPort, times: () => { transmitMs: number; apdus: number; linkMs: number }): ChipReaderPort {
  const timed = <T>(p: Promise<T>, add: (ms: number) => void): Promise<T> => {
    const t0 = performance.now();
    return p.finally(() => add(performance.now() - t0));
  };
  const wrap = (link: CardLink): CardLink => ({
    atr: link.atr,
    transmit: (apdu, signal) => {
      times().apdus += 1;
      return timed(link.transmit(apdu, signal), (ms) => (times().transmitMs += ms));
    },
    release: () => timed(link.release(), (ms) => (times().linkMs += ms)),
  });
  return {
    state: () => reader.state(),
    reason: () => reader.reason(),
    onStateChange: (l) => reader.onStateChange(l),
    onCard: (l) => reader.onCard(l),
    connect: async (signal) => wrap(await timed(reader.connect(signal), (ms) => (times().linkMs += ms))),
    close: () => reader.close(),
  };
}

async function waitReady(reader: ChipReaderPort, signal: AbortSignal): Promise<void> {
  const until = performance.now() + 10_000;
  while (reader.state() !== 'ready' && !signal.aborted) {
    if (performance.now() > until) throw new Error(`the chip reader did not get ready: ${reader.reason()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function runReads(spec: ReaderSpec, signal: AbortSignal, post: (m: FromReader) => void): Promise<void> {
  const clock = systemClock();
  const pcsc = await openPcscChipReader(
    { readerPattern: spec.readerPattern, connectTimeoutMs: 5000 },
    { clock, log: createLogger({ level: 'warn', pretty: 'never' }) },
  );
  try {
    const { anchors, errors } = loadTrustAnchors(spec.trustAnchorsDir);
    if (anchors.length === 0) throw new Error(`no trust anchor for passive authentication: ${errors.join('; ') || 'none written'}`);
    let times = { transmitMs: 0, apdus: 0, linkMs: 0 };
    const reader = timedReader(pcsc, () => times);
    await waitReady(reader, signal);
    for (let i = 0; i < spec.reads && !signal.aborted; i++) {
      times = { transmitMs: 0, apdus: 0, linkMs: 0 };
      // A signal of its own per read, as each check-in has (readCard leaves a wipe listener on it).
      const one = new AbortController();
      const cancel = (): void => one.abort();
      signal.addEventListener('abort', cancel, { once: true });
      const t0 = performance.now();
      const reading = await readCard(
        { reader, card: { idNumber: spec.idNumber }, clock, signal: one.signal },
        { placeTimeoutMs: 15_000, readTimeoutMs: 60_000, retries: 0, anchors },
      ).finally(() => signal.removeEventListener('abort', cancel));
      const totalMs = performance.now() - t0;
      reading.wipe();
      const o = reading.outcome;
      if (signal.aborted) break;
      // The outcome holds no personal data: its code and reason may be shown.
      if (o.kind !== 'read') throw new Error(`read ${i + 1} ended in ${o.kind} ${o.code}: ${o.reason}`);
      post({ type: 'read', read: { totalMs, ...times, protocol: o.protocol, pa: String(o.pa), portraitBytes: o.portrait?.bytes ?? null } });
    }
    post({ type: 'done' });
  } finally {
    await pcsc.close();
  }
}

const data = workerData as { chipReader?: ReaderSpec } | null;
if (!isMainThread && data?.chipReader) {
  const port = parentPort!;
  const ac = new AbortController();
  port.on('message', (m) => m === 'stop' && ac.abort());
  runReads(data.chipReader, ac.signal, (m) => port.postMessage(m))
    .catch((e: unknown) => port.postMessage({ type: 'failed', message: e instanceof Error ? e.message : String(e) } satisfies FromReader))
    .finally(() => port.close());
}
