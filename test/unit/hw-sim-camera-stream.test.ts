/**
 * hw-sim's camera model (hw-sim/bin/camera-model.mjs) as pure functions, and the ways a
 * technician, a scenario file or the panel set the stream (camera.stream).
 */
import test from 'ava';
import {
  DEFAULT_STREAM_SETTINGS,
  WALL_GREY,
  createFrameSource,
  decodePpm,
  encodePpm,
  fitToFrame,
  frameBytes,
  i420ToRgb,
  meanLuma,
  mulberry32,
  normaliseStreamSettings,
  rgbToI420,
} from '../../hw-sim/bin/camera-model.mjs';
import { parseConsoleLine } from '../../hw-sim/console.js';
import { CONSOLE_HELP } from '../../hw-sim/console.js';
import { describeControl, parseControl, type ControlCall } from '../../hw-sim/control/table.js';
import { ScenarioSchema } from '../../hw-sim/scenario/schema.js';

/** A smooth synthetic picture (gradients and a bright square): no person in it. */
function picture(w: number, h: number): Uint8Array {
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      const inSquare = x > w / 3 && x < (2 * w) / 3 && y > h / 3 && y < (2 * h) / 3;
      rgb[o] = inSquare ? 240 : 40 + Math.round((150 * x) / w);
      rgb[o + 1] = inSquare ? 230 : 60 + Math.round((120 * y) / h);
      rgb[o + 2] = inSquare ? 220 : 90;
    }
  }
  return rgb;
}

/** A 4-pixel checkerboard: fine detail that blur removes. */
const checkers = (w: number, h: number): Uint8Array => {
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) rgb.fill((((i % w) >> 2) + (Math.floor(i / w) >> 2)) & 1 ? 200 : 50, i * 3, i * 3 + 3);
  return rgb;
};

/** Sum of |horizontal differences| of Y: lower when blurred. */
function sharpness(i420: Uint8Array, w: number, h: number): number {
  let s = 0;
  for (let y = 0; y < h; y++) for (let x = 1; x < w; x++) s += Math.abs(i420[y * w + x]! - i420[y * w + x - 1]!);
  return s;
}

const still = { darkFrames: 0, motionPx: 0, blurChance: 0, dropChance: 0 };

test('RGB → I420 → RGB comes back within a few levels on a smooth picture; sizes are exact; odd sizes are refused', (t) => {
  const [w, h] = [64, 48];
  const rgb = picture(w, h);
  const yuv = rgbToI420(rgb, w, h);
  t.is(yuv.length, frameBytes(w, h));
  t.is(frameBytes(1280, 960), 1_843_200);
  const back = i420ToRgb(yuv, w, h);
  let worst = 0;
  let total = 0;
  for (let i = 0; i < rgb.length; i++) {
    const d = Math.abs(back[i]! - rgb[i]!);
    total += d;
    // The edges of the square share chroma with their neighbours (4:2:0): only there is it off by more.
    worst = Math.max(worst, d);
  }
  t.true(total / rgb.length < 2, `mean error ${total / rgb.length}`);
  t.true(worst < 60, `worst ${worst}`);
  // BT.601 full range: white is Y 255, black 0, grey stays grey (U = V = 128).
  const grey = rgbToI420(new Uint8Array(2 * 2 * 3).fill(128), 2, 2);
  t.deepEqual(Array.from(grey), [128, 128, 128, 128, 128, 128]);
  t.is(rgbToI420(new Uint8Array(12).fill(255), 2, 2)[0], 255);
  t.throws(() => rgbToI420(new Uint8Array(3 * 3 * 3), 3, 3), { message: /even width and height/ });
});

test('fitToFrame keeps the aspect, centres the picture and fills the rest with the wall grey', (t) => {
  const rgb = new Uint8Array(100 * 50 * 3).fill(10);
  const out = fitToFrame(rgb, 100, 50, 200, 200); // ×2: 200×100, rows 50–149
  const px = (x: number, y: number) => Array.from(out.subarray((y * 200 + x) * 3, (y * 200 + x) * 3 + 3));
  t.deepEqual(px(100, 10), [...WALL_GREY]);
  t.deepEqual(px(100, 100), [10, 10, 10]);
  t.deepEqual(px(0, 50), [10, 10, 10]);
  t.deepEqual(px(199, 149), [10, 10, 10]);
  t.deepEqual(px(5, 150), [...WALL_GREY]);
  // Shrunk by area: the mean colour survives.
  const big = picture(640, 480);
  const small = fitToFrame(big, 640, 480, 320, 240);
  const mean = (a: Uint8Array) => a.reduce((s, v) => s + v, 0) / a.length;
  t.true(Math.abs(mean(small) - mean(big)) < 1);
  // Same size: a copy, not the same array.
  const same = fitToFrame(big, 640, 480, 640, 480);
  t.not(same, big);
  t.deepEqual(same, big);
});

test('the first frames are dark and brighten in steps until exposure settles; then the picture itself', (t) => {
  const [W, H] = [160, 120];
  const base = rgbToI420(picture(W, H), W, H);
  const src = createFrameSource(base, W, H, { ...still, darkFrames: 4 }, mulberry32(1));
  const means = Array.from({ length: 7 }, () => meanLuma(src.next()!, W, H));
  const settled = meanLuma(base, W, H);
  t.true(means[0]! < 0.2 * settled, `first ${means[0]} of ${settled}`);
  for (let i = 1; i <= 4; i++) t.true(means[i]! > means[i - 1]! + 5, `frame ${i} brighter: ${means.join(', ')}`);
  t.is(means[4], settled);
  t.is(means[6], settled);
  const src2 = createFrameSource(base, W, H, still, mulberry32(1));
  t.deepEqual(src2.next(), base, 'no motion, blur or drop: the base frame exactly');
});

test('motion, blur and drops happen as often as asked, the same for the same seed', (t) => {
  const [W, H] = [1280, 960];
  const base = rgbToI420(fitToFrame(picture(640, 480), 640, 480, W, H), W, H);
  const run = (settings: object, seed: number, n: number) => {
    const src = createFrameSource(base, W, H, { ...still, ...settings }, mulberry32(seed));
    return Array.from({ length: n }, () => src.next());
  };
  t.true(run({ dropChance: 1 }, 1, 5).every((f) => f === null));
  const moved = run({ motionPx: 2 }, 7, 8);
  t.true(
    moved.some((f) => !Buffer.from(f!).equals(Buffer.from(base))),
    'some frames shifted',
  );
  t.deepEqual(run({ motionPx: 2, blurChance: 0.5, dropChance: 0.2 }, 9, 6), run({ motionPx: 2, blurChance: 0.5, dropChance: 0.2 }, 9, 6));
  const sharp = rgbToI420(checkers(W, H), W, H);
  const blurred = createFrameSource(sharp, W, H, { ...still, blurChance: 1 }, mulberry32(3)).next()!;
  t.true(sharpness(blurred, W, H) < 0.8 * sharpness(sharp, W, H), 'a blurred frame is less sharp');
});

test('the raw sidecar (PPM) round-trips; stream.json values that are wrong or missing are the defaults', (t) => {
  const rgb = picture(6, 4);
  const back = decodePpm(encodePpm(rgb, 6, 4));
  t.is(back.width, 6);
  t.is(back.height, 4);
  t.deepEqual(Array.from(back.rgb), Array.from(rgb));
  t.throws(() => decodePpm(new TextEncoder().encode('this is not a frame\n')), { message: /not a binary PPM/ });
  t.deepEqual(normaliseStreamSettings(undefined), DEFAULT_STREAM_SETTINGS);
  t.deepEqual(normaliseStreamSettings({ startupMs: 1500, darkFrames: -1, dropChance: 2, dieAfterFrames: 3, busy: 'yes' }), {
    ...DEFAULT_STREAM_SETTINGS,
    startupMs: 1500,
    dieAfterFrames: 3,
  });
});

const consoleCalls = (line: string): readonly ControlCall[] => {
  const c = parseConsoleLine(line);
  if (c.kind !== 'control') throw new Error(`"${line}" is not a control action`);
  return c.calls;
};
const scenarioCalls = (value: unknown): readonly ControlCall[] => {
  const s = ScenarioSchema.parse({ steps: [{ camera_stream: value }] }).steps[0]!;
  if (!('calls' in s)) throw new Error('not a device step');
  return s.calls;
};
const stream = (params: object): ControlCall[] => [parseControl('camera.stream', params)];

test('camera stream: the console, the scenario file and the canonical name agree', (t) => {
  t.deepEqual(consoleCalls('camera slow'), stream({ startupMs: 2000 }));
  t.deepEqual(consoleCalls('camera slow 1500'), stream({ startupMs: 1500 }));
  t.deepEqual(consoleCalls('camera.stream 1500'), stream({ startupMs: 1500 }));
  t.deepEqual(scenarioCalls({ startup: '1.5s' }), stream({ startupMs: 1500 }));
  t.deepEqual(consoleCalls('camera dark 8'), stream({ darkFrames: 8 }));
  t.deepEqual(scenarioCalls({ startup: '1500ms', dark_frames: 8 }), stream({ startupMs: 1500, darkFrames: 8 }));
  t.deepEqual(consoleCalls('camera busy'), stream({ busy: true }));
  t.deepEqual(consoleCalls('camera free'), stream({ busy: false }));
  t.deepEqual(scenarioCalls({ busy: true }), stream({ busy: true }));
  t.deepEqual(consoleCalls('camera die-after 5'), stream({ dieAfterFrames: 5 }));
  t.deepEqual(scenarioCalls({ die_after_frames: 5 }), stream({ dieAfterFrames: 5 }));
  t.deepEqual(consoleCalls('camera.stream dieAfterFrames=never'), stream({ dieAfterFrames: null }));
  t.deepEqual(scenarioCalls({ die_after_frames: null }), stream({ dieAfterFrames: null }));
  t.deepEqual(consoleCalls('camera drop 0.2'), stream({ dropChance: 0.2 }));
  t.deepEqual(consoleCalls('camera drop 20%'), stream({ dropChance: 0.2 }));
  t.deepEqual(consoleCalls('camera normal'), stream({ reset: true }));
  t.deepEqual(consoleCalls('camera.stream reset=true'), stream({ reset: true }));
  t.deepEqual(scenarioCalls('normal'), stream({ reset: true }));
  // `camera ok` still clears faults of the pictures, and leaves the stream as it is.
  t.deepEqual(consoleCalls('camera ok'), [{ action: 'camera.mode', params: { mode: 'ok' } }]);
  t.true(CONSOLE_HELP.includes('camera slow [MS]') && CONSOLE_HELP.includes('camera.stream'));
});

test('camera stream: mistakes say the right spelling; each call says what it did', (t) => {
  t.throws(() => parseConsoleLine('camera dark'), { message: /camera dark N/ });
  t.throws(() => parseConsoleLine('camera drop 3'), { message: /camera drop P/ });
  t.throws(() => parseConsoleLine('camera sideways'), { message: /camera fail\|hang\|garbage\|ok \| camera slow/ });
  t.throws(() => parseConsoleLine('camera.stream'), { message: /say what to change/ });
  t.throws(() => parseControl('camera.stream', { dropChance: 1.5 }), { message: /dropChance/ });
  t.throws(() => ScenarioSchema.parse({ steps: [{ camera_stream: { startup: 1500 } }] }), { message: /a duration with a unit/ });
  t.throws(() => ScenarioSchema.parse({ steps: [{ camera_stream: { startupMs: 1500 } }] }), { message: /startupMs/ });
  t.is(
    describeControl(stream({ startupMs: 1500, darkFrames: 8, busy: true, dieAfterFrames: 5 })[0]!),
    'camera stream: first frame 1500 ms after start, 8 dark frames while exposure settles, dies after 5 frames, busy (held by another program)',
  );
  t.regex(describeControl(stream({ reset: true })[0]!), /^camera stream: as a real camera by default/);
});
