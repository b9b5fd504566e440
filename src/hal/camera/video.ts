import type { CaptureOutcome } from '../ports.js';
import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../util/clock.js';
import type { RpicamConfig } from './config.js';
import { startStream, type FrameStream } from './stream.js';

export interface VideoDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly clock: Clock;
  readonly log: Logger;
}

/** What a capture from the stream came to; `cancelled` when the caller aborted it. */
export interface VideoCapture {
  readonly outcome: CaptureOutcome;
  readonly cancelled: boolean;
}

export interface VideoSource {
  /** Starts the stream for a check-in (idempotent); it stops when `session` aborts. */
  prepare(command: string, session: AbortSignal): void;
  /** A burst from the check-in's stream, or from a stream started for this capture alone. */
  capture(command: string, signal: AbortSignal): Promise<VideoCapture>;
  /** Stops any stream (the port closes). */
  stop(): void;
}

/**
 * The camera as a video stream (rpicam-vid writing raw I420 to stdout), one process per
 * check-in: started when the card is read, so the sensor's exposure has settled by the time
 * the patient is asked to look at it, and stopped when the check-in ends. A stream that dies
 * during a capture is restarted once within the capture's time; a second death fails it.
 */
export function createVideoSource(cfg: RpicamConfig, d: VideoDeps): VideoSource {
  const argv = [
    ...['-n', '-t', '0', '--codec', 'yuv420'],
    ...['--width', String(cfg.width), '--height', String(cfg.height), '--framerate', String(cfg.framerate)],
    ...cfg.extraArgs,
    ...['-o', '-'],
  ];
  let live: { stream: FrameStream; session: AbortSignal } | null = null;
  /** The check-in the camera was last prepared for: a stream of it that died before a capture is restarted for it. */
  let checkin: AbortSignal | null = null;

  const start = (command: string, session: AbortSignal): FrameStream => {
    const stream = startStream(command, { argv, env: d.env, width: cfg.width, height: cfg.height, clock: d.clock, log: d.log }, () => {
      if (live?.stream === stream) live = null;
    });
    live = { stream, session };
    d.log.debug({ command }, 'camera stream started');
    return stream;
  };

  const prepare = (command: string, session: AbortSignal): void => {
    if (session.aborted) return;
    checkin = session;
    if (live?.session === session && !live.stream.ended) return;
    live?.stream.stop();
    const stream = start(command, session);
    session.addEventListener('abort', () => stream.stop(), { once: true });
  };

  return {
    prepare,
    async capture(command, signal) {
      const deadline = d.clock.now() + cfg.timeoutMs;
      // The check-in's stream (restarted if it ended before this capture), or, outside a check-in
      // (selftest), a stream for this capture only.
      const running = live !== null && !live.stream.ended;
      const own = running || (checkin && !checkin.aborted) ? null : new AbortController();
      if (!running) prepare(command, own?.signal ?? checkin!);
      try {
        for (let attempt = 1; ; attempt++) {
          const { stream, session } = live!;
          const r = await stream.burst(cfg.burst, Math.max(1, deadline - d.clock.now()), signal);
          if (r.ok) {
            d.log.info(
              { frames: r.frames.length, skipped_while_settling: r.skipped, settled_after_frames: r.settledAfter, ms: Math.round(r.ms) },
              r.skipped ? 'camera burst taken; frames skipped while exposure settled' : 'camera burst taken',
            );
            return { outcome: { ok: true, frames: r.frames, ms: r.ms, skipped: r.skipped }, cancelled: false };
          }
          if (r.cancelled || !r.died || attempt > 1 || d.clock.now() >= deadline)
            return { outcome: { ok: false, reason: r.reason }, cancelled: r.cancelled };
          d.log.warn({ reason: r.reason }, 'camera stream died during a capture; restarting it once');
          if (session.aborted) return { outcome: { ok: false, reason: r.reason }, cancelled: false };
          prepare(command, session);
        }
      } finally {
        if (own) {
          own.abort();
          checkin = null;
        }
      }
    },
    stop() {
      live?.stream.stop();
      live = null;
    },
  };
}
