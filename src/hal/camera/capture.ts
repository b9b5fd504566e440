import { spawn, type ChildProcess } from 'node:child_process';
import { checkJpeg, type ImageLimit } from '../../faceid/jpeg-header.js';
import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../util/clock.js';
import type { CaptureOutcome } from '../ports.js';

/** Enough for the last few lines of libcamera's log; the tail is what says why it failed. */
const STDERR_TAIL = 4096;

/** What one spawn attempt came to: the program was not there, or a real outcome. */
export type Attempt = { readonly kind: 'missing' } | { readonly kind: 'done'; readonly outcome: CaptureOutcome; readonly cancelled: boolean };

export interface CaptureRun {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly limit: ImageLimit;
  readonly timeoutMs: number;
  /** For messages: the configured picture size. */
  readonly width: number;
  readonly height: number;
  readonly clock: Clock;
  readonly log: Logger;
}

type StopReason = 'timeout' | 'cancelled' | 'too-big';

const fail = (reason: string, cancelled = false): Attempt => ({ kind: 'done', outcome: { ok: false, reason }, cancelled });

/**
 * Runs the camera program once (an argv array, never a shell) and reads the JPEG from its
 * stdout, so the picture never touches the disk. Timeouts, cancellation and an oversized
 * picture kill it; the pieces read from the pipe are wiped once the caller has its copy.
 */
export function runCapture(cmd: string, r: CaptureRun, signal: AbortSignal): Promise<Attempt> {
  return new Promise((resolve) => {
    const started = r.clock.now();
    let settled = false;
    let stoppedFor: StopReason | null = null;
    let chunks: Buffer[] = [];
    let size = 0;
    let stderr = '';

    let child: ChildProcess;
    try {
      child = spawn(cmd, [...r.argv], { stdio: ['ignore', 'pipe', 'pipe'], env: r.env });
    } catch (err) {
      // Synchronous refusals, e.g. a NUL byte in extraArgs.
      resolve(fail(`cannot run ${cmd}: ${(err as Error).message}`));
      return;
    }

    const finish = (a: Attempt): void => {
      if (settled) return;
      settled = true;
      r.clock.clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      // The caller gets its own copy; the pieces of the picture read from the pipe are wiped.
      for (const c of chunks) c.fill(0);
      chunks = [];
      resolve(a);
    };
    /** Ends the capture once the process is gone; stdout/stderr are dropped, not awaited. */
    const abandon = (why: StopReason): void => {
      child.stdout?.destroy();
      child.stderr?.destroy();
      finish(stoppedOutcome(cmd, why, r, stderr));
    };
    let exited = false;
    const stop = (why: StopReason): void => {
      if (stoppedFor || settled) return;
      stoppedFor = why;
      // Already exited but its pipes are still open: nothing left to kill.
      if (exited) abandon(why);
      else child.kill('SIGKILL');
    };
    const onAbort = (): void => stop('cancelled');
    const timer = r.clock.setTimeout(() => stop('timeout'), r.timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();

    child.stdout?.on('data', (b: Buffer) => {
      size += b.length;
      if (size > r.limit.maxBytes) stop('too-big');
      else if (!stoppedFor) chunks.push(b);
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      stderr = (stderr + s).slice(-STDERR_TAIL);
    });

    child.on('error', (err: NodeJS.ErrnoException) => {
      if (child.pid === undefined && err.code === 'ENOENT') return finish({ kind: 'missing' });
      if (child.pid === undefined) return finish(fail(`cannot run ${cmd}: ${err.code === 'EACCES' ? 'permission denied' : err.message}`));
      r.log.debug({ err }, 'camera program error');
    });
    // After SIGKILL, 'exit' means the process is gone. Do not wait for 'close': a child of
    // the program could still hold the pipes open.
    child.on('exit', () => {
      exited = true;
      if (stoppedFor) abandon(stoppedFor);
    });
    child.on('close', (code: number | null, sig: NodeJS.Signals | null) => {
      if (child.pid === undefined || stoppedFor) return; // 'error' or 'exit' handles these
      finish(exitOutcome(cmd, r, { code, sig, stderr, chunks, size, ms: r.clock.now() - started }));
    });
  });
}

function stoppedOutcome(cmd: string, why: StopReason, r: CaptureRun, stderr: string): Attempt {
  const last = lastLine(stderr);
  if (why === 'cancelled') return fail('capture cancelled', true);
  if (why === 'timeout') return fail(`${cmd} took longer than ${r.timeoutMs} ms and was stopped${last ? ` (last said: ${last})` : ''}`);
  return fail(`${cmd} wrote more than ${r.limit.maxBytes} bytes (the most a ${r.width}×${r.height} picture may take) and was stopped`);
}

/** The program ended by itself: its picture, checked, or why there is none. */
function exitOutcome(
  cmd: string,
  r: CaptureRun,
  e: { code: number | null; sig: NodeJS.Signals | null; stderr: string; chunks: readonly Buffer[]; size: number; ms: number },
): Attempt {
  const last = lastLine(e.stderr);
  const said = last ? `: ${last}` : '';
  if (e.sig) return fail(`${cmd} was killed by ${e.sig}${said}`);
  if (e.code !== 0) return fail(`${cmd} exited ${e.code}${said}`);
  if (e.size === 0) return fail(`${cmd} wrote no picture${said}`);
  const jpeg = new Uint8Array(e.size); // not Buffer.concat: small Buffers share a pool with other data
  let at = 0;
  for (const c of e.chunks) {
    jpeg.set(c, at);
    at += c.length;
  }
  if (!isJpeg(jpeg)) return fail(`${cmd} output is not a JPEG image (${e.size} bytes)`);
  const checked = checkJpeg(jpeg, r.limit, `the ${cmd} picture`);
  if (!checked.ok) {
    jpeg.fill(0);
    return fail(`${checked.reason} (configured ${r.width}×${r.height}, 10% margin)`);
  }
  return { kind: 'done', outcome: { ok: true, frames: [{ format: 'jpeg', data: jpeg }], ms: e.ms }, cancelled: false };
}

/** JPEG starts with SOI (FF D8) and ends with EOI (FF D9); a cut-off write lacks the latter. */
function isJpeg(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0xff && b[1] === 0xd8 && b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9;
}

/** libcamera logs a lot; its last line is the one that says what went wrong. */
export function lastLine(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const last = lines.at(-1) ?? '';
  return last.length > 300 ? `${last.slice(0, 300)}…` : last;
}
