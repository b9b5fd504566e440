import test, { type ExecutionContext } from 'ava';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import pino from 'pino';
import { cameraConfigSchema, type RpicamConfig } from '../../src/hal/camera/config.js';
import { createRpicamCamera } from '../../src/hal/camera/rpicam.js';
import type { Camera, PortState } from '../../src/hal/ports.js';
import type { CameraFrame } from '../../src/faceid/frames.js';
import { systemClock } from '../../src/util/clock.js';
import { VirtualCamera } from '../../hw-sim/devices/camera.js';
import { comment, jpegBomb, jpegOf, sof } from '../helpers/jpeg-bombs.js';

/** A small picture whose bytes depend on `shade`, so two frames are never byte-identical. */
function frame(shade: number, width = 40, height = 30): Uint8Array {
  const data = Buffer.alloc(width * height * 4);
  for (let i = 0; i < data.length; i += 4) data.fill(shade, i, i + 3).writeUInt8(255, i + 3);
  data.fill(255 - shade, 0, width * 4 * 4); // a bright band on top
  return jpeg.encode({ data, width, height }, 80).data;
}

const log = pino({ level: process.env['DEBUG_CAMERA'] ? 'debug' : 'silent' });

async function tempDir(t: ExecutionContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function rpicam(over: Partial<RpicamConfig> = {}): RpicamConfig {
  return { ...cameraConfigSchema.parse({ driver: 'rpicam', mode: 'still' }), ...over } as RpicamConfig;
}

/** A VirtualCamera of its own and the real driver pointed at it, opened. */
async function rig(t: ExecutionContext, over: Partial<RpicamConfig> = {}, env = (vc: VirtualCamera): NodeJS.ProcessEnv => ({ ...vc.env })) {
  const vc = await VirtualCamera.start(await tempDir(t, 'kioskd-camera-'));
  const cam = createRpicamCamera(rpicam(over), { clock: systemClock(), log, random: Math.random, env: env(vc) });
  const states: PortState[] = [];
  cam.onStateChange((s) => states.push(s));
  t.teardown(() => cam.close());
  await cam.open(new AbortController().signal);
  return { vc, cam, states };
}

const capture = (cam: Camera, signal = new AbortController().signal) => cam.capture(signal);
/** The still's JPEG (these tests run the still mode; test/integration/camera-stream.test.ts the stream). */
const stillOf = (r: { frames: readonly CameraFrame[] }): Uint8Array => {
  const f = r.frames[0];
  if (r.frames.length !== 1 || f?.format !== 'jpeg') throw new Error('expected one JPEG still');
  return f.data;
};

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

test('config: defaults, none by default, and options that would save pictures to disk are refused', (t) => {
  t.deepEqual(cameraConfigSchema.parse(undefined), { driver: 'none' });
  t.deepEqual(cameraConfigSchema.parse({ driver: 'rpicam' }), {
    driver: 'rpicam',
    mode: 'stream',
    framerate: 10,
    burst: 3,
    warmUp: 'card-read',
    width: 1280,
    height: 960,
    timeoutMs: 3000,
    quality: 90,
    extraArgs: [],
  });
  t.false(cameraConfigSchema.safeParse({ driver: 'rpicam', command: 'bin/rpicam-still' }).success);
  t.true(cameraConfigSchema.safeParse({ driver: 'rpicam', command: '/opt/rpicam/rpicam-still' }).success);
  t.false(cameraConfigSchema.safeParse({ driver: 'rpicam', extraArgs: ['-o', '/tmp/x.jpg'] }).success);
  t.false(cameraConfigSchema.safeParse({ driver: 'rpicam', extraArgs: ['--output=/tmp/x.jpg'] }).success);
  t.true(cameraConfigSchema.safeParse({ driver: 'rpicam', extraArgs: ['--rotation', '180'] }).success);
  // The stream must stay raw frames on stdout at the configured rate.
  t.false(cameraConfigSchema.safeParse({ driver: 'rpicam', extraArgs: ['--codec', 'mjpeg'] }).success);
  t.false(cameraConfigSchema.safeParse({ driver: 'rpicam', extraArgs: ['--segment', '1000'] }).success);
  t.false(cameraConfigSchema.safeParse({ driver: 'rpicam', width: 641 }).success);
  t.false(cameraConfigSchema.safeParse({ driver: 'rpicam', widht: 640 }).success);
  t.false(cameraConfigSchema.safeParse({ driver: 'rpicam', timeoutMs: 50 }).success);
});

test('the frame shown comes back byte for byte, and rpicam-still is asked for the configured size and quality on stdout', async (t) => {
  const { vc, cam } = await rig(t, { width: 640, height: 480, quality: 77, extraArgs: ['--rotation', '180'] });
  t.deepEqual(cam.state(), { kind: 'ready' });
  const face = frame(60);
  await vc.show(face, 'patient-a');
  const r = await capture(cam);
  if (!r.ok) return t.fail(r.reason);
  t.deepEqual(Buffer.from(stillOf(r)), Buffer.from(face));
  t.true(r.ms >= 0);

  const other = frame(200);
  await vc.show(other, 'patient-b');
  const r2 = await capture(cam);
  t.true(r2.ok && Buffer.from(stillOf(r2)).equals(Buffer.from(other)));

  const calls = vc.calls();
  t.is(calls.length, 2);
  const argv = calls[0]!.split(' ');
  const after = (flag: string) => argv[argv.indexOf(flag) + 1];
  t.is(after('--width'), '640');
  t.is(after('--height'), '480');
  t.is(after('-q'), '77');
  t.is(after('--rotation'), '180');
  t.true(argv.includes('-n') && argv.includes('--immediate'));
  t.deepEqual(argv.slice(-2), ['-o', '-']);
});

test('a camera error degrades the port (the kiosk keeps serving; staff are alerted) with the message rpicam-still printed; the next good picture makes it ready again', async (t) => {
  const { vc, cam, states } = await rig(t);
  await vc.fail('no cameras available');
  const r = await capture(cam);
  t.deepEqual(r, { ok: false, reason: 'rpicam-still exited 1: ERROR: *** no cameras available ***' });
  t.deepEqual(cam.state(), { kind: 'degraded', code: 'capture-failed', reason: 'rpicam-still exited 1: ERROR: *** no cameras available ***' });
  t.false((await capture(cam)).ok); // same fault again: no new state event
  await vc.show(frame(90), 'back');
  t.true((await capture(cam)).ok);
  t.deepEqual(
    states.map((s) => s.kind),
    ['ready', 'degraded', 'ready'],
  );
});

test('output that is not a JPEG is a failed capture', async (t) => {
  const { vc, cam } = await rig(t);
  await vc.garbage();
  const r = await capture(cam);
  t.false(r.ok);
  t.regex(r.ok ? '' : r.reason, /^rpicam-still output is not a JPEG image \(\d+ bytes\)$/);
  t.is(cam.state().kind, 'degraded');
});

test('a capture that hangs is killed after timeoutMs and leaves no process behind', async (t) => {
  const { vc, cam } = await rig(t, { timeoutMs: 400 });
  await vc.hang();
  const started = Date.now();
  const r = await capture(cam);
  const took = Date.now() - started;
  t.false(r.ok);
  t.regex(r.ok ? '' : r.reason, /^rpicam-still took longer than 400 ms and was stopped/);
  // Stopped at its timeout, not before; the upper bound only says it did not hang (generous for a loaded machine).
  t.true(took >= 380 && took < 5000, `took ${took} ms`);
  const pid = vc.lastPid();
  t.truthy(pid);
  t.true(gone(pid!), `pid ${pid} still exists`);
  t.is(cam.state().kind, 'degraded');
});

test('aborting a capture kills rpicam-still at once and does not fault the camera', async (t) => {
  const { vc, cam } = await rig(t, { timeoutMs: 10_000 });
  await vc.hang();
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 200);
  const started = Date.now();
  const r = await capture(cam, ac.signal);
  t.deepEqual(r, { ok: false, reason: 'capture cancelled' });
  // Cancelled at 200 ms, long before the 10 s timeout (generous for a loaded machine).
  t.true(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  t.true(gone(vc.lastPid()!));
  t.deepEqual(cam.state(), { kind: 'ready' });
});

test('closing the port kills a capture in flight', async (t) => {
  const { vc, cam } = await rig(t, { timeoutMs: 10_000 });
  await vc.hang();
  const pending = capture(cam);
  await new Promise((r) => setTimeout(r, 200));
  const pid = vc.lastPid();
  t.true(pid !== null && !gone(pid), 'rpicam-still is running');
  await cam.close();
  t.false((await pending).ok);
  t.true(gone(pid!));
  t.false((await capture(cam)).ok, 'a closed camera takes no pictures');
});

test('a second capture while one runs is refused at once, and the first still succeeds', async (t) => {
  const { vc, cam } = await rig(t);
  await vc.show(frame(30), 'one');
  const first = capture(cam);
  const second = await capture(cam);
  t.deepEqual(second, { ok: false, reason: 'camera busy: another capture is in progress' });
  t.true((await first).ok);
  t.is(vc.calls().length, 1);
});

test('no rpicam-still or libcamera-still on PATH: the camera is faulted and says so', async (t) => {
  const empty = await tempDir(t, 'kioskd-nopath-');
  const { cam } = await rig(t, {}, () => ({ PATH: empty }));
  const reason = 'neither rpicam-still nor libcamera-still was found on PATH (install rpicam-apps)';
  t.deepEqual(cam.state(), { kind: 'faulted', code: 'not-installed', reason });
  t.deepEqual(await capture(cam), { ok: false, reason });
});

test('a configured command that does not exist is named in the reason', async (t) => {
  const { cam } = await rig(t, { command: '/nonexistent/rpicam-still' });
  t.deepEqual(cam.state(), { kind: 'faulted', code: 'not-installed', reason: '/nonexistent/rpicam-still does not exist or is not executable' });
  const r = await capture(cam);
  t.false(r.ok);
});

test('older Raspberry Pi OS with only libcamera-still on PATH: that one is used', async (t) => {
  const bin = await tempDir(t, 'kioskd-oldpi-');
  const { vc, cam } = await rig(t, {}, (v) => ({ PATH: `${bin}:/usr/bin:/bin`, HWSIM_CAMERA_DIR: v.dir }));
  t.is(cam.state().kind, 'faulted', 'nothing on PATH yet');
  await copyFile(join(vc.binDir, 'rpicam-still'), join(bin, 'libcamera-still'));
  const face = frame(120);
  await vc.show(face, 'old-pi');
  for (let i = 0; i < 2; i++) {
    const r = await capture(cam);
    t.true(r.ok && Buffer.from(stillOf(r)).equals(Buffer.from(face)), r.ok ? 'wrong picture' : r.reason);
  }
  t.is(vc.calls().length, 2);
  t.deepEqual(cam.state(), { kind: 'ready' });
});

test('a 695-byte frame declaring 8000×8000 pixels is a failed capture, refused by its header; the kiosk carries on', async (t) => {
  const { vc, cam } = await rig(t);
  await vc.show(jpegBomb(), 'bomb');
  const r = await capture(cam);
  t.deepEqual(r, { ok: false, reason: 'the rpicam-still picture declares 8000×8000 pixels, more than 1408×1056 (configured 1280×960, 10% margin)' });
  t.is(cam.state().kind, 'degraded');
  // A little over the configured size, or the same turned a quarter, is the camera's own picture.
  await vc.show(jpegBomb(1300, 970), 'near');
  t.true((await capture(cam)).ok);
  await vc.show(jpegBomb(960, 1280), 'turned');
  t.true((await capture(cam)).ok);
  await vc.show(frame(90), 'back');
  t.true((await capture(cam)).ok);
  t.deepEqual(cam.state(), { kind: 'ready' });
});

test('a frame of more bytes than the configured size can take is stopped while it is read', async (t) => {
  const { vc, cam } = await rig(t, { width: 640, height: 480 });
  // 640×480: at most 2 bytes a pixel and 512 KiB of EXIF, 1,138,688 bytes. This one is 4 MB with a proper header.
  const big = jpegOf(sof(640, 480), ...Array.from({ length: 64 }, () => comment(65_000)));
  t.true(big.byteLength > 4_000_000);
  await vc.show(big, 'fat');
  const r = await capture(cam);
  t.deepEqual(r, { ok: false, reason: 'rpicam-still wrote more than 1138688 bytes (the most a 640×480 picture may take) and was stopped' });
  t.true(gone(vc.lastPid()!));
  t.is(cam.state().kind, 'degraded');
});
