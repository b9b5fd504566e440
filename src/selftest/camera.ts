import type { Config } from '../config/schema.js';
import type { FaceEngine } from '../faceid/engine.js';
import type { Camera } from '../hal/ports.js';
import { wipeFrames } from '../faceid/frames.js';
import { absentVerdict, errorText, fail, firstState, pass, seconds, type Check, type Verdict } from './check.js';

/** Loading the face models takes up to ~90 s on a cold Pi 4 (the unit's TimeoutStartSec allows for it): on top of the check's own limit. */
export const FACE_LOAD_ALLOWANCE_MS = 120_000;

export interface CameraCheckDeps {
  readonly config: Pick<Config, 'hal' | 'kiosk' | 'faceid'>;
  readonly camera: Camera;
  /** The configured engine, already loading (null when faceid is disabled). */
  readonly faces: { readonly engine: FaceEngine; readonly ready: Promise<unknown> } | null;
  /** Off by default: a kiosk with nobody in front is working. With it, the technician stands in view. */
  readonly expectFace: boolean;
  readonly limitMs: number;
}

/**
 * One frame through the camera port, then face detection on it with the configured engine
 * (detection only: there is no card holder to match). The frame stays in memory and is wiped.
 * "No face in view" is a note, not a failure, unless --expect-face says someone stands there.
 */
export function cameraCheck(d: CameraCheckDeps): Check {
  const cfg = d.config.hal.camera;
  const limitMs = d.limitMs + (d.faces ? FACE_LOAD_ALLOWANCE_MS : 0);
  return {
    name: 'camera',
    limitMs,
    async run(signal): Promise<Verdict> {
      if (cfg.driver === 'none') return absentVerdict('camera', 'hal.camera.driver', d.config.kiosk.requiredPorts.includes('camera'));
      await d.camera.open(signal);
      const state = await firstState(d.camera, signal);
      if (!state) return fail(`the camera did not start within ${seconds(limitMs)}`);
      if (state.kind === 'faulted' || state.kind === 'absent') return fail(state.reason);
      const shot = await d.camera.capture(signal);
      if (!shot.ok) return fail(`capture failed: ${shot.reason}`);
      const frames = shot.frames;
      try {
        const first = frames[0];
        const kind = first?.format === 'i420' ? `${frames.length} raw frames (stream)` : 'frame';
        const captured = `${kind} captured (${Math.round(shot.ms)} ms)`;
        if (!d.faces)
          return d.expectFace
            ? fail(`${captured}, but faceid.enabled is false: no face detection to expect`)
            : pass(`${captured}; face detection skipped (faceid.enabled is false)`);
        try {
          await raceAbort(d.faces.ready, signal);
        } catch (err) {
          return fail(
            signal.aborted
              ? `${captured}, but the face models did not load within ${seconds(limitMs)}`
              : `${captured}, but the face models did not load: ${errorText(err)}`,
          );
        }
        const a = await d.faces.engine.analyze(frames, 'probe', signal);
        const found = a.faces.length;
        const detail = `${captured}, ${a.width}×${a.height}; detection ${Math.round(a.timings.detectMs)} ms`;
        if (found === 0)
          return d.expectFace
            ? fail(`no face in view (${detail})`)
            : pass(`${detail}; no face in view (stand in front and use --expect-face to test detection)`);
        return pass(`${detail}; ${found === 1 ? 'face detected' : `${found} faces detected`}`);
      } finally {
        wipeFrames(frames);
      }
    },
  };
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error('aborted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
