import test, { type ExecutionContext } from 'ava';
import { testNeeding } from '../helpers/needs.js';
import { Writable } from 'node:stream';
import jpeg from 'jpeg-js';
import pino from 'pino';
import { IdentityServiceSim } from '../../hw-sim/devices/identity-service.js';
import { loadSimFaces, type SimFaces } from '../../hw-sim/faces.js';
import { SAMPLE_IDENTITIES } from '../../hw-sim/identities.js';
import { configSchema } from '../../src/config/schema.js';
import { createCheckinSteps, type StepDeps } from '../../src/checkin/device-steps.js';
import { createSessions } from '../../src/checkin/sessions.js';
import { FaceEngine } from '../../src/faceid/engine.js';
import type { CitizenIdentity } from '../../src/hal/card/types.js';
import { frameLimit } from '../../src/hal/camera/rpicam.js';
import { distance, distanceOf } from '../../src/faceid/metric.js';
import { faceEngineOptions } from '../../src/faceid/options.js';
import { identityConfigSchema } from '../../src/identity/config.js';
import { createPortraitClient, MAX_PORTRAIT_BYTES, type PortraitClientOptions } from '../../src/identity/portrait-client.js';
import { RequestRecorder } from '../../hw-sim/devices/recorder.js';
import { jpegBomb } from '../helpers/jpeg-bombs.js';

// Whichever source this machine has: ../shared/faces (CI), or $KIOSKD_FACES_DIR, or else face-api's demo photos.
const t0 = performance.now();
const faces = await loadSimFaces();
const loadMs = performance.now() - t0;
const IDS = SAMPLE_IDENTITIES.map((p) => p.idNumber);
const TOKEN = 'sim-token-1';
const isJpeg = (b: Uint8Array): boolean => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
const size = (b: Uint8Array): { width: number; height: number } => {
  const { width, height } = jpeg.decode(b, { useTArray: true });
  return { width, height };
};
/** No full CCCD number, ours or any other, in text that may reach a log or a screen. */
const noIdNumber = (t: ExecutionContext, text: string): void => {
  t.false(/(?<!\d)\d{12}(?!\d)/.test(text), `no ID number in "${text}"`);
};

async function service(t: ExecutionContext, client: Partial<PortraitClientOptions> = {}) {
  const sim = await IdentityServiceSim.start(faces, { token: TOKEN });
  t.teardown(() => sim.stop());
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const c = createPortraitClient({
    url: sim.url,
    timeoutMs: 2000,
    token: TOKEN,
    log: pino({ level: 'debug', base: null, timestamp: false }, sink),
    ...client,
  });
  return { sim, client: c, logs: () => lines.join('') };
}
const sig = () => AbortSignal.timeout(60_000);

test('the identity config: absent means no service; http(s) only, no credentials in the URL, a token file needs a URL', (t) => {
  t.deepEqual(identityConfigSchema.parse(undefined), { timeoutMs: 3000 });
  t.like(identityConfigSchema.parse({ url: 'https://registry.bv.local/kiosk', tokenFile: '/etc/kioskd/identity-token' }), {
    url: 'https://registry.bv.local/kiosk',
    timeoutMs: 3000,
  });
  for (const bad of [{ url: 'ftp://x' }, { url: 'https://u:p@x' }, { tokenFile: '/x' }, { timeoutMs: 50 }, { url: 'http://x', retries: 2 }]) {
    t.false(identityConfigSchema.safeParse(bad).success, JSON.stringify(bad));
  }
});

test('the sim faces: a chip-sized portrait and a camera frame per sample identity, a stranger, an empty frame; copies each time', async (t) => {
  // How long loading takes is for the benchmarks; here it is only shown.
  t.log(`${faces.note} (loaded in ${loadMs.toFixed(0)} ms)`);
  for (const id of IDS) {
    const face = faces.faceOf(id)!;
    t.truthy(face, id);
    t.true(isJpeg(face.portrait) && isJpeg(face.camera));
    const p = size(face.portrait);
    t.true(p.width <= 240 && p.height <= 320, `portrait ${p.width}×${p.height}`);
    t.deepEqual(size(face.camera), { width: 1280, height: 960 });
  }
  t.deepEqual(size(faces.stranger), { width: 1280, height: 960 });
  t.deepEqual(size(faces.empty), { width: 1280, height: 960 });
  t.is(faces.portraitOf('001099000000'), null);
  t.is(faces.faceOf('001099000000'), null);
  // A consumer that wipes what it was given does not spoil the next one.
  faces.portraitOf(IDS[0]!)!.fill(0);
  t.true(isJpeg(faces.portraitOf(IDS[0]!)!));
  const small = await loadSimFaces({ width: 640, height: 480 });
  t.deepEqual(size(small.cameraOf(IDS[1]!)!), { width: 640, height: 480 });
});

test('found: the service answers the card holder’s portrait as a JPEG; logs carry the last 4 digits only', async (t) => {
  const { sim, client, logs } = await service(t);
  const r = await client.fetchPortrait(IDS[0]!, sig());
  if (r.kind !== 'found') return t.fail(JSON.stringify(r));
  t.true(isJpeg(r.jpeg));
  t.deepEqual(r.jpeg, faces.portraitOf(IDS[0]!));
  t.true(r.ms >= 0, `ms is a duration (${r.ms})`);
  t.log(`fetched in ${r.ms} ms`);
  t.is(sim.stats().requests, 1);
  t.true(logs().includes('********0001'));
  noIdNumber(t, logs());
});

test('none: a withheld card and a card the service does not know get 404 → none; restore brings it back', async (t) => {
  const { sim, client } = await service(t);
  sim.withhold(IDS[1]!);
  const r = await client.fetchPortrait(IDS[1]!, sig());
  t.like(r, { kind: 'none' });
  if (r.kind === 'none') noIdNumber(t, r.reason);
  t.like(await client.fetchPortrait('001099000000', sig()), { kind: 'none' });
  sim.restore(IDS[1]!);
  t.like(await client.fetchPortrait(IDS[1]!, sig()), { kind: 'found' });
});

test('unavailable: HTTP 500, too slow, down, a refused token; the reason never holds the ID number', async (t) => {
  // 2 s: under a loaded CI a prompt HTTP 500 once took over 300 ms and read as a time-out.
  const { sim, client, logs } = await service(t, { timeoutMs: 2000 });
  const expect = async (pattern: RegExp): Promise<number> => {
    const r = await client.fetchPortrait(IDS[2]!, sig());
    if (r.kind !== 'unavailable') {
      t.fail(JSON.stringify(r));
      return NaN;
    }
    t.regex(r.reason, pattern);
    noIdNumber(t, r.reason);
    return r.ms;
  };
  sim.setFault('http-500');
  await expect(/HTTP 500/);
  sim.setFault('slow', { delayMs: 5000 });
  const ms = await expect(/did not answer within 2000 ms/);
  // It waited out its 2 s timeout (not the 5 s answer: the reason says so above).
  t.true(ms >= 1900, `gave up after ${ms} ms`);
  t.log(`gave up after ${ms} ms`);
  sim.setFault('down');
  await expect(/cannot reach the identity service/);
  sim.setFault('none');
  t.like(await client.fetchPortrait(IDS[2]!, sig()), { kind: 'found' });
  const wrongToken = createPortraitClient({ url: sim.url, timeoutMs: 1000, token: 'nope', log: pino({ level: 'silent' }) });
  t.like(await wrongToken.fetchPortrait(IDS[2]!, sig()), {
    kind: 'unavailable',
    reason: 'the identity service answered HTTP 401: the token was refused',
  });
  noIdNumber(t, logs());
});

test('unavailable: an answer that is not a JPEG, is too large, or is a redirect; a malformed number is not sent', async (t) => {
  const answering = (body: ConstructorParameters<typeof Response>[0], init: ResponseInit) =>
    createPortraitClient({
      url: 'http://127.0.0.1:9/',
      timeoutMs: 1000,
      log: pino({ level: 'silent' }),
      fetch: () => Promise.resolve(new Response(body, init)),
    });
  const html = await answering('<html>login</html>', { status: 200, headers: { 'content-type': 'text/html' } }).fetchPortrait(IDS[0]!, sig());
  t.like(html, { kind: 'unavailable', reason: 'the answer is not a JPEG image (18 bytes, text/html)' });
  const huge = new Uint8Array(MAX_PORTRAIT_BYTES + 1);
  huge.set([0xff, 0xd8, 0xff]);
  // Streamed without a Content-Length: the cap holds while reading.
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < huge.length; i += 65536) c.enqueue(huge.subarray(i, i + 65536));
      c.close();
    },
  });
  t.like(await answering(stream, { status: 200 }).fetchPortrait(IDS[0]!, sig()), {
    kind: 'unavailable',
    reason: `the portrait is larger than ${MAX_PORTRAIT_BYTES} bytes`,
  });
  t.like(await answering(null, { status: 302, headers: { location: 'http://elsewhere/' } }).fetchPortrait(IDS[0]!, sig()), {
    kind: 'unavailable',
    reason: 'the identity service answered HTTP 302: redirects are not followed',
  });
  let asked = 0;
  const counting = createPortraitClient({
    url: 'http://127.0.0.1:9',
    timeoutMs: 1000,
    log: pino({ level: 'silent' }),
    fetch: () => Promise.resolve(new Response(null, { status: 404 })).finally(() => asked++),
  });
  t.like(await counting.fetchPortrait('0011909', sig()), { kind: 'unavailable', reason: 'the ID number is not 12 digits' });
  t.is(asked, 0);
});

test('a 695-byte portrait declaring 8000×8000 pixels is refused by its header: unavailable, with the reason', async (t) => {
  const { sim, client, logs } = await service(t, { timeoutMs: 15_000 }); // the demo-photo test decodes on this thread: no time-outs here
  const bomb = jpegBomb();
  t.is(bomb.byteLength, 695);
  sim.serve(IDS[0]!, bomb);
  const r = await client.fetchPortrait(IDS[0]!, sig());
  t.like(r, { kind: 'unavailable', reason: 'the portrait declares 8000×8000 pixels, more than 1024×1280' });
  t.is(sim.stats().requests, 1);
  // Larger than a portrait, smaller than a bomb: still refused, still by the header alone.
  sim.serve(IDS[0]!, jpegBomb(1600, 2000, 2000));
  t.like(await client.fetchPortrait(IDS[0]!, sig()), { kind: 'unavailable', reason: 'the portrait declares 1600×2000 pixels, more than 1024×1280' });
  sim.serve(IDS[0]!, null);
  t.like(await client.fetchPortrait(IDS[0]!, sig()), { kind: 'found' });
  noIdNumber(t, logs());
});

test('the face engine measures both images before decoding either: a bomb as portrait or as frame never reaches the worker', async (t) => {
  // An engine that was never started: a check made after start() would spawn the worker and
  // hand it the image (analyses would count it). A portrait from a chip reader comes this way.
  // maxFrame as the daemon would pass it for its 1280×960 camera.
  const fresh = new FaceEngine(
    faceEngineOptions(configSchema.shape.faceid.parse(undefined), { maxFrame: frameLimit({ width: 1280, height: 960 }) }),
    pino({ level: 'silent' }),
  );
  t.teardown(() => fresh.stop());
  const bomb = jpegBomb();
  const asReference = await fresh.verify(faces.cameraOf(IDS[0]!)!, bomb, sig());
  t.deepEqual(asReference, {
    ok: false,
    which: 'reference',
    reason: 'error',
    detail: 'the reference portrait declares 8000×8000 pixels, more than 1024×1280',
  });
  const asFrame = await fresh.verify(bomb, faces.portraitOf(IDS[0]!)!, sig());
  t.deepEqual(asFrame, { ok: false, which: 'probe', reason: 'error', detail: 'the camera frame declares 8000×8000 pixels, more than 1408×1056' });
  await t.throwsAsync(fresh.analyze(bomb, 'probe', sig()), { message: 'the camera frame declares 8000×8000 pixels, more than 4608×3496' });
  await t.throwsAsync(fresh.analyze(jpegBomb(20_000, 20_000), 'reference', sig()), {
    message: 'the reference image declares 20000×20000 pixels, more than 4608×3496',
  });
  // Through the check-in steps, with the portrait handed in by a chip reader (no identity
  // service on the way): the verify step says why, and the check-in goes its no-portrait way.
  const sessions = createSessions();
  const steps = createCheckinSteps({
    sessions,
    faces: () => fresh,
    camera: { prepare: () => {} },
    portraits: null,
    log: pino({ level: 'silent' }),
  } as unknown as StepDeps);
  sessions.open('chip', { idNumber: IDS[0]!, portrait: jpegBomb() } as unknown as CitizenIdentity, new Date(), null);
  t.deepEqual(await steps.portrait({ sessionId: 'chip' }, sig()), { kind: 'found' });
  sessions.setFrames('chip', [{ format: 'jpeg', data: faces.cameraOf(IDS[0]!)! }]);
  t.deepEqual(await steps.verify({ sessionId: 'chip' }, sig()), {
    kind: 'unavailable',
    reason: 'the reference portrait cannot be used (the reference portrait declares 8000×8000 pixels, more than 1024×1280)',
  });
  // Decoding that file takes 615 MB of RSS (jpeg-js allocates for the declared size before its
  // own 256 MB limit trips; bench/untrusted-input.ts): refused by its header, it is never handed over.
  t.is(fresh.analyses, 0, 'no image was handed to the worker');
});

test('a redirect from the identity service is not followed: the other server receives nothing', async (t) => {
  const { sim, client, logs } = await service(t, { timeoutMs: 15_000 }); // the demo-photo test decodes on this thread: no time-outs here
  // What a redirect target could answer: a valid portrait, which must not be taken either.
  const elsewhere = await RequestRecorder.start({ contentType: 'image/jpeg', body: faces.portraitOf(IDS[1]!)! });
  t.teardown(() => elsewhere.stop());
  sim.setFault('redirect', { location: elsewhere.url });
  const r = await client.fetchPortrait(IDS[1]!, sig());
  t.like(r, { kind: 'unavailable', reason: 'the identity service answered HTTP 307: redirects are not followed' });
  t.deepEqual(elsewhere.received(), { connections: 0, requests: [] });
  noIdNumber(t, logs());
});

test('a caller abort rejects with the abort reason, before or during the request', async (t) => {
  const { sim, client } = await service(t, { timeoutMs: 10_000 });
  const before = new Error('the check-in was cancelled');
  await t.throwsAsync(client.fetchPortrait(IDS[3]!, AbortSignal.abort(before)), { is: before });
  t.is(sim.stats().requests, 0);
  sim.setFault('slow', { delayMs: 5000 });
  const ac = new AbortController();
  const during = new Error('the patient walked away');
  setTimeout(() => ac.abort(during), 100);
  await t.throwsAsync(client.fetchPortrait(IDS[3]!, ac.signal), { is: during });
});

// The face check with the real engine: the faceid config defaults (the bundled face-api
// recogniser and its shipped calibration), with a longer call timeout for slow CI machines.
const engine = new FaceEngine(faceEngineOptions(configSchema.shape.faceid.parse(undefined), { callTimeoutMs: 30_000 }), pino({ level: 'silent' }));
test.after.always(() => engine.stop());

/** Every sample identity matches their own portrait; the stranger and the other identities match none; nobody is no face. */
async function faceCheck(t: ExecutionContext, set: SimFaces): Promise<void> {
  const { calibration } = await engine.start();
  const cal = calibration!;
  const portraits = IDS.map((id) => set.portraitOf(id)!);
  const cameras = IDS.map((id) => set.cameraOf(id)!);
  const stranger = set.stranger;
  const scores: string[] = [];
  for (const [i, id] of IDS.entries()) {
    const own = await engine.verify(cameras[i]!, portraits[i]!, sig());
    t.like(own, { ok: true, match: true }, `${id}: ${set.faceOf(id)!.origin}`);
    const other = await engine.verify(stranger, portraits[i]!, sig());
    t.like(other, { ok: true, match: false }, `${id} against the stranger`);
    if (own.ok && other.ok) scores.push(`${id.slice(-4)}: own ${own.score.toFixed(3)}, stranger ${other.score.toFixed(3)}`);
  }
  t.like(await engine.verify(set.empty, portraits[0]!, sig()), { ok: false, which: 'probe', reason: 'no-face' });
  // Someone else's card: no sample identity passes as another (the sim uses this for impostors).
  const camE = await Promise.all(cameras.map((c) => engine.analyze(c, 'probe', sig())));
  const refE = await Promise.all(portraits.map((p) => engine.analyze(p, 'reference', sig())));
  let nearest = Infinity;
  for (const [i, r] of refE.entries()) {
    for (const [j, c] of camE.entries())
      if (i !== j && r.embedding && c.embedding) nearest = Math.min(nearest, distance(cal.metric, r.embedding, c.embedding));
  }
  t.true(nearest > distanceOf(cal.metric, cal.threshold), `nearest cross-identity distance ${nearest.toFixed(3)}`);
  t.log(`${set.note}; threshold ${cal.threshold} (${cal.metric}); ${scores.join('; ')}; nearest other identity ${nearest.toFixed(3)}`);
}

/*
 * The real photos are there on CI (which sets CI): without them this test runs there and fails
 * saying what is missing. Elsewhere it is skipped, with the reason in its title.
 */
const REAL_PHOTOS = 'real photos (../shared/faces): each sample identity matches their own portrait, not the stranger; an empty frame has no face';
const noRealPhotos = faces.source === 'shared-faces' ? null : faces.note.replace(/^faces: /, '').replace(/; sample identities use .*$/, '');
testNeeding(noRealPhotos === null ? null : `the real photos: ${noRealPhotos} (set KIOSKD_FACES_DIR or provide ../shared/faces)`, REAL_PHOTOS, (t) =>
  faceCheck(t, faces),
);

test('face-api demo photos (the fallback without ../shared/faces): the same checks hold', async (t) => {
  const demo = faces.source === 'face-api-demo' ? faces : await loadSimFaces({ facesDir: '/nonexistent/kioskd-faces' });
  t.is(demo.source, 'face-api-demo');
  t.regex(demo.note, /not found; sample identities use face-api's demo photos/);
  await faceCheck(t, demo);
});
