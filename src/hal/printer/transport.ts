import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
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
  onClose(listener: (reason: string) => void): void;
  close(): void;
}

export type PrinterLinkOpener = (signal: AbortSignal) => Promise<PrinterLink>;

const CONNECT_TIMEOUT_MS = 3000;

const abortError = (signal: AbortSignal): Error => (signal.reason instanceof Error ? signal.reason : new Error('aborted'));

/** Answers come back in the order the queries went out; stray bytes that are not status bytes are dropped. */
class Answers {
  private waiting: Array<(b: number) => void> = [];
  take(byte: number): void {
    if (!isStatusByte(byte)) return;
    this.waiting.shift()?.(byte);
  }
  wait(timeoutMs: number, signal: AbortSignal): Promise<number> {
    return new Promise((resolve, reject) => {
      const done = (b: number): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(b);
      };
      const drop = (): void => {
        this.waiting = this.waiting.filter((w) => w !== done);
      };
      const timer = setTimeout(() => {
        drop();
        reject(new Error(`the printer did not answer a status request within ${timeoutMs} ms`));
      }, timeoutMs);
      const onAbort = (): void => {
        clearTimeout(timer);
        drop();
        reject(abortError(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(done);
    });
  }
  clear(): void {
    this.waiting = [];
  }
}

export function tcpPrinter(host: string, port: number): PrinterLinkOpener {
  return (signal) =>
    new Promise<PrinterLink>((resolve, reject) => {
      const attempt = AbortSignal.any([signal, AbortSignal.timeout(CONNECT_TIMEOUT_MS)]);
      const socket: Socket = connect({ host, port, signal: attempt, keepAlive: true, keepAliveInitialDelay: 10_000 });
      socket.once('error', (err) => reject(attempt.aborted && !signal.aborted ? new Error(`no answer from ${host}:${port} within ${CONNECT_TIMEOUT_MS / 1000} s`) : err));
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        const answers = new Answers();
        let closed: ((reason: string) => void) | null = null;
        let reason = 'the printer closed the connection';
        socket.on('data', (d: Buffer) => d.forEach((b) => answers.take(b)));
        socket.on('error', (err) => (reason = err.message));
        socket.on('close', () => {
          answers.clear();
          closed?.(reason);
        });
        resolve({
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
          query: async (n, timeoutMs, sig) => {
            const answer = answers.wait(timeoutMs, sig);
            socket.write(Uint8Array.of(0x10, 0x04, n));
            return answer;
          },
          onClose: (l) => (closed = l),
          close: () => socket.destroy(),
        });
      });
    });
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
    // Status answers are read by a small poll loop while the link is open.
    const buf = Buffer.alloc(64);
    const pollAnswers = async (): Promise<void> => {
      while (open_) {
        try {
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          // Non-blocking: no data is EAGAIN; 0 bytes is end of file, i.e. the device went away.
          if (bytesRead === 0) return fail('the printer was unplugged');
          for (let i = 0; i < bytesRead; i++) answers.take(buf[i]!);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK') await sleep(20);
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
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK') await sleep(20);
          else {
            fail((e as Error).message);
            throw e;
          }
        }
      }
    };
    return {
      write: writeAll,
      query: async (n, timeoutMs, sig) => {
        const answer = answers.wait(timeoutMs, sig);
        try {
          await writeAll(Uint8Array.of(0x10, 0x04, n), sig);
        } catch (e) {
          answer.catch(() => {}); // it will time out unanswered; the write error is the news
          throw e;
        }
        return answer;
      },
      onClose: (l) => (closed = l),
      close: () => {
        if (!open_) return;
        open_ = false;
        answers.clear();
        void fh.close().catch(() => {});
      },
    };
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
