import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { checkJpeg, type ImageLimit } from '../../faceid/jpeg-header.js';
import type { Camera, CaptureOutcome, DriverDeps, PortState, Unsubscribe } from '../ports.js';
import type { RpicamConfig } from './config.js';

/** Bookworm renamed libcamera-still to rpicam-still; older images only have the old name. */
const DEFAULT_COMMANDS = ['rpicam-still', 'libcamera-still'] as const;
/** Enough for the last few lines of libcamera's log; the tail is what says why it failed. */
const STDERR_TAIL = 4096;
/**
 * What a picture of the configured size may be: its declared width and height within 10% of
 * the configured ones (either way round), and at most 2 bytes per pixel plus 512 KiB of EXIF
 * and thumbnail, never over 16 MiB. A real scene at q90 is 0.3–0.6 bytes per pixel (1280×960:
 * 0.4–0.8 MB, capped at 2.9 MB); even pure noise at q100 in rpicam-still's 4:2:0 stays under 2.
 * Anything larger is not the picture that was asked for, and is stopped or refused before
 * anything decodes it (a 700-byte JPEG can declare 8000×8000 pixels).
 */
export function frameLimit(cfg: Pick<RpicamConfig, 'width' | 'height'>): ImageLimit {
  return {
    maxWidth: Math.ceil(cfg.width * 1.1),
    maxHeight: Math.ceil(cfg.height * 1.1),
    maxBytes: Math.min(16 * 1024 * 1024, cfg.width * cfg.height * 2 + 512 * 1024),
  };
}

export type RpicamDeps = DriverDeps & { readonly env?: NodeJS.ProcessEnv };

/** What one spawn attempt came to: the program was not there, or a real outcome. */
type Attempt = { readonly kind: 'missing' } | { readonly kind: 'done'; readonly outcome: CaptureOutcome; readonly cancelled: boolean };

/**
 * The Raspberry Pi camera through rpicam-still, spawned directly with an argv array (never a
 * shell) and writing the JPEG to its stdout, so the picture never touches the disk.
 *
 * One capture at a time: a second call while one runs is refused at once ("camera busy")
 * rather than queued, because a queued capture would photograph whoever stands there later.
 * Failures (not caller cancellations) fault the port; the next good picture makes it ready.
 */
export function createRpicamCamera(cfg: RpicamConfig, deps: RpicamDeps): Camera {
  const { clock, log } = deps;
  const env = deps.env ?? process.env;
  const candidates: readonly string[] = cfg.command ? [cfg.command] : DEFAULT_COMMANDS;
  const limit = frameLimit(cfg);
  const argv = [
    ...['-n', '--immediate', '-t', '1'],
    ...['--width', String(cfg.width), '--height', String(cfg.height), '-q', String(cfg.quality), '--encoding', 'jpg'],
    ...cfg.extraArgs,
    ...['-o', '-'],
  ];
  let state: PortState = { kind: 'connecting', attempt: 1 };
  const listeners = new Set<(s: PortState) => void>();
  /** The name that last started, tried first next time (saves a failed spawn per capture). */
  let preferred: string | null = null;
  let busy = false;
  let opened = false;
  let lifetime = new AbortController();

  const setState = (next: PortState): void => {
    if (JSON.stringify(next) === JSON.stringify(state)) return;
    state = next;
    for (const l of listeners) l(next);
  };

  const runOnce = (cmd: string, signal: AbortSignal): Promise<Attempt> =>
    new Promise((resolve) => {
      const started = clock.now();
      let settled = false;
      let stoppedFor: 'timeout' | 'cancelled' | 'too-big' | null = null;
      let chunks: Buffer[] = [];
      let size = 0;
      let stderr = '';
      const fail = (reason: string, cancelled = false): Attempt => ({ kind: 'done', outcome: { ok: false, reason }, cancelled });

      let child: ReturnType<typeof spawn>;
      try {
        child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
      } catch (err) {
        // Synchronous refusals, e.g. a NUL byte in extraArgs.
        resolve(fail(`cannot run ${cmd}: ${(err as Error).message}`));
        return;
      }

      const finish = (a: Attempt): void => {
        if (settled) return;
        settled = true;
        clock.clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        // The caller gets its own copy; the pieces of the picture read from the pipe are wiped.
        for (const c of chunks) c.fill(0);
        chunks = [];
        resolve(a);
      };
      const stoppedOutcome = (why: NonNullable<typeof stoppedFor>): Attempt => {
        const last = lastLine(stderr);
        if (why === 'cancelled') return fail('capture cancelled', true);
        if (why === 'timeout') return fail(`${cmd} took longer than ${cfg.timeoutMs} ms and was stopped${last ? ` (last said: ${last})` : ''}`);
        return fail(`${cmd} wrote more than ${limit.maxBytes} bytes (the most a ${cfg.width}×${cfg.height} picture may take) and was stopped`);
      };
      /** Ends the capture once the process is gone; stdout/stderr are dropped, not awaited. */
      const abandon = (why: NonNullable<typeof stoppedFor>): void => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(stoppedOutcome(why));
      };
      let exited = false;
      const stop = (why: NonNullable<typeof stoppedFor>): void => {
        if (stoppedFor || settled) return;
        stoppedFor = why;
        // Already exited but its pipes are still open: nothing left to kill.
        if (exited) abandon(why);
        else child.kill('SIGKILL');
      };
      const onAbort = (): void => stop('cancelled');
      const timer = clock.setTimeout(() => stop('timeout'), cfg.timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();

      child.stdout?.on('data', (b: Buffer) => {
        size += b.length;
        if (size > limit.maxBytes) stop('too-big');
        else if (!stoppedFor) chunks.push(b);
      });
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (s: string) => {
        stderr = (stderr + s).slice(-STDERR_TAIL);
      });

      child.on('error', (err: NodeJS.ErrnoException) => {
        if (child.pid === undefined && err.code === 'ENOENT') return finish({ kind: 'missing' });
        if (child.pid === undefined) return finish(fail(`cannot run ${cmd}: ${err.code === 'EACCES' ? 'permission denied' : err.message}`));
        log.debug({ err }, 'camera program error');
      });
      // After SIGKILL, 'exit' means the process is gone. Do not wait for 'close': a child of
      // the program could still hold the pipes open.
      child.on('exit', () => {
        exited = true;
        if (stoppedFor) abandon(stoppedFor);
      });
      child.on('close', (code: number | null, sig: NodeJS.Signals | null) => {
        if (child.pid === undefined || stoppedFor) return; // 'error' or 'exit' handles these
        const last = lastLine(stderr);
        const said = last ? `: ${last}` : '';
        if (sig) return finish(fail(`${cmd} was killed by ${sig}${said}`));
        if (code !== 0) return finish(fail(`${cmd} exited ${code}${said}`));
        if (size === 0) return finish(fail(`${cmd} wrote no picture${said}`));
        const jpeg = new Uint8Array(size); // not Buffer.concat: small Buffers share a pool with other data
        let at = 0;
        for (const c of chunks) {
          jpeg.set(c, at);
          at += c.length;
        }
        if (!isJpeg(jpeg)) return finish(fail(`${cmd} output is not a JPEG image (${size} bytes)`));
        const checked = checkJpeg(jpeg, limit, `the ${cmd} picture`);
        if (!checked.ok) {
          jpeg.fill(0);
          return finish(fail(`${checked.reason} (configured ${cfg.width}×${cfg.height}, 10% margin)`));
        }
        finish({ kind: 'done', outcome: { ok: true, jpeg, ms: clock.now() - started }, cancelled: false });
      });
    });

  const capture = async (signal: AbortSignal): Promise<CaptureOutcome> => {
    if (!opened) return { ok: false, reason: 'camera is not open' };
    if (busy) return { ok: false, reason: 'camera busy: another capture is in progress' };
    if (signal.aborted) return { ok: false, reason: 'capture cancelled' };
    busy = true;
    try {
      const job = AbortSignal.any([signal, lifetime.signal]);
      const order = preferred ? [preferred, ...candidates.filter((c) => c !== preferred)] : candidates;
      for (const cmd of order) {
        if (job.aborted) return { ok: false, reason: 'capture cancelled' };
        const a = await runOnce(cmd, job);
        if (a.kind === 'missing') continue;
        preferred = cmd;
        const o = a.outcome;
        if (o.ok) {
          log.debug({ command: cmd, ms: Math.round(o.ms), bytes: o.jpeg.length }, 'camera captured a picture');
          setState({ kind: 'ready' });
        } else if (a.cancelled) {
          log.debug({ command: cmd }, 'capture cancelled');
        } else {
          log.warn({ command: cmd, reason: o.reason }, 'camera capture failed');
          // Degraded, not faulted: one bad shot must not take the kiosk out of service with
          // no way back (only a capture can show the camera works again). Staff get the alert.
          setState({ kind: 'degraded', reason: o.reason });
        }
        return o;
      }
      preferred = null;
      const reason = missingReason(candidates);
      log.warn({ reason }, 'camera capture failed');
      setState({ kind: 'faulted', reason });
      return { ok: false, reason };
    } finally {
      busy = false;
    }
  };

  return {
    id: 'camera',
    driver: 'rpicam',
    async open(signal) {
      if (signal.aborted) return;
      opened = true;
      lifetime = new AbortController();
      // Only a PATH lookup: starting the camera here would take seconds and hold the device.
      for (const cmd of candidates) {
        if (await findExecutable(cmd, env['PATH'])) {
          preferred = cmd;
          setState({ kind: 'ready' });
          return;
        }
      }
      const reason = missingReason(candidates);
      log.warn({ reason }, 'camera program not found');
      setState({ kind: 'faulted', reason });
    },
    async close() {
      opened = false;
      lifetime.abort(new Error('closed'));
    },
    state: () => state,
    onStateChange(listener): Unsubscribe {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    capture,
  };
}

/** JPEG starts with SOI (FF D8) and ends with EOI (FF D9); a cut-off write lacks the latter. */
function isJpeg(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0xff && b[1] === 0xd8 && b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9;
}

/** libcamera logs a lot; its last line is the one that says what went wrong. */
function lastLine(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const last = lines.at(-1) ?? '';
  return last.length > 300 ? `${last.slice(0, 300)}…` : last;
}

function missingReason(candidates: readonly string[]): string {
  if (candidates.length > 1) return `neither ${candidates.join(' nor ')} was found on PATH (install rpicam-apps)`;
  const cmd = candidates[0] ?? '';
  return cmd.includes('/') ? `${cmd} does not exist or is not executable` : `${cmd} was not found on PATH`;
}

/** Where `cmd` would run from, looked up like execvp does (an empty PATH entry is skipped, not "."). */
async function findExecutable(cmd: string, path: string | undefined): Promise<string | null> {
  const dirs = cmd.includes('/') ? [''] : (path ?? '').split(':').filter((d) => d !== '');
  for (const d of dirs) {
    const file = d ? join(d, cmd) : cmd;
    try {
      if (!(await stat(file)).isFile()) continue;
      await access(file, constants.X_OK);
      return file;
    } catch {
      // not here; try the next directory
    }
  }
  return null;
}
