import test from 'ava';
import { alignedCrop, applySimilarity, ARCFACE_112, downscale, laplacianVariance, similarity, squareCrop } from '../../src/faceid/align.js';
import { fivePoints, type DetectedFace, type Point } from '../../src/faceid/geometry.js';
import { distance, distanceOf, scoreOf } from '../../src/faceid/metric.js';

const face = (pts: Point[]): DetectedFace => ({
  box: { x: 0, y: 0, width: 10, height: 10 },
  score: 1,
  leftEye: pts[0]!,
  rightEye: pts[1]!,
  nose: pts[2]!,
  mouthCorners: [pts[3]!, pts[4]!],
  mouth: pts[2]!,
});

test('similarity recovers a known scale, rotation and shift from five points', (t) => {
  const a = 2.5 * Math.cos(0.3);
  const b = 2.5 * Math.sin(0.3);
  const src = ARCFACE_112.map(([x, y]) => [x + 7, y - 3] as Point);
  const dst = src.map(([x, y]) => [a * x - b * y + 40, b * x + a * y - 12] as Point);
  const m = similarity(src, dst);
  t.true(Math.abs(m.a - a) < 1e-9 && Math.abs(m.b - b) < 1e-9 && Math.abs(m.tx - 40) < 1e-7 && Math.abs(m.ty + 12) < 1e-7);
  for (let i = 0; i < 5; i++) {
    const [x, y] = applySimilarity(m, src[i]!);
    t.true(Math.hypot(x - dst[i]![0], y - dst[i]![1]) < 1e-6);
  }
});

test('five points are taken in image order whatever the detector calls left', (t) => {
  const p = fivePoints(
    face([
      [80, 50],
      [40, 50],
      [60, 70],
      [75, 90],
      [45, 90],
    ]),
  );
  t.deepEqual(p, [
    [40, 50],
    [80, 50],
    [60, 70],
    [45, 90],
    [75, 90],
  ]);
});

test('an aligned crop puts the eyes where the template has them, and scales pixels to [-1, 1] in the order asked', (t) => {
  // A 400×300 frame, black except a red 7×7 dot on each eye; the face is twice the template's size and shifted.
  const W = 400;
  const H = 300;
  const rgb = new Uint8Array(W * H * 3);
  const eyes: Point[] = ARCFACE_112.slice(0, 2).map(([x, y]) => [2 * x + 100, 2 * y + 50]);
  for (const [ex, ey] of eyes)
    for (let dy = -3; dy <= 3; dy++) for (let dx = -3; dx <= 3; dx++) rgb.set([255, 0, 0], ((Math.round(ey) + dy) * W + Math.round(ex) + dx) * 3);
  const pts = ARCFACE_112.map(([x, y]) => [2 * x + 100, 2 * y + 50] as Point);
  const crop = alignedCrop(rgb, W, H, pts, { size: 112, channels: 'rgb', layout: 'nchw', range: 'symmetric' });
  t.is(crop.length, 3 * 112 * 112);
  const red = (x: number, y: number) => crop[Math.round(y) * 112 + Math.round(x)]!;
  const blue = (x: number, y: number) => crop[2 * 112 * 112 + Math.round(y) * 112 + Math.round(x)]!;
  for (const [x, y] of ARCFACE_112.slice(0, 2)) {
    t.true(red(x, y) > 0.5, 'the red dot lands on the template eye');
    t.is(blue(x, y), -1);
  }
  t.is(red(56, 20), -1, 'black is -1');
  const bgr = alignedCrop(rgb, W, H, pts, { size: 112, channels: 'bgr', layout: 'nchw', range: 'unit' });
  const [x, y] = ARCFACE_112[0]!;
  t.true(bgr[2 * 112 * 112 + Math.round(y) * 112 + Math.round(x)]! > 0.7, 'bgr puts red last; unit range is 0..1');
  t.is(bgr[Math.round(y) * 112 + Math.round(x)]!, 0);
});

test('downscaling keeps the picture (area average) and reports the scale; sharpness falls with blur', (t) => {
  const W = 1280;
  const H = 960;
  const rgb = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) rgb.fill(((x >> 4) + (y >> 4)) % 2 ? 255 : 0, (y * W + x) * 3, (y * W + x) * 3 + 3);
  const s = downscale(rgb, W, H, 640);
  t.like(s, { width: 640, height: 480, scale: 0.5 });
  t.is(Math.round(s.rgb[(4 * 640 + 4) * 3]!), 0);
  t.is(Math.round(s.rgb[(4 * 640 + 12) * 3]!), 255, 'the 16-px checks are 8-px checks at half size');
  const sharp = laplacianVariance(squareCrop(rgb, W, H, { x: 0, y: 0, size: 300 }, 150), 150);
  // The same checks with soft edges (a linear ramp over 8 px), as an out-of-focus camera gives.
  const ramp = new Uint8Array(W * H * 3);
  const tri = (v: number) => Math.min(1, Math.max(0, Math.abs((v % 32) - 16) / 8 - 0.5));
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) ramp.fill(Math.round(255 * Math.abs(tri(x) - tri(y))), (y * W + x) * 3, (y * W + x) * 3 + 3);
  const soft = laplacianVariance(squareCrop(ramp, W, H, { x: 0, y: 0, size: 300 }, 150), 150);
  t.true(sharp > soft);
  t.is(laplacianVariance(new Float32Array(150 * 150 * 3).fill(90), 150), 0);
});

test('metrics: cosine scores are similarities, thresholds convert both ways', (t) => {
  t.is(distance('l2', [0, 3], [4, 0]), 5);
  t.true(Math.abs(distance('cosine', [1, 0], [2, 0])) < 1e-12);
  t.true(Math.abs(scoreOf('cosine', distance('cosine', [1, 0], [0, 1]))) < 1e-12);
  t.is(distanceOf('cosine', 0.4), 0.6);
  t.is(distanceOf('l2', 0.4), 0.4);
});
