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
  /** A frame arrived (the stream is up): the time limit for settling and the burst starts now if it was still starting. */
  readonly arrived: () => void;
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
  /** Bytes of the frame being read (for the message when the stream ends partway through one). */
  let filled = 0;
  let stderr = '';
  let collecting: Collecting | null = null;
  let ended: FrameStream['ended'] = null;
  let stopping = false;
  const started = r.clock.now();
  const exposure = exposureGate(r.width, r.height);

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
    const exposed = exposure.exposed(frame);
    const c = collecting;
    if (!c) return; // measured only; the next frame overwrites it
    c.arrived();
    if (!exposed) {
      c.skipped++;
      return;
    }
    c.frames.push({ format: 'i420', width: r.width, height: r.height, data: frame });
    frame = new Uint8Array(size);
    if (c.frames.length >= c.count) {
      collecting = null;
      c.done({ ok: true, frames: c.frames, skipped: c.skipped, settledAfter: exposure.settledAfter(), ms: 0 });
    }
  };

  child.stdout?.on(
    'data',
    cutter(
      size,
      () => frame,
      onFrame,
      (n) => (filled = n),
    ),
  );
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
    const frames = exposure.frames();
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
      return collectBurst(r.clock, count, timeoutMs, signal, {
        install: (c) => (collecting = c),
        remove: (c) => collecting === c && (collecting = null),
        started: () => exposure.frames() > 0,
        timeoutReason: (c) =>
          timeoutReason(cmd, {
            frames: exposure.frames(),
            startedMsAgo: r.clock.now() - started,
            timeoutMs,
            skipped: c.skipped,
            got: c.frames.length,
            count,
          }),
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

/**
 * Waits for `count` exposed frames (the stream's onFrame fills `c`): at most `timeoutMs` for the
 * first frame, and, if the stream was still starting when the capture began, `timeoutMs` again
 * from its first frame for exposure to settle (a sensor that takes 2 s to start is not also
 * refused for taking 1 s to settle). An abort ends it.
 */
function collectBurst(
  clock: Clock,
  count: number,
  timeoutMs: number,
  signal: AbortSignal,
  hooks: { install(c: Collecting): void; remove(c: Collecting): void; started(): boolean; timeoutReason(c: Collecting): string },
): Promise<BurstResult> {
  const t0 = clock.now();
  return new Promise<BurstResult>((resolve) => {
    const finish = (res: BurstResult): void => {
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      hooks.remove(c);
      if (!res.ok) for (const f of c.frames) f.data.fill(0);
      resolve(res.ok ? { ...res, ms: clock.now() - t0 } : res);
    };
    const expire = (): void => finish({ ok: false, reason: hooks.timeoutReason(c), died: false, cancelled: false });
    let waitingForFirst = !hooks.started();
    const c: Collecting = {
      count,
      frames: [],
      skipped: 0,
      done: finish,
      arrived: () => {
        if (!waitingForFirst) return;
        waitingForFirst = false;
        clock.clearTimeout(timer);
        timer = clock.setTimeout(expire, timeoutMs);
      },
    };
    const onAbort = (): void => finish({ ok: false, reason: 'capture cancelled', died: false, cancelled: true });
    let timer = clock.setTimeout(expire, timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    hooks.install(c);
    if (signal.aborted) onAbort();
  });
}

/**
 * Exposure settling, frame by frame: a frame is exposed once its mean luma moved by at most
 * SETTLE_STEP since the previous one (the first frame has nothing to compare with).
 */
function exposureGate(width: number, height: number): { exposed(frame: Uint8Array): boolean; frames(): number; settledAfter(): number | null } {
  let last: number | null = null;
  let frames = 0;
  let settledAfter: number | null = null;
  return {
    exposed(frame) {
      frames++;
      const luma = meanLuma(frame, width, height);
      const exposed = last !== null && Math.abs(luma - last) <= SETTLE_STEP;
      last = luma;
      if (exposed && settledAfter === null) settledAfter = frames - 1;
      return exposed;
    },
    frames: () => frames,
    settledAfter: () => settledAfter,
  };
}

function timeoutReason(
  cmd: string,
  o: { frames: number; startedMsAgo: number; timeoutMs: number; skipped: number; got: number; count: number },
): string {
  const why =
    o.frames === 0
      ? `${cmd} delivered no frame within ${Math.round(o.timeoutMs)} ms of the capture (${Math.round(o.startedMsAgo)} ms after it started)`
      : `${o.skipped} frames in ${Math.round(o.timeoutMs)} ms and exposure never settled (brightness still changing)`;
  return o.got ? `only ${o.got} of ${o.count} usable frames: ${why}` : why;
}

/**
 * Cuts the pipe's chunks into frames of `size` bytes, copied into the buffer `into()` names;
 * `onFrame` runs when one is whole. The chunks are wiped once copied.
 */
function cutter(size: number, into: () => Uint8Array, onFrame: () => void, progress: (filled: number) => void): (b: Buffer) => void {
  let filled = 0;
  return (b) => {
    let at = 0;
    while (at < b.length) {
      const n = Math.min(size - filled, b.length - at);
      into().set(b.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === size) {
        filled = 0;
        onFrame();
      }
    }
    progress(filled);
    b.fill(0);
  };
}
