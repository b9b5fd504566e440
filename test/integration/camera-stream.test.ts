/**
 * hw-sim's fake rpicam-vid, run as kioskd's camera driver runs it: a persistent process writing
 * raw I420 frames to stdout until it is killed. A VirtualCamera of its own in a temp dir for each
 * test; the pictures are synthetic.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { fitToFrame, frameBytes, meanLuma, rgbToI420 } from '../../hw-sim/bin/camera-model.mjs';
import { VirtualCamera, type StreamChange } from '../../hw-sim/devices/camera.js';

const BUSY = 'ERROR: *** failed to acquire camera /base/soc/i2c0mux/i2c@1/imx708@1a: Device or resource busy ***';
/** The stream with nothing random in it: every frame is the picture, exposure aside. */
const STILL: StreamChange = { startupMs: 0, darkFrames: 0, motionPx: 0, blurChance: 0, dropChance: 0 };

/** A synthetic picture of one grey level with a lighter band on top: RGB and its JPEG. */
function picture(level: number, width = 160, height = 120): { rgb: Uint8Array; jpeg: Uint8Array } {
  const rgba = Buffer.alloc(width * height * 4, 255);
  for (let i = 0; i < width * height; i++) rgba.fill(i < width * 10 ? Math.min(255, level + 60) : level, i * 4, i * 4 + 3);
  const encoded = new Uint8Array(jpeg.encode({ data: rgba, width, height }, 95).data);
  // What the camera sees is the JPEG as decoded, not the pixels it was made of.
  const d = jpeg.decode(encoded, { useTArray: true, formatAsRGBA: false });
  return { rgb: d.data, jpeg: encoded };
}

async function camera(t: ExecutionContext, settings: StreamChange = STILL): Promise<VirtualCamera> {
  const dir = await mkdtemp(join(tmpdir(), 'kioskd-vid-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const vc = await VirtualCamera.start(dir);
  await vc.show(picture(100).jpeg, 'grey-100');
  await vc.setStream(settings);
  return vc;
}

interface Stream {
  readonly pid: number;
  /** Whole frames so far, in order. */
  readonly frames: Uint8Array[];
  /** Bytes after the last whole frame. */
  rest(): Buffer;
  stderr(): string;
  /** ms from spawn to the first byte on stdout (null: none yet). */
  firstByteMs(): number | null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  untilFrames(n: number, withinMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
  /** Stops reading and closes our end of the pipe, as a daemon that went away. */
  closeReader(): void;
}

/** Starts rpicam-vid as the daemon's driver will: `-n -t 0 --codec yuv420 --width W --height H --framerate F … -o -`. */
function startVid(t: ExecutionContext, vc: VirtualCamera, W = 160, H = 120, fps = 20, extra: string[] = []): Stream {
  const args = ['-n', '-t', '0', '--codec', 'yuv420', '--width', String(W), '--height', String(H), '--framerate', String(fps), ...extra, '-o', '-'];
  const started = performance.now();
  const child = spawn(join(vc.binDir, 'rpicam-vid'), args, { env: { ...process.env, ...vc.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const size = frameBytes(W, H);
  const frames: Uint8Array[] = [];
  let pending = Buffer.alloc(0);
  let first: number | null = null;
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => {
    first ??= performance.now() - started;
    pending = Buffer.concat([pending, d]);
    while (pending.length >= size) {
      frames.push(new Uint8Array(pending.subarray(0, size)));
      pending = pending.subarray(size);
    }
    for (const w of waiters) w();
  });
  child.stdout.on('error', () => {});
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  // 'close', not 'exit': by then stdout and stderr have been read to the end.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      resolve({ code, signal });
      for (const w of waiters) w();
    }),
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    pid: child.pid!,
    frames,
    rest: () => pending,
    stderr: () => err,
    firstByteMs: () => first,
    exited,
    untilFrames: (n, withinMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (frames.length >= n) done(resolve);
          else if (child.exitCode !== null || child.signalCode !== null)
            done(() => reject(new Error(`rpicam-vid ended after ${frames.length} frames: ${err}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`only ${frames.length} of ${n} frames in ${withinMs} ms`))), withinMs);
        const done = (then: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          then();
        };
        waiters.add(check);
        check();
      }),
    kill: (signal = 'SIGTERM') => void child.kill(signal),
    closeReader: () => child.stdout.destroy(),
  };
}

/** Runs one of the camera scripts to its end (not spawnSync: the other tests' streams must be read meanwhile). */
function run(vc: VirtualCamera, command: string, args: string[]): Promise<{ status: number | null; stdout: Buffer; stderr: string }> {
  const child = spawn(join(vc.binDir, command), args, { env: { ...process.env, ...vc.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out), stderr: err })));
}

/** The promise's value, or a failure naming `what` once `ms` have passed (a stream that should end but streams on). */
function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

test('frames are exactly W×H×3/2 bytes of I420, the picture fitted into the frame; the call and pid are recorded', async (t) => {
  const vc = await camera(t);
  const s = startVid(t, vc, 320, 180);
  await s.untilFrames(3);
  const want = rgbToI420(fitToFrame(picture(100).rgb, 160, 120, 320, 180), 320, 180);
  for (const f of s.frames.slice(0, 3)) t.deepEqual(f, want);
  t.is(s.frames[0]!.length, 320 * 180 * 1.5);
  t.regex(s.stderr(), /INFO Camera camera_manager\.cpp:\d+ libcamera v/);
  t.deepEqual(vc.streamCalls(), ['-n -t 0 --codec yuv420 --width 320 --height 180 --framerate 20 -o -']);
  t.is(vc.lastStreamPid(), s.pid);
  t.deepEqual(vc.calls(), [], 'rpicam-still was not run');
  s.kill();
  t.deepEqual(await s.exited, { code: null, signal: 'SIGTERM' });
});

test('the first frames are under-exposed and brighten until exposure settles, then hold steady', async (t) => {
  const vc = await camera(t, { ...STILL, darkFrames: 5 });
  const s = startVid(t, vc);
  await s.untilFrames(9);
  const means = s.frames.slice(0, 9).map((f) => meanLuma(f, 160, 120));
  t.true(means[0]! < 0.25 * means[8]!, means.join(', '));
  for (let i = 1; i <= 5; i++) t.true(means[i]! > means[i - 1]! + 3, `frame ${i} is brighter: ${means.join(', ')}`);
  t.deepEqual(means.slice(5), [means[8], means[8], means[8], means[8]]);
});

test('the first byte comes no sooner than startupMs after the start; frames then follow at the frame rate', async (t) => {
  const vc = await camera(t, { ...STILL, startupMs: 800 });
  // Frames larger than the pipe's buffer, so they arrive as they are made rather than in a burst after a busy moment here.
  const s = startVid(t, vc, 640, 480, 20);
  await s.untilFrames(1);
  t.true(s.firstByteMs()! >= 800, `first byte after ${s.firstByteMs()} ms`);
  const at = performance.now();
  await s.untilFrames(11);
  const took = performance.now() - at;
  // 10 frames at 20 fps: 500 ms; the upper bound only says the stream keeps flowing (loaded CI machines are slow).
  t.true(took >= 400 && took < 8000, `10 frames in ${took} ms`);
});

test('dieAfterFrames: the stream ends after that many whole frames with exit 1 and the error', async (t) => {
  const vc = await camera(t, { ...STILL, dieAfterFrames: 3 });
  const s = startVid(t, vc);
  t.deepEqual(await within(s.exited, 'the stream dies'), { code: 1, signal: null });
  t.is(s.frames.length, 3);
  t.is(s.rest().length, 0);
  t.is(lastLine(s.stderr()), 'ERROR: *** device disconnected (hw-sim) ***');
});

test('camera busy: a second start fails like libcamera while one streams, and works once the first is gone, even SIGKILLed', async (t) => {
  const vc = await camera(t);
  const first = startVid(t, vc);
  await first.untilFrames(1);
  const second = startVid(t, vc);
  t.deepEqual(await within(second.exited, 'a second start is refused'), { code: 1, signal: null });
  t.is(lastLine(second.stderr()), BUSY);
  t.is(second.firstByteMs(), null);
  const still = await run(vc, 'rpicam-still', ['-n', '-o', '-']);
  t.is(still.status, 1);
  t.is(lastLine(still.stderr), BUSY, 'rpicam-still is refused too');

  first.kill('SIGTERM');
  await first.exited;
  const third = startVid(t, vc);
  await third.untilFrames(1);
  third.kill('SIGKILL');
  await third.exited;
  t.true(existsSync(join(vc.dir, 'camera.lock')), 'a SIGKILLed stream leaves its lock behind');
  const fourth = startVid(t, vc);
  await fourth.untilFrames(1);
  fourth.kill();
  await fourth.exited;
  t.false(existsSync(join(vc.dir, 'camera.lock')), 'the lock goes with the process');

  await vc.setStream({ busy: true });
  const held = startVid(t, vc);
  t.deepEqual(await within(held.exited, 'a start on a busy camera is refused'), { code: 1, signal: null });
  t.is(lastLine(held.stderr()), BUSY);
  t.is((await run(vc, 'rpicam-still', ['-n', '-o', '-'])).status, 1);
  await vc.setStream({ busy: false });
  const free = startVid(t, vc);
  await free.untilFrames(1);
});

test('fail, hang and garbage keep working on the stream', async (t) => {
  const vc = await camera(t);
  await vc.fail('no cameras available');
  const failed = startVid(t, vc);
  t.deepEqual(await within(failed.exited, 'a failing camera ends'), { code: 1, signal: null });
  t.is(lastLine(failed.stderr()), 'ERROR: *** no cameras available ***');
  t.is(failed.firstByteMs(), null);

  await vc.garbage();
  const garbage = startVid(t, vc);
  t.deepEqual(await within(garbage.exited, 'garbage ends'), { code: 0, signal: null });
  t.is(garbage.frames.length, 0);
  t.is(garbage.rest().toString(), 'this is not a frame\n');

  await vc.hang();
  const hung = startVid(t, vc);
  await sleep(800);
  t.is(hung.firstByteMs(), null, 'no frame from a hung camera');
  t.false(gone(hung.pid));
  hung.kill();
  await hung.exited;
  t.true(gone(hung.pid));
});

test('a face shown mid-stream appears within a few frames, without new dark frames; stop() ends the stream and deletes the pictures', async (t) => {
  const vc = await camera(t);
  // Frames larger than the pipe's buffer: none made before the switch is still on its way after it.
  const s = startVid(t, vc, 640, 480);
  await s.untilFrames(4);
  const dim = meanLuma(s.frames[3]!, 640, 480);
  await vc.show(picture(220).jpeg, 'grey-220');
  const switchedAt = s.frames.length;
  await s.untilFrames(switchedAt + 6);
  const after = s.frames.slice(switchedAt).map((f) => meanLuma(f, 640, 480));
  const first = after.findIndex((m) => m > dim + 80);
  t.true(first >= 0 && first <= 4, `the new face from frame ${first}: ${after.join(', ')}`);
  t.true(
    after.slice(first).every((m) => m === after.at(-1)),
    'steady at once: exposure did not start over',
  );

  t.true(readdirSync(join(vc.dir, 'frames')).some((f) => f.endsWith('.ppm')));
  await vc.stop();
  t.deepEqual(await within(s.exited, 'the stream ends'), { code: 1, signal: null });
  t.is(lastLine(s.stderr()), 'ERROR: *** no cameras available ***');
  t.false(existsSync(join(vc.dir, 'frames')), 'no picture or raw sidecar is left');
});

test('when its reader goes away the stream ends quietly and frees the camera', async (t) => {
  const vc = await camera(t);
  const s = startVid(t, vc);
  await s.untilFrames(2);
  s.closeReader();
  t.deepEqual(await within(s.exited, 'the stream ends without its reader', 3000), { code: 0, signal: null });
  t.false(existsSync(join(vc.dir, 'camera.lock')));
  const next = startVid(t, vc);
  await next.untilFrames(1);
});

test('a stream whose parent dies ends by itself, even a hung one that never writes (no orphan holding the camera)', async (t) => {
  const vc = await camera(t);
  await vc.hang();
  const vid = join(vc.binDir, 'rpicam-vid');
  const parent = spawn('sh', ['-c', `"${vid}" -n -t 0 --codec yuv420 -o - >/dev/null & wait`], {
    env: { ...process.env, ...vc.env },
    stdio: 'ignore',
  });
  t.teardown(() => void parent.kill('SIGKILL'));
  const lock = join(vc.dir, 'camera.lock');
  for (let i = 0; i < 100 && !existsSync(lock); i++) await sleep(50);
  const pid = vc.lastStreamPid()!;
  t.false(gone(pid), 'rpicam-vid is running');
  parent.kill('SIGKILL');
  for (let i = 0; i < 60 && !gone(pid); i++) await sleep(50);
  t.true(gone(pid), 'rpicam-vid ended within 3 s of its parent');
  t.false(existsSync(lock));
});

test('options rpicam-vid cannot serve here are refused with rpicam’s kind of error', async (t) => {
  const vc = await camera(t);
  const refused = async (args: string[], message: RegExp) => {
    const r = await run(vc, 'rpicam-vid', args);
    t.is(r.status, 1, args.join(' '));
    t.is(r.stdout.length, 0);
    t.regex(lastLine(r.stderr), message);
  };
  await refused(
    ['-t', '0', '--codec', 'yuv420', '-o', '/tmp/frames.yuv'],
    /^ERROR: \*\*\* hw-sim rpicam-vid writes frames to stdout only \(-o -\), not to \/tmp\/frames\.yuv \*\*\*$/,
  );
  await refused(['-t', '0', '-o', '-'], /writes only --codec yuv420, not h264/);
  await refused(['--codec=yuv420', '--width=abc', '-o', '-'], /^ERROR: \*\*\* the argument \('abc'\) for option '--width' is invalid \*\*\*$/);
  await refused(['--codec', 'yuv420', '--width', '161', '-o', '-'], /even width and height/);
  // --opt=value forms and options the fake ignores (rotation, AE settings) are fine.
  const s = startVid(t, vc, 160, 120, 20, ['--rotation', '180', '--awb', 'indoor']);
  await s.untilFrames(1);
  t.is(s.frames[0]!.length, frameBytes(160, 120));
});
