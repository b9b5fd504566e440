import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { connectTcp } from '../../platform/tcp-connect.js';
import { isStatusByte } from './status.js';

/**
 * A byte pipe to a printer: raw TCP 9100 (network printers, hw-sim) or the usblp device file
 * (`/dev/usb/lp0`, `/dev/kiosk-printer`). Both carry the job one way and the one-byte answers
 * to DLE EOT the other way.
 */
export interface PrinterLink {
  /** Resolves once the OS has taken every byte; rejects on abort or when the link breaks. */
  write(bytes: Uint8Array, signal: AbortSignal): Promise<void>;
  /** Sends DLE EOT n and resolves with the status byte; rejects after `timeoutMs`. */
  query(n: 1 | 2 | 3 | 4, timeoutMs: number, signal: AbortSignal): Promise<number>;
  /**
   * Sends GS r 1, which a printer answers only once it has processed everything before it
   * (DLE EOT is answered on receipt, ahead of the buffered job): resolves when the job is
   * really on paper. Rejects after `timeoutMs`.
   */
  confirm(timeoutMs: number, signal: AbortSignal): Promise<number>;
  onClose(listener: (reason: string) => void): void;
  close(): void;
}

export type PrinterLinkOpener = (signal: AbortSignal) => Promise<PrinterLink>;

const CONNECT_TIMEOUT_MS = 3000;

const abortError = (signal: AbortSignal): Error => (signal.reason instanceof Error ? signal.reason : new Error('aborted'));

const DLE_EOT = (n: number): Uint8Array => Uint8Array.of(0x10, 0x04, n);
/** GS r 1: transmit paper sensor status, processed in order with the print data. */
const GS_R_1 = Uint8Array.of(0x1d, 0x72, 0x01);

/** A request waiting for its one-byte answer. */
interface Waiter {
  answer(b: number): void;
  fail(err: Error): void;
}

/**
 * Matches answers to requests. DLE EOT answers have bits 1 and 4 set; GS r answers have bit 4
 * clear, so the two never mix. Each kind is answered in the order asked; other bytes (automatic
 * status packets, noise) are dropped. After a timeout the stream may be out of step: the
 * printer port then reconnects rather than trust the next byte. When the link closes, every
 * request still waiting fails at once (the port must tell "the printer went away" from "the
 * printer is slow to answer").
 */
export class Answers {
  private status: Waiter[] = [];
  private inOrder: Waiter[] = [];
  private wake: (() => void) | null = null;
  /** Resolves after `idleMs`, or at once when someone starts waiting for an answer (poll loops sleep on it). */
  idle(idleMs: number, busyMs: number): Promise<void> {
    const ms = this.status.length + this.inOrder.length > 0 ? busyMs : idleMs;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
  take(byte: number): void {
    if (isStatusByte(byte)) this.status.shift()?.answer(byte);
    else if ((byte & 0x90) === 0) this.inOrder.shift()?.answer(byte);
  }
  waitStatus(timeoutMs: number, signal: AbortSignal): Promise<number> {
    return this.wait(this.status, 'a status request', timeoutMs, signal);
  }
  waitInOrder(timeoutMs: number, signal: AbortSignal): Promise<number> {
    return this.wait(this.inOrder, 'the end of the job', timeoutMs, signal);
  }
  /** The link closed: nothing will answer the requests still waiting. */
  clear(reason = 'the printer link closed'): void {
    const waiting = [...this.status, ...this.inOrder];
    this.status = [];
    this.inOrder = [];
    for (const w of waiting) w.fail(new LinkClosedError(reason));
  }
  private wait(queue: Waiter[], what: string, timeoutMs: number, signal: AbortSignal): Promise<number> {
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        const i = queue.indexOf(w);
        if (i >= 0) queue.splice(i, 1);
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const w: Waiter = {
        answer: (b) => {
          cleanup();
          resolve(b);
        },
        fail: (err) => {
          cleanup();
          reject(err);
        },
      };
      const timer = setTimeout(() => w.fail(new Error(`the printer did not answer ${what} within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = (): void => w.fail(abortError(signal));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      queue.push(w);
      this.wake?.();
    });
  }
}

/** A request failed because the link closed under it (not because the printer was slow). */
export class LinkClosedError extends Error {
  override readonly name = 'LinkClosedError';
}

/** A request: wait for the answer first (so a fast one is not missed), then send. */
export async function ask(answer: Promise<number>, send: () => Promise<void> | void): Promise<number> {
  try {
    await send();
  } catch (e) {
    answer.catch(() => {}); // it will time out unanswered; the send error is the news
    throw e;
  }
  return answer;
}

export function tcpPrinter(host: string, port: number): PrinterLinkOpener {
  return async (signal) => {
    const socket = await connectTcp(host, port, signal, CONNECT_TIMEOUT_MS);
    const answers = new Answers();
    let closed: ((reason: string) => void) | null = null;
    let reason = 'the printer closed the connection';
    socket.on('data', (d: Buffer) => d.forEach((b) => answers.take(b)));
    socket.on('error', (err) => (reason = err.message));
    socket.on('close', () => {
      answers.clear();
      closed?.(reason);
    });
    return {
      write: (bytes, sig) =>
        new Promise<void>((res, rej) => {
          if (sig.aborted) return rej(abortError(sig));
          const onAbort = (): void => {
            // A job cut off half way cannot be resumed: drop the connection so the printer
            // discards the rest and the next job starts clean.
            socket.destroy();
            rej(abortError(sig));
          };
          sig.addEventListener('abort', onAbort, { once: true });
          socket.write(bytes, (err) => {
            sig.removeEventListener('abort', onAbort);
            if (err) rej(err);
            else res();
          });
        }),
      query: (n, timeoutMs, sig) => ask(answers.waitStatus(timeoutMs, sig), () => void socket.write(DLE_EOT(n))),
      confirm: (timeoutMs, sig) => ask(answers.waitInOrder(timeoutMs, sig), () => void socket.write(GS_R_1)),
      onClose: (l) => (closed = l),
      close: () => socket.destroy(),
    };
  };
}

/**
 * The usblp device file. Opened non-blocking, because a printer that stopped taking data would
 * otherwise park a libuv thread in write() where no timeout can reach it: EAGAIN is retried on
 * a short timer instead, and the job's AbortSignal ends it.
 */
export function devicePrinter(path: string): PrinterLinkOpener {
  return async (signal) => {
    if (signal.aborted) throw abortError(signal);
    const fh: FileHandle = await open(path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY);
    let open_ = true;
    let closed: ((reason: string) => void) | null = null;
    const answers = new Answers();
    const fail = (reason: string): void => {
      if (!open_) return;
      open_ = false;
      answers.clear();
      void fh.close().catch(() => {});
      closed?.(reason);
    };
    // Status answers are read by a small poll loop while the link is open: every 20 ms while an
    // answer is awaited, every 250 ms otherwise (enough to notice an unplug), woken by a request.
    const buf = Buffer.alloc(64);
    const pollAnswers = async (): Promise<void> => {
      while (open_) {
        try {
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          // usblp reads 0 bytes when a bulk-IN transfer comes back empty: not an unplug
          // (that is ENODEV). A device that is really gone stops answering, and the port
          // reconnects, which then fails to open it.
          if (bytesRead === 0) await answers.idle(250, 20);
          for (let i = 0; i < bytesRead; i++) answers.take(buf[i]!);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK') await answers.idle(250, 20);
          else return fail(code === 'ENODEV' || code === 'EIO' || code === 'ENXIO' ? 'the printer was unplugged' : (e as Error).message);
        }
      }
    };
    void pollAnswers();
    const writeAll = async (bytes: Uint8Array, sig: AbortSignal): Promise<void> => {
      let off = 0;
      while (off < bytes.length) {
        if (sig.aborted) throw abortError(sig);
        if (!open_) throw new Error('the printer link is closed');
        try {
          const { bytesWritten } = await fh.write(bytes, off, Math.min(4096, bytes.length - off), null);
          off += bytesWritten;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          // The printer is still taking the last chunk: retry soon (the poll loop's idle wait is for reads).
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK') await new Promise((r) => setTimeout(r, 20));
          else {
            fail((e as Error).message);
            throw e;
          }
        }
      }
    };
    return {
      write: writeAll,
      query: (n, timeoutMs, sig) => ask(answers.waitStatus(timeoutMs, sig), () => writeAll(DLE_EOT(n), sig)),
      confirm: (timeoutMs, sig) => ask(answers.waitInOrder(timeoutMs, sig), () => writeAll(GS_R_1, sig)),
      onClose: (l) => (closed = l),
      close: () => fail('closed by kioskd'),
    };
  };
}
