import { spawn, type ChildProcess } from 'node:child_process';
import { i420Bytes, meanLuma, type CameraFrame } from '../../faceid/frames.js';
import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../util/clock.js';
import { lastLine } from './capture.js';

/** Enough for the last few lines of libcamera's log; the tail is what says why it failed. */
const STDERR_TAIL = 4096;
/**
 * A frame counts as exposed once its mean luma moved by at most this much (of 255) since the
 * previous frame: while auto-exposure and white balance converge, brightness climbs frame by
 * frame, and a face judged on such a frame is dark or tinted.
 */
const SETTLE_STEP = 4;
/** After SIGTERM, how long rpicam-vid gets to release the camera before SIGKILL. */
const TERM_GRACE_MS = 1000;

export interface StreamRun {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly width: number;
  readonly height: number;
  readonly clock: Clock;
  readonly log: Logger;
}

export type BurstResult =
  | {
      readonly ok: true;
      readonly frames: CameraFrame[];
      /** Frames passed over during this burst because exposure was still settling. */
      readonly skipped: number;
      /** How many frames the stream took to settle first (counted from its start). */
      readonly settledAfter: number | null;
      readonly ms: number;
    }
  | { readonly ok: false; readonly reason: string; readonly died: boolean; readonly cancelled: boolean };

/** A running video process; frames arrive from its stdout, I420, back to back. */
export interface FrameStream {
  readonly command: string;
  /** Null while it runs; once it ended, why (or `missing` when the program does not exist). */
  readonly ended: { readonly reason: string; readonly missing: boolean } | null;
  /** The next `count` exposed frames after this call; frames still settling are skipped and counted. */
  burst(count: number, timeoutMs: number, signal: AbortSignal): Promise<BurstResult>;
  /** Stops the process (SIGTERM, then SIGKILL) and wipes the frame being read. Idempotent. */
  stop(): void;
}

interface Collecting {
  readonly count: number;
  readonly frames: CameraFrame[];
  skipped: number;
  readonly done: (r: BurstResult) => void;
}

/**
 * Starts `cmd` (rpicam-vid or libcamera-vid), an argv array, never a shell. Frames are cut from
 * the pipe into one reused buffer; only while a burst is collecting does an exposed frame get a
 * buffer of its own, handed to the caller. Before that, a frame is only measured (its mean
 * brightness, for settling) and overwritten by the next: nothing of the patient is kept.
 */
export function startStream(cmd: string, r: StreamRun, onEnd: () => void): FrameStream {
  const size = i420Bytes(r.width, r.height);
  let frame = new Uint8Array(size);
  let filled = 0;
  let lastLuma: number | null = null;
  let stderr = '';
  let collecting: Collecting | null = null;
  let ended: FrameStream['ended'] = null;
  let stopping = false;
  const started = r.clock.now();
  let frames = 0;
  let settledAfter: number | null = null;

  const child: ChildProcess = spawn(cmd, [...r.argv], { stdio: ['ignore', 'pipe', 'pipe'], env: r.env });
  const end = (reason: string, missing = false): void => {
    if (ended) return;
    ended = { reason, missing };
    frame.fill(0);
    collecting?.done({ ok: false, reason, died: !stopping, cancelled: false });
    collecting = null;
    onEnd();
  };

  const onFrame = (): void => {
    frames++;
    const luma = meanLuma(frame, r.width, r.height);
    const exposed = lastLuma !== null && Math.abs(luma - lastLuma) <= SETTLE_STEP;
    lastLuma = luma;
    if (exposed && settledAfter === null) settledAfter = frames - 1;
    const c = collecting;
    if (!c) return; // measured only; the next frame overwrites it
    if (!exposed) {
      c.skipped++;
      return;
    }
    c.frames.push({ format: 'i420', width: r.width, height: r.height, data: frame });
    frame = new Uint8Array(size);
    if (c.frames.length >= c.count) {
      collecting = null;
      c.done({ ok: true, frames: c.frames, skipped: c.skipped, settledAfter, ms: 0 });
    }
  };

  child.stdout?.on('data', (b: Buffer) => {
    let at = 0;
    while (at < b.length) {
      const n = Math.min(size - filled, b.length - at);
      frame.set(b.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === size) {
        filled = 0;
        onFrame();
      }
    }
    b.fill(0);
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    stderr = (stderr + s).slice(-STDERR_TAIL);
  });
  child.on('error', (err: NodeJS.ErrnoException) => {
    if (child.pid === undefined) end(err.code === 'ENOENT' ? `${cmd} was not found` : `cannot run ${cmd}: ${err.message}`, err.code === 'ENOENT');
    else r.log.debug({ err }, 'camera stream program error');
  });
  child.on('exit', (code, sig) => {
    const said = lastLine(stderr);
    const partial =
      filled > 0 ? ` after ${frames} frames and ${filled} bytes of a ${size}-byte frame` : frames ? ` after ${frames} frames` : ', before any frame';
    end(`${cmd} ${sig ? `was killed by ${sig}` : `exited ${code}`}${partial}${said ? `: ${said}` : ''}`);
  });

  let killTimer: ReturnType<Clock['setTimeout']> | null = null;
  return {
    command: cmd,
    get ended() {
      return ended;
    },
    burst(count, timeoutMs, signal) {
      if (ended) return Promise.resolve({ ok: false, reason: ended.reason, died: true, cancelled: false });
      if (collecting) return Promise.resolve({ ok: false, reason: 'camera busy: another capture is in progress', died: false, cancelled: false });
      const t0 = r.clock.now();
      return new Promise<BurstResult>((resolve) => {
        const finish = (res: BurstResult): void => {
          r.clock.clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          if (collecting === c) collecting = null;
          if (!res.ok) for (const f of c.frames) f.data.fill(0);
          resolve(res.ok ? { ...res, ms: r.clock.now() - t0 } : res);
        };
        const c: Collecting = { count, frames: [], skipped: 0, done: finish };
        const onAbort = (): void => finish({ ok: false, reason: 'capture cancelled', died: false, cancelled: true });
        const timer = r.clock.setTimeout(() => {
          const why =
            frames === 0
              ? `${cmd} delivered no frame within ${timeoutMs} ms of the capture (${Math.round(r.clock.now() - started)} ms after it started)`
              : `${c.skipped} frames in ${timeoutMs} ms and exposure never settled (brightness still changing)`;
          finish({
            ok: false,
            reason: c.frames.length ? `only ${c.frames.length} of ${count} usable frames: ${why}` : why,
            died: false,
            cancelled: false,
          });
        }, timeoutMs);
        signal.addEventListener('abort', onAbort, { once: true });
        collecting = c;
        if (signal.aborted) onAbort();
      });
    },
    stop() {
      if (stopping) return;
      stopping = true;
      frame.fill(0);
      if (ended || child.pid === undefined) return;
      child.kill('SIGTERM');
      killTimer = r.clock.setTimeout(() => child.kill('SIGKILL'), TERM_GRACE_MS);
      child.once('exit', () => killTimer && r.clock.clearTimeout(killTimer));
      child.stdout?.destroy();
    },
  };
}
