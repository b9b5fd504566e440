import test from 'ava';
import { testNeeding } from '../helpers/needs.js';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { FaceEngine, type FaceEngineOptions } from '../../src/faceid/engine.js';

// The ONNX recogniser is never in the repository: tests use ../shared/models when this machine has it.
const ONNX = new URL('../../../shared/models/paddlex-mobilefacenet/MobileFaceNet.onnx', import.meta.url).pathname;
const ASIA = new URL('../../../shared/faces/dev-asia/', import.meta.url).pathname;
const haveOnnx = existsSync(ONNX) && existsSync(ASIA);
const require = createRequire(import.meta.url);
// A real TFJS graph model that ships in an installed package (Human's face description net), standing in for an operator's own.
const GRAPH = join(dirname(dirname(require.resolve('@vladmandic/human'))), 'models', 'faceres.json');
const DEMO = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const silent = pino({ level: 'silent' });
const options = (model: string, o: Partial<FaceEngineOptions> = {}): FaceEngineOptions => ({
  backend: 'wasm',
  recognizer: { model },
  calibration: {},
  callTimeoutMs: 30_000,
  maxTensorGrowth: 20,
  ...o,
});
const sig = () => AbortSignal.timeout(60_000);

testNeeding(
  haveOnnx ? null : '../shared/models and ../shared/faces/dev-asia (not found)',
  'the ONNX recogniser (../shared/models) runs with its own shipped calibration and tells East-Asian faces apart',
  async (t) => {
    const engine = new FaceEngine(options(ONNX), silent);
    t.teardown(() => engine.stop());
    const info = await engine.start();
    t.is(info.recognizer.metric, 'cosine');
    t.is(info.recognizer.sha256, '6ced4e0c36abba9dd24b48d725f7dbb94089f75b3d3445d3d67b85157cb64743');
    t.is(info.calibration?.model_sha256, info.recognizer.sha256);
    // Twelve people of dev-asia, two photos each: every pair of the same person, and every pair of strangers.
    const ids = readdirSync(ASIA)
      .filter((d) => existsSync(join(ASIA, d, '2.jpg')))
      .slice(0, 12);
    let same = 0;
    let sameMatched = 0;
    let strangers = 0;
    let strangersMatched = 0;
    for (let i = 0; i < ids.length; i++) {
      const mine = readFileSync(join(ASIA, ids[i]!, '1.jpg'));
      for (let j = 0; j < ids.length; j++) {
        const v = await engine.verify(readFileSync(join(ASIA, ids[j]!, '2.jpg')), mine, sig());
        if (!v.ok) continue;
        t.is(v.metric, 'cosine');
        if (i === j) {
          same++;
          if (v.match) sameMatched++;
        } else {
          strangers++;
          if (v.match) strangersMatched++;
        }
      }
    }
    t.log(`${sameMatched}/${same} same-person pairs matched, ${strangersMatched}/${strangers} stranger pairs accepted`);
    t.true(same >= 6, `at least half the photos pass the camera's quality rules as probes (${same} of ${ids.length})`);
    t.true(sameMatched >= same - 1, 'the same person is recognised');
    t.is(strangersMatched, 0, 'no stranger passes');
  },
);

test('a model without a calibration of its own does not start: a threshold never applies to a model it was not fitted for', async (t) => {
  const engine = new FaceEngine(options(GRAPH), silent);
  t.teardown(() => engine.stop());
  await t.throwsAsync(engine.start(), { message: /no calibration for the recogniser with sha256 [0-9a-f]{64}: fit one with "kioskd calibrate"/ });
});

test('a TFJS graph model can be the recogniser: its aligned crop is embedded, for kioskd calibrate to fit', async (t) => {
  const engine = new FaceEngine(options(GRAPH, { calibration: 'none', recognizer: { model: GRAPH, range: 'unit' } }), silent);
  t.teardown(() => engine.stop());
  const info = await engine.start();
  t.like(info.recognizer, { metric: 'cosine' });
  t.regex(info.recognizer.name, /TFJS graph models\/faceres.json/);
  const a = await engine.analyze(readFileSync(join(DEMO, 'sample1.jpg')), 'reference', sig());
  t.is(a.embedding?.length, 1024, "the model's widest output");
  t.is(info.calibration, null, 'uncalibrated: it can be measured, not used to decide');
});

test('a missing or unknown model file is a clear start-up error', async (t) => {
  const missing = new FaceEngine(options('/nonexistent/model.onnx'), silent);
  await t.throwsAsync(missing.start(), { message: /ENOENT.*\/nonexistent\/model.onnx/ });
  const unknown = new FaceEngine(options('/etc/hostname'), silent);
  await t.throwsAsync(unknown.start(), { message: /expected "fr_feature", "faceapi", a .onnx file or a TFJS graph model.json/ });
});
