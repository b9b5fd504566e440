/**
 * kioskd's rpicam driver in stream mode against hw-sim's fake rpicam-vid: a stream per check-in,
 * bursts of exposed frames, a stream that dies, a camera held by another program, the fallback
 * to stills. Synthetic pictures; each test has a VirtualCamera of its own.
 */
import test, { type ExecutionContext } from 'ava';
import { chmod, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import pino from 'pino';
import { cameraConfigSchema, type RpicamConfig } from '../../src/hal/camera/config.js';
import { createRpicamCamera } from '../../src/hal/camera/rpicam.js';
import { meanLuma } from '../../src/faceid/frames.js';
import type { Camera, CaptureOutcome, PortState } from '../../src/hal/ports.js';
import { systemClock } from '../../src/util/clock.js';
import { VirtualCamera, type StreamChange } from '../../hw-sim/devices/camera.js';

const W = 160;
const H = 120;
/** Nothing random: every frame is the picture, exposure aside. */
const STEADY: StreamChange = { startupMs: 0, darkFrames: 0, motionPx: 0, blurChance: 0, dropChance: 0 };

function picture(level: number): Uint8Array {
  const rgba = Buffer.alloc(W * H * 4, 255);
  for (let i = 0; i < W * H; i++) rgba.fill(level, i * 4, i * 4 + 3);
  return new Uint8Array(jpeg.encode({ data: rgba, width: W, height: H }, 95).data);
}

interface Rig {
  readonly vc: VirtualCamera;
  readonly cam: Camera;
  readonly states: PortState[];
  readonly logs: Array<Record<string, unknown>>;
}

async function rig(
  t: ExecutionContext,
  stream: StreamChange = STEADY,
  over: Partial<RpicamConfig> = {},
  path?: (vc: VirtualCamera) => Promise<string>,
): Promise<Rig> {
  const dir = await mkdtemp(join(tmpdir(), 'kioskd-stream-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const vc = await VirtualCamera.start(dir);
  await vc.show(picture(120), 'grey');
  await vc.setStream(stream);
  const logs: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(JSON.parse(s) as Record<string, unknown>) });
  const cfg = { ...cameraConfigSchema.parse({ driver: 'rpicam', width: W, height: H, framerate: 20 }), ...over } as RpicamConfig;
  const env = { ...vc.env, ...(path ? { PATH: await path(vc) } : {}) };
  const cam = createRpicamCamera(cfg, { clock: systemClock(), log, random: Math.random, env });
  const states: PortState[] = [];
  cam.onStateChange((s) => states.push(s));
  t.teardown(() => cam.close());
  await cam.open(new AbortController().signal);
  return { vc, cam, states, logs };
}

const capture = (cam: Camera): Promise<CaptureOutcome> => cam.capture(new AbortController().signal);

function alive(pid: number | null): boolean {
  if (pid === null) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

test('a check-in starts one rpicam-vid; each capture is a burst of raw frames of the configured size; the check-in ending stops it', async (t) => {
  const { vc, cam } = await rig(t);
  const session = new AbortController();
  cam.prepare(session.signal);
  cam.prepare(session.signal); // idempotent: the portrait step asks again after consent
  for (let i = 0; i < 2; i++) {
    const r = await capture(cam);
    if (!r.ok) return t.fail(r.reason);
    t.is(r.frames.length, 3, 'the configured burst');
    for (const f of r.frames) {
      t.like(f, { format: 'i420', width: W, height: H });
      t.is(f.data.length, (W * H * 3) / 2);
      t.true(Math.abs(meanLuma(f.data, W, H) - 120) < 6, 'the picture shown');
    }
  }
  t.is(vc.streamCalls().length, 1, 'one stream for the whole check-in');
  const argv = vc.streamCalls()[0]!;
  t.regex(argv, /-t 0 --codec yuv420 --width 160 --height 120 --framerate 20 .*-o -$/);
  const pid = vc.lastStreamPid();
  t.true(alive(pid));
  session.abort();
  t.true(await until(() => !alive(pid)), 'the stream is stopped when the check-in ends');
  t.deepEqual(cam.state(), { kind: 'ready' });
});

test('frames taken while exposure settles are skipped and counted; the burst is of exposed frames', async (t) => {
  const { cam, logs } = await rig(t, { ...STEADY, startupMs: 300, darkFrames: 6 });
  const session = new AbortController();
  t.teardown(() => session.abort());
  cam.prepare(session.signal);
  const r = await capture(cam);
  if (!r.ok) return t.fail(r.reason);
  t.true((r.skipped ?? 0) >= 6, `skipped ${r.skipped}`);
  const lumas = r.frames.map((f) => meanLuma(f.data, W, H));
  t.true(Math.max(...lumas) - Math.min(...lumas) < 4, `exposed frames are steady: ${lumas.join(', ')}`);
  t.true(lumas[0]! > 110, 'not an under-exposed one');
  const line = logs.find((l) => l['msg'] === 'camera burst taken; frames skipped while exposure settled');
  t.truthy(line, 'the log says frames were skipped while exposure settled');
  t.true((line?.['skipped_while_settling'] as number) >= 6);
});

test('a capture with no check-in stream (selftest) starts one for itself and stops it after', async (t) => {
  const { vc, cam } = await rig(t);
  const r = await capture(cam);
  t.true(r.ok, r.ok ? '' : r.reason);
  t.is(vc.streamCalls().length, 1);
  const pid = vc.lastStreamPid();
  t.true(await until(() => !alive(pid)), 'no process is left behind');
});

test('the stream dying mid-burst is restarted once and the capture succeeds; dying again fails it and degrades the port', async (t) => {
  const { vc, cam, states } = await rig(t, { ...STEADY, dieAfterFrames: 2 });
  const session = new AbortController();
  t.teardown(() => session.abort());
  cam.prepare(session.signal);
  const r = await capture(cam);
  t.false(r.ok, 'two frames, then the stream dies, twice');
  if (!r.ok) t.regex(r.reason, /rpicam-vid exited 1 after 2 frames: ERROR: \*\*\* device disconnected \(hw-sim\) \*\*\*/);
  t.is(vc.streamCalls().length, 2, 'restarted once');
  t.like(states.at(-1), { kind: 'degraded', code: 'capture-failed' });

  // The next check-in's stream dies once (read at its start); the restart reads the healed settings.
  await vc.setStream({ ...STEADY, dieAfterFrames: 2 });
  const s2 = new AbortController();
  t.teardown(() => s2.abort());
  cam.prepare(s2.signal);
  await until(() => vc.streamCalls().length === 3);
  await new Promise((r) => setTimeout(r, 300)); // it has read stream.json
  await vc.setStream({ ...STEADY, dieAfterFrames: null });
  const r2 = await capture(cam);
  t.true(r2.ok, r2.ok ? '' : r2.reason);
  t.is(vc.streamCalls().length, 4, 'the dead stream was restarted within the capture');
  t.deepEqual(cam.state(), { kind: 'ready' }, 'a good burst makes it ready again');
});

test('a camera held by another program: the capture fails with libcamera’s words, and works once it is free', async (t) => {
  const { vc, cam, states } = await rig(t, { ...STEADY, busy: true });
  const r = await capture(cam);
  t.false(r.ok);
  if (!r.ok) t.regex(r.reason, /Device or resource busy/);
  t.like(states.at(-1), { kind: 'degraded', code: 'capture-failed' });
  await vc.setStream({ busy: false });
  const r2 = await capture(cam);
  t.true(r2.ok, r2.ok ? '' : r2.reason);
});

test('a stream that starts but never delivers a frame fails the capture after timeoutMs and leaves no process', async (t) => {
  const { vc, cam } = await rig(t, STEADY, { timeoutMs: 600 });
  await vc.hang();
  const t0 = Date.now();
  const r = await capture(cam);
  t.false(r.ok);
  if (!r.ok) t.regex(r.reason, /rpicam-vid delivered no frame within \d+ ms of the capture/);
  t.true(Date.now() - t0 < 3000);
  const pid = vc.lastStreamPid();
  t.true(await until(() => !alive(pid)), 'the hung stream is stopped');
});

test('garbage that is not a whole frame: the capture fails and says how many bytes came', async (t) => {
  const { vc, cam } = await rig(t);
  await vc.garbage();
  const r = await capture(cam);
  t.false(r.ok);
  if (!r.ok) t.regex(r.reason, /rpicam-vid exited 0 after 0 frames and \d+ bytes of a 28800-byte frame/);
});

test('no rpicam-vid on PATH: one rpicam-still JPEG per capture; mode still never starts a stream', async (t) => {
  // A PATH with rpicam-still only.
  const onlyStill = async (vc: VirtualCamera): Promise<string> => {
    const bin = join(vc.dir, 'still-only');
    await mkdir(bin);
    await symlink(join(vc.binDir, 'rpicam-still'), join(bin, 'rpicam-still'));
    await chmod(bin, 0o755);
    return `${bin}:/usr/bin:/bin`;
  };
  const { vc, cam, logs } = await rig(t, STEADY, {}, onlyStill);
  cam.prepare(new AbortController().signal);
  const r = await capture(cam);
  if (!r.ok) return t.fail(r.reason);
  t.is(r.frames.length, 1);
  t.is(r.frames[0]!.format, 'jpeg');
  t.is(vc.streamCalls().length, 0);
  t.truthy(logs.find((l) => l['msg'] === 'no video program for the camera stream: one still per capture'));

  const still = await rig(t, STEADY, { mode: 'still' });
  still.cam.prepare(new AbortController().signal);
  const r2 = await capture(still.cam);
  t.true(r2.ok && r2.frames[0]!.format === 'jpeg');
  t.is(still.vc.streamCalls().length, 0);
});
