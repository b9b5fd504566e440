import test from 'ava';
import { testNeeding } from '../helpers/needs.js';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { calibrate } from '../../src/cli/calibrate.js';
import { findCalibration, fitThreshold } from '../../src/faceid/calibration.js';
import { FaceEngine, type FaceEngineOptions } from '../../src/faceid/engine.js';

const FACES = new URL('../../../shared/faces/dev/', import.meta.url).pathname;
const bundled: FaceEngineOptions = { backend: 'wasm', recognizer: { model: 'faceapi' }, calibration: {}, callTimeoutMs: 30_000, maxTensorGrowth: 20 };

test('fitThreshold: the threshold keeps impostors at the FAR asked for; too few impostor pairs are refused with the reason', (t) => {
  const impostor = Array.from({ length: 20_000 }, (_, i) => 0.3 + i / 20_000);
  const genuine = Array.from({ length: 100 }, (_, i) => (i < 90 ? 0.2 + i / 1000 : Infinity)); // 10 missed faces
  const fit = fitThreshold(genuine, impostor, 1e-3);
  t.true(fit.ok);
  if (fit.ok) {
    t.true(fit.far <= 1e-3);
    t.is(fit.tar, 0.9, 'missed faces count as rejects');
  }
  const refused = fitThreshold(genuine, impostor.slice(0, 5000), 1e-3);
  t.false(refused.ok);
  if (!refused.ok) t.regex(refused.reason, /5000 impostor pairs cannot resolve a FAR of 0.001: at least 10000 are needed/);
});

test('fitThreshold: a population whose impostors pass more often sets a stricter threshold, and says so; one too small to measure does not', (t) => {
  const spread = (n: number, from: number) => Array.from({ length: n }, (_, i) => from + i / n);
  const lenient = spread(20_000, 0.5); // impostors far apart
  const close = spread(20_000, 0.3); // a population whose strangers look alike
  const genuine = spread(100, 0.1);
  const overall = fitThreshold(genuine, [...lenient, ...close], 1e-3);
  const strict = fitThreshold(
    genuine,
    [...lenient, ...close],
    1e-3,
    new Map([
      ['mixed', lenient],
      ['asia', close],
    ]),
  );
  t.true(overall.ok && strict.ok);
  if (!overall.ok || !strict.ok) return;
  t.is(overall.limitedBy, 'all impostor pairs');
  t.is(strict.limitedBy, 'the impostor pairs within asia');
  t.true(strict.threshold < overall.threshold);
  t.true(close.filter((d) => d < strict.threshold).length / close.length <= 1e-3, 'the FAR holds within asia');
  const tiny = fitThreshold(genuine, [...lenient, ...close], 1e-3, new Map([['asia', close.slice(0, 500)]]));
  t.like(tiny, { ok: true, limitedBy: 'all impostor pairs' });
});

test('the shipped calibration belongs to the shipped recogniser; another model gets no threshold', async (t) => {
  const engine = new FaceEngine(bundled, pino({ level: 'silent' }));
  t.teardown(() => engine.stop());
  const { recognizer, calibration } = await engine.start();
  const c = findCalibration(recognizer.sha256);
  t.deepEqual(calibration, c, 'the engine took the calibration of its own model');
  t.is(c.model_sha256, recognizer.sha256);
  t.true(c.threshold > 0.3 && c.threshold < 0.6);
  t.deepEqual(
    c.fitted_on.map((f) => f.data),
    ['dev', 'dev-asia'],
  );
  t.throws(() => findCalibration('0'.repeat(64)), {
    message: /no calibration for the recogniser with sha256 0{64}: fit one with "kioskd calibrate"/,
  });
});

testNeeding(
  existsSync(FACES) ? null : `the real photos (${FACES} not found)`,
  'kioskd calibrate refuses, and says why, when the photos cannot resolve the FAR asked for',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kioskd-cal-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    // Three people's photos, linked (never copied) from ../shared/faces.
    for (const id of ['lfw-Alex_Penelas', 'cc0-lisa_debruine', 'london-002']) symlinkSync(join(FACES, id), join(dir, id));
    const lines: string[] = [];
    const code = await calibrate({ data: [dir], far: 1e-3, out: join(dir, 'out.json'), engine: bundled }, pino({ level: 'silent' }), (l) =>
      lines.push(l),
    );
    t.is(code, 65);
    // Faces were found and compared (a refusal over zero pairs would prove nothing): a few dozen pairs, far below 10,000.
    t.regex(lines.join('\n'), /refused: [1-9]\d{0,3} impostor pairs cannot resolve a FAR of 0.001: at least 10000 are needed/);
    t.regex(lines.join('\n'), /no usable face in 0/);
    t.false(existsSync(join(dir, 'out.json')));
  },
);
