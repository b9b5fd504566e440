import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageLimit } from '../../faceid/jpeg-header.js';
import type { Camera, CaptureOutcome, DriverDeps } from '../ports.js';
import { createStateCell } from '../supervised-port.js';
import { runCapture, type CaptureRun } from './capture.js';
import type { RpicamConfig } from './config.js';
import { createVideoSource } from './video.js';

/** Bookworm renamed libcamera-still to rpicam-still; older images only have the old name. */
const DEFAULT_COMMANDS = ['rpicam-still', 'libcamera-still'] as const;
const DEFAULT_VIDEO_COMMANDS = ['rpicam-vid', 'libcamera-vid'] as const;
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

/**
 * The Raspberry Pi camera. In `stream` mode (the default) rpicam-vid runs while a check-in is
 * open and each capture is a burst of raw frames (video.ts); with no video program installed, or
 * in `still` mode, each capture is one rpicam-still JPEG. Both are spawned with an argv array
 * (never a shell) and write to their stdout, so a picture never touches the disk.
 *
 * One capture at a time: a second call while one runs is refused at once ("camera busy")
 * rather than queued, because a queued capture would photograph whoever stands there later.
 * Failures (not caller cancellations) fault the port; the next good picture makes it ready.
 */
export function createRpicamCamera(cfg: RpicamConfig, deps: RpicamDeps): Camera {
  const { clock, log } = deps;
  const env = deps.env ?? process.env;
  const candidates: readonly string[] = cfg.command ? [cfg.command] : DEFAULT_COMMANDS;
  const videoCandidates: readonly string[] = cfg.mode === 'still' ? [] : cfg.videoCommand ? [cfg.videoCommand] : DEFAULT_VIDEO_COMMANDS;
  const video = createVideoSource(cfg, { env, clock, log });
  /** The video program found at open (null: stills). */
  let videoCommand: string | null = null;
  const limit = frameLimit(cfg);
  const argv = stillArgv(cfg);
  const cell = createStateCell({ kind: 'connecting', attempt: 1 });
  /** The name that last started, tried first next time (saves a failed spawn per capture). */
  let preferred: string | null = null;
  let busy = false;
  let opened = false;
  let lifetime = new AbortController();
  const run: CaptureRun = { argv, env, limit, timeoutMs: cfg.timeoutMs, width: cfg.width, height: cfg.height, clock, log };

  const capture = async (signal: AbortSignal): Promise<CaptureOutcome> => {
    if (!opened) return { ok: false, reason: 'camera is not open' };
    if (busy) return { ok: false, reason: 'camera busy: another capture is in progress' };
    if (signal.aborted) return { ok: false, reason: 'capture cancelled' };
    busy = true;
    try {
      const job = AbortSignal.any([signal, lifetime.signal]);
      if (videoCommand) {
        const v = await video.capture(videoCommand, job);
        if (v.outcome.ok) cell.set({ kind: 'ready' });
        else if (!v.cancelled) {
          log.warn({ command: videoCommand, reason: v.outcome.reason }, 'camera capture failed');
          cell.set({ kind: 'degraded', code: 'capture-failed', reason: v.outcome.reason });
        }
        return v.outcome;
      }
      const order = preferred ? [preferred, ...candidates.filter((c) => c !== preferred)] : candidates;
      for (const cmd of order) {
        if (job.aborted) return { ok: false, reason: 'capture cancelled' };
        const a = await runCapture(cmd, run, job);
        if (a.kind === 'missing') continue;
        preferred = cmd;
        const o = a.outcome;
        if (o.ok) {
          log.debug({ command: cmd, ms: Math.round(o.ms), bytes: o.frames[0]?.data.length }, 'camera captured a picture');
          cell.set({ kind: 'ready' });
        } else if (a.cancelled) {
          log.debug({ command: cmd }, 'capture cancelled');
        } else {
          log.warn({ command: cmd, reason: o.reason }, 'camera capture failed');
          // Degraded, not faulted: one bad shot must not take the kiosk out of service with
          // no way back (only a capture can show the camera works again). Staff get the alert.
          cell.set({ kind: 'degraded', code: 'capture-failed', reason: o.reason });
        }
        return o;
      }
      preferred = null;
      const reason = missingReason(candidates);
      log.warn({ reason }, 'camera capture failed');
      cell.set({ kind: 'faulted', code: 'not-installed', reason });
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
      videoCommand = await firstOnPath(videoCandidates, env['PATH']);
      if (!videoCommand && videoCandidates.length)
        log.info({ tried: videoCandidates }, 'no video program for the camera stream: one still per capture');
      preferred = videoCommand ? null : await firstOnPath(candidates, env['PATH']);
      if (videoCommand || preferred) {
        cell.set({ kind: 'ready' });
        return;
      }
      const reason = missingReason(candidates);
      log.warn({ reason }, 'camera program not found');
      cell.set({ kind: 'faulted', code: 'not-installed', reason });
    },
    async close() {
      opened = false;
      lifetime.abort(new Error('closed'));
      video.stop();
    },
    prepare(session) {
      if (opened && videoCommand) video.prepare(videoCommand, session);
    },
    state: cell.state,
    onStateChange: cell.onStateChange,
    capture,
  };
}

function stillArgv(cfg: RpicamConfig): string[] {
  return [
    ...['-n', '--immediate', '-t', '1'],
    ...['--width', String(cfg.width), '--height', String(cfg.height), '-q', String(cfg.quality), '--encoding', 'jpg'],
    ...cfg.extraArgs,
    ...['-o', '-'],
  ];
}

function missingReason(candidates: readonly string[]): string {
  if (candidates.length > 1) return `neither ${candidates.join(' nor ')} was found on PATH (install rpicam-apps)`;
  const cmd = candidates[0] ?? '';
  return cmd.includes('/') ? `${cmd} does not exist or is not executable` : `${cmd} was not found on PATH`;
}

async function firstOnPath(commands: readonly string[], path: string | undefined): Promise<string | null> {
  for (const cmd of commands) if (await findExecutable(cmd, path)) return cmd;
  return null;
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
