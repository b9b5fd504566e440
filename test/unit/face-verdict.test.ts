import test from 'ava';
import { judge, PROBE_RULES, REFERENCE_RULES, type DetectedFace } from '../../src/faceid/geometry.js';

// The worker's quality verdict: the one place the rule is applied (the engine only compares).

const face = (x: number, y: number, eyes: number): DetectedFace => ({
  box: { x: x - eyes, y: y - eyes, width: 2 * eyes, height: 2.4 * eyes },
  score: 0.99,
  leftEye: [x - eyes / 2, y],
  rightEye: [x + eyes / 2, y],
  mouth: [x, y + eyes],
  nose: [x, y + eyes / 2],
  mouthCorners: [
    [x - eyes / 3, y + eyes],
    [x + eyes / 3, y + eyes],
  ],
});

test('a usable face: the verdict carries the pose and the sharpness', (t) => {
  const v = judge([face(640, 400, 80)], 1280, 960, 120.4, PROBE_RULES);
  t.like(v, { ok: true, eyeDistancePx: 80, rollDeg: 0, yawRatio: 0, sharpness: 120.4 });
});

test('refusals: no face, too small, too blurry (probe rules only), with the same words as before', (t) => {
  t.deepEqual(judge([], 1280, 960, null, PROBE_RULES), { ok: false, reason: 'no-face', detail: 'no face in the frame' });
  t.deepEqual(judge([face(640, 400, 20)], 1280, 960, 100, PROBE_RULES), {
    ok: false,
    reason: 'too-small',
    detail: 'eyes 20 px apart; at least 28 needed',
  });
  t.deepEqual(judge([face(640, 400, 80)], 1280, 960, 12.4, PROBE_RULES), { ok: false, reason: 'too-blurry', detail: 'sharpness 12 < 25' });
  t.like(judge([face(640, 400, 80)], 1280, 960, 12.4, REFERENCE_RULES), { ok: true, sharpness: 12.4 });
});
