import test from 'ava';
import { testNeeding } from '../helpers/needs.js';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import jpeg from 'jpeg-js';
import pino from 'pino';
import { FaceEngine, type FaceEngineOptions } from '../../src/faceid/engine.js';
import { eyeDistance } from '../../src/faceid/geometry.js';

// Real faces only: face-api's demo group photos (shipped in its npm package) and, when this
// machine has them, the identity-labelled photos in ../shared/faces (never copied into the repo).
const require = createRequire(import.meta.url);
const DEMO = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const FACES = new URL('../../../shared/faces/dev/', import.meta.url).pathname;
const haveFaces = existsSync(FACES);
const silent = pino({ level: 'silent' });
// The shipped recogniser with its own calibration (fitted for FAR 1e-3 on dev + dev-asia), as the daemon uses it.
const options = (o: Partial<FaceEngineOptions> = {}): FaceEngineOptions => ({
  backend: 'wasm',
  recognizer: { model: 'faceapi' },
  calibration: {},
  callTimeoutMs: 30_000,
  maxTensorGrowth: 20,
  ...o,
});
let THRESHOLD = NaN;
let TARGET_FAR = NaN;
const engine = new FaceEngine(options(), silent);
test.before(async () => {
  const { calibration } = await engine.start();
  THRESHOLD = calibration!.threshold;
  TARGET_FAR = calibration!.target_far;
});
test.after.always(() => engine.stop());
const sig = () => AbortSignal.timeout(60_000);
const demo = (n: number) => readFileSync(join(DEMO, `sample${n}.jpg`));

type Rgb = { width: number; height: number; data: Uint8Array };
const decode = (b: Uint8Array): Rgb => {
  const d = jpeg.decode(b, { useTArray: true, formatAsRGBA: true });
  return { width: d.width, height: d.height, data: d.data };
};
const encode = (img: Rgb): Uint8Array => jpeg.encode({ width: img.width, height: img.height, data: Buffer.from(img.data) }, 90).data;
/** Box blur, as an out-of-focus camera gives (the photo stays a real face). */
function blur(img: Rgb, r: number): Rgb {
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const acc = [0, 0, 0];
      let n = 0;
      for (let dy = -r; dy <= r; dy += 2) {
        for (let dx = -r; dx <= r; dx += 2) {
          const xx = Math.min(img.width - 1, Math.max(0, x + dx));
          const yy = Math.min(img.height - 1, Math.max(0, y + dy));
          const i = (yy * img.width + xx) * 4;
          acc[0]! += img.data[i]!;
          acc[1]! += img.data[i + 1]!;
          acc[2]! += img.data[i + 2]!;
          n++;
        }
      }
      const o = (y * img.width + x) * 4;
      out[o] = acc[0]! / n;
      out[o + 1] = acc[1]! / n;
      out[o + 2] = acc[2]! / n;
      out[o + 3] = 255;
    }
  }
  return { ...img, data: out };
}
/** The photo shrunk into a 1280×960 camera frame, as a patient standing far back. */
function far(img: Rgb, scale: number): Rgb {
  const W = 1280;
  const H = 960;
  const data = new Uint8Array(W * H * 4).fill(200);
  const w = Math.round(img.width * scale);
  const h = Math.round(img.height * scale);
  const x0 = (W - w) >> 1;
  const y0 = (H - h) >> 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (Math.floor(y / scale) * img.width + Math.floor(x / scale)) * 4;
      data.set(img.data.subarray(s, s + 4), ((y0 + y) * W + x0 + x) * 4);
    }
  }
  return { width: W, height: H, data };
}
/** A part of a real photo with nobody in it (the wall above the people in sample 1). */
function crop(img: Rgb, x0: number, y0: number, w: number, h: number): Rgb {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(((y0 + y) * img.width + x0) * 4, ((y0 + y) * img.width + x0 + w) * 4), y * w * 4);
  return { width: w, height: h, data };
}

async function portraitFromDemo(): Promise<Uint8Array> {
  const img = decode(demo(1));
  const f = (await engine.analyze(demo(1), 'probe', sig())).faces[0]!;
  const m = f.box.width * 0.6;
  const x = Math.max(0, Math.round(f.box.x - m));
  const y = Math.max(0, Math.round(f.box.y - m));
  return encode(
    crop(img, x, y, Math.min(img.width - x, Math.round(f.box.width + 2 * m)), Math.min(img.height - y, Math.round(f.box.height + 2 * m))),
  );
}

test('face-api demo group photos: every face is found, and a group photo is refused as "multiple-faces"', async (t) => {
  const expected = [3, 3, 3, 4, 5, 4];
  for (let n = 1; n <= 6; n++) {
    const a = await engine.analyze(demo(n), 'probe', sig());
    t.is(a.faces.length, expected[n - 1]!, `sample${n}.jpg`);
  }
  const v = await engine.verify(demo(6), demo(1), sig());
  t.like(v, { ok: false, which: 'probe', reason: 'multiple-faces' });
});

test('unusable frames are refused with the reason: no face, too small, too blurry', async (t) => {
  const wall = encode(crop(decode(demo(1)), 0, 0, 700, 420));
  t.like(await engine.verify(wall, demo(1), sig()), { ok: false, which: 'probe', reason: 'no-face' });
  // A single-person portrait: from ../shared/faces when present, else one person cut out of a demo photo.
  const one = haveFaces ? readFileSync(join(FACES, 'cc0-lisa_debruine', '1.jpg')) : await portraitFromDemo();
  // Shrunk until the eyes are 14 px apart in a 1280×960 frame: still a face, too far away.
  const ref = await engine.analyze(one, 'reference', sig());
  const small = encode(far(decode(one), 14 / eyeDistance(ref.faces[ref.chosen!]!)));
  t.like(await engine.verify(small, one, sig()), { ok: false, which: 'probe', reason: 'too-small' });
  const blurred = encode(blur(decode(one), 9));
  t.like(await engine.verify(blurred, one, sig()), { ok: false, which: 'probe', reason: 'too-blurry' });
  if (haveFaces) t.like(await engine.verify(one, readFileSync(join(FACES, 'cc0-lisa_debruine', '2.jpg')), sig()), { ok: true, match: true });
});

testNeeding(
  haveFaces ? null : `the real photos (${FACES} not found)`,
  'real identity photos (../shared/faces/dev): the same person is nearer than almost all strangers; at the shipped threshold no stranger passes',
  async (t) => {
    const ids = readdirSync(FACES)
      .filter((id) => readdirSync(join(FACES, id)).length >= 2)
      .slice(0, 24);
    const emb: Array<{ id: string; e: readonly number[] }> = [];
    for (const id of ids) {
      for (const f of readdirSync(join(FACES, id)).slice(0, 2)) {
        // Photos, not camera frames: judged by the reference rules (LFW news crops include
        // bystanders and small faces the kiosk's camera rules would send back).
        const a = await engine.analyze(readFileSync(join(FACES, id, f)), 'reference', sig());
        if (a.embedding) emb.push({ id, e: a.embedding });
      }
    }
    const l2 = (a: readonly number[], b: readonly number[]) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0));
    let genuine = 0;
    let accepted = 0;
    let impostor = 0;
    let falseAccepts = 0;
    const gd: number[] = [];
    const id: number[] = [];
    for (let i = 0; i < emb.length; i++) {
      for (let j = i + 1; j < emb.length; j++) {
        const d = l2(emb[i]!.e, emb[j]!.e);
        (emb[i]!.id === emb[j]!.id ? gd : id).push(d);
        const match = d < THRESHOLD;
        if (emb[i]!.id === emb[j]!.id) {
          genuine++;
          if (match) accepted++;
        } else {
          impostor++;
          if (match) falseAccepts++;
        }
      }
    }
    t.log(
      `${emb.length} faces of ${ids.length} people: ${accepted}/${genuine} genuine pairs matched, ${falseAccepts}/${impostor} impostor pairs accepted`,
    );
    t.true(emb.length >= ids.length * 2 - 2, `faces found in nearly every photo (${emb.length} of ${ids.length * 2})`);
    // Separation: most same-person pairs are nearer than the nearest 1% of strangers.
    const p1 = [...id].sort((a, b) => a - b)[Math.floor(id.length / 100)]!;
    t.true(gd.filter((d) => d < p1).length / gd.length >= 0.8, `same-person pairs nearer than the closest 1% of strangers (${p1.toFixed(3)})`);
    // The shipped threshold is strict (set by East-Asian impostors, see its calibration note): it
    // turns away many same-person pairs (64% accepted over dev + dev-asia), yet some must pass.
    t.true(accepted / genuine >= 0.2, 'some same-person pairs pass the shipped threshold');
    // At most the calibrated FAR (1e-3 of ~1,000 pairs: one false accept).
    t.true(falseAccepts <= Math.max(1, Math.round(TARGET_FAR * impostor)), 'impostor pairs are refused');
    const v = await engine.verify(
      readFileSync(join(FACES, ids[0]!, readdirSync(join(FACES, ids[0]!))[0]!)),
      readFileSync(join(FACES, ids[0]!, readdirSync(join(FACES, ids[0]!))[1]!)),
      sig(),
    );
    t.like(v, { ok: true, threshold: THRESHOLD });
  },
);

test("1,000 verifications leave the worker's tensor count unchanged", async (t) => {
  t.timeout(900_000);
  // A passport-style pair (London set, same session) keeps 1,000 runs to about two minutes; without ../shared/faces, one
  // person cut out of a demo photo is compared with itself (detection and embedding both run).
  const a = haveFaces ? readFileSync(join(FACES, 'london-002', '1.jpg')) : await portraitFromDemo();
  const b = haveFaces ? readFileSync(join(FACES, 'london-002', '2.jpg')) : a;
  await engine.verify(a, b, sig());
  const base = engine.lastTensors;
  const restarts = engine.restarts;
  let matched = 0;
  for (let i = 0; i < 1000; i++) {
    const v = await engine.verify(a, b, sig());
    if (v.ok && v.match) matched++;
    if (engine.lastTensors !== base) break;
  }
  t.is(engine.lastTensors, base);
  t.is(matched, 1000, 'the same person, every time');
  t.is(engine.restarts, restarts, 'no leak restart was needed');
});

test('a call that runs past its timeout is abandoned and the worker restarted', async (t) => {
  const slow = new FaceEngine(options({ callTimeoutMs: 5 }), silent);
  t.teardown(() => slow.stop());
  await slow.start();
  await t.throwsAsync(slow.analyze(demo(1), 'probe', sig()), { message: /took longer than 5 ms/ });
  t.is(slow.restarts, 1);
  // It comes back: a fresh worker loads its models again and reports them.
  const again = await slow.start();
  t.is(again.backend, 'wasm');
  t.true(again.loadMs > 0);
});
