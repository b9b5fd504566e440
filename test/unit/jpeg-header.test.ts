import test from 'ava';
import jpeg from 'jpeg-js';
import { checkJpeg, FRAME_LIMIT, MAX_SEGMENTS, PORTRAIT_LIMIT, readJpegHeader } from '../../src/faceid/jpeg-header.js';
import { app1, comment, jpegBomb, jpegOf, sof } from '../helpers/jpeg-bombs.js';
import { rng } from '../helpers/rng.js';

function encoded(width: number, height: number, quality = 80): Uint8Array {
  const data = Buffer.alloc(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) & 0xff;
  return new Uint8Array(jpeg.encode({ data, width, height }, quality).data);
}

test('real JPEGs: the size jpeg-js decodes is the size the header declares', (t) => {
  for (const [w, h] of [
    [1, 1],
    [40, 30],
    [240, 320],
    [1280, 960],
    [333, 17],
  ] as const) {
    const bytes = encoded(w, h);
    const r = readJpegHeader(bytes);
    t.deepEqual(r, { ok: true, header: { width: w, height: h, components: 3, sof: 0xc0 } }, `${w}×${h}`);
    const d = jpeg.decode(bytes, { useTArray: true });
    t.deepEqual([d.width, d.height], [w, h]);
  }
});

test('the 695-byte bomb declares 8000×8000, and is measured without decoding', (t) => {
  const bomb = jpegBomb();
  t.is(bomb.byteLength, 695);
  t.like(readJpegHeader(bomb), { ok: true, header: { width: 8000, height: 8000, components: 3 } });
  t.deepEqual(checkJpeg(bomb, PORTRAIT_LIMIT, 'the portrait'), { ok: false, reason: 'the portrait declares 8000×8000 pixels, more than 1024×1280' });
  t.deepEqual(checkJpeg(bomb, FRAME_LIMIT, 'the camera frame'), {
    ok: false,
    reason: 'the camera frame declares 8000×8000 pixels, more than 4608×3496',
  });
  // Progressive and extended frame headers count as much as baseline ones.
  for (const m of [0xc1, 0xc2, 0xc3, 0xc9])
    t.like(readJpegHeader(jpegOf(sof(9000, 7000, m))), { ok: true, header: { width: 9000, height: 7000, sof: m } });
});

test('limits: bytes first, then the size, in either orientation', (t) => {
  const limit = { maxWidth: 100, maxHeight: 50, maxBytes: 1000 };
  t.true(checkJpeg(jpegOf(sof(100, 50)), limit, 'x').ok);
  t.true(checkJpeg(jpegOf(sof(50, 100)), limit, 'x').ok, 'turned a quarter');
  t.deepEqual(checkJpeg(jpegOf(sof(101, 50)), limit, 'x'), { ok: false, reason: 'x declares 101×50 pixels, more than 100×50' });
  t.deepEqual(checkJpeg(jpegOf(sof(60, 60)), limit, 'x'), { ok: false, reason: 'x declares 60×60 pixels, more than 100×50' });
  t.deepEqual(checkJpeg(jpegOf(comment(1200), sof(10, 10)), limit, 'x'), { ok: false, reason: 'x is 1227 bytes, more than 1000' });
  t.deepEqual(checkJpeg(new Uint8Array([1, 2, 3, 4]), limit, 'x'), { ok: false, reason: 'x is not a usable JPEG: no JPEG start-of-image marker' });
});

test('a thumbnail inside EXIF is skipped like decoders skip it; a second frame header is refused', (t) => {
  const thumb = jpegOf(sof(8000, 8000));
  t.like(readJpegHeader(jpegOf(app1(thumb), sof(64, 48))), { ok: true, header: { width: 64, height: 48 } });
  t.deepEqual(readJpegHeader(jpegOf(sof(64, 48), sof(8000, 8000))), { ok: false, reason: 'more than one frame header (SOF)' });
  // After a scan, markers are found in the entropy-coded data (stuffed FF 00 and restarts skipped).
  const scan = [0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0, 0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0xff, 0x00];
  t.deepEqual(readJpegHeader(jpegOf(sof(64, 48), scan, sof(9000, 9000))), { ok: false, reason: 'more than one frame header (SOF)' });
  t.like(readJpegHeader(jpegOf(sof(64, 48), scan)), { ok: true, header: { width: 64, height: 48 } });
});

test('headers a decoder cannot size are refused with a reason', (t) => {
  const reason = (b: Uint8Array): string => {
    const r = readJpegHeader(b);
    return r.ok ? 'ok' : r.reason;
  };
  t.is(reason(new Uint8Array(0)), 'no JPEG start-of-image marker');
  t.is(reason(jpegOf()), 'no frame header (SOF)');
  t.is(reason(jpegOf(sof(640, 0))), 'a frame header declaring 640×0 pixels (a height given later, in DNL, is not supported)');
  t.is(reason(jpegOf(sof(640, 480, 0xc0, 0))), 'a frame header with 0 components');
  t.is(reason(jpegOf(sof(640, 480, 0xc0, 5))), 'a frame header with 5 components');
  const zeroSampling = sof(640, 480);
  zeroSampling[11] = 0x01; // the first component's sampling byte
  t.is(reason(jpegOf(zeroSampling)), 'a frame header with sampling factors 0×1');
  t.is(reason(Uint8Array.from([0xff, 0xd8, 0xff, 0xfe, 0x00, 0x01])), 'a marker segment of length 1');
  t.is(reason(Uint8Array.from([0xff, 0xd8, 0xff, 0xfe, 0x00, 0x40, 1, 2])), 'cut off inside a marker segment');
  t.is(reason(Uint8Array.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 8, 0x1f])), 'a cut-off frame header (SOF)');
  t.is(reason(Uint8Array.from([0xff, 0xd8, 0xff, 0xd8, 0xff, 0xd9])), 'a second start-of-image marker');
});

test('garbage never throws: every cut of a real JPEG, random bytes, flipped bytes', (t) => {
  // The parser turns an exception into "unreadable JPEG (…)": none may come out, or a bounds check is missing.
  const noThrow = (r: ReturnType<typeof readJpegHeader>, what: string): void => {
    if (!r.ok) t.false(r.reason.startsWith('unreadable JPEG'), `${what}: ${r.reason}`);
  };
  const real = encoded(64, 48);
  for (let n = 0; n <= real.length; n++) {
    const r = readJpegHeader(real.subarray(0, n));
    t.true(r.ok || (typeof r.reason === 'string' && r.reason.length > 0));
    noThrow(r, `cut at ${n}`);
  }
  const rnd = rng(15);
  for (let i = 0; i < 3000; i++) {
    const len = Math.floor(rnd() * 600);
    const b = new Uint8Array(len);
    for (let j = 0; j < len; j++) b[j] = rnd() < 0.2 ? 0xff : Math.floor(rnd() * 256);
    if (i % 2 === 0 && len >= 2) b.set([0xff, 0xd8]);
    const r = readJpegHeader(b);
    if (r.ok) t.true(r.header.width > 0 && r.header.height > 0);
    noThrow(r, `random ${i}`);
    const flipped = new Uint8Array(real);
    for (let k = 0; k < 4; k++) flipped[Math.floor(rnd() * flipped.length)] = Math.floor(rnd() * 256);
    noThrow(readJpegHeader(flipped), `flipped ${i}`);
  }
});

test('the scan is bounded: megabytes of fill bytes or thousands of segments come back at once', (t) => {
  const fill = new Uint8Array(4 * 1024 * 1024).fill(0xff);
  fill.set([0xff, 0xd8]);
  let started = performance.now();
  t.deepEqual(readJpegHeader(fill), { ok: false, reason: 'no frame header (SOF)' });
  const fillMs = performance.now() - started;
  const many = jpegOf(...Array.from({ length: MAX_SEGMENTS + 1 }, () => comment(1)), sof(10, 10));
  started = performance.now();
  t.deepEqual(readJpegHeader(many), { ok: false, reason: `more than ${MAX_SEGMENTS} marker segments` });
  const manyMs = performance.now() - started;
  // Generous bounds for a loaded machine; both take a few milliseconds.
  t.true(fillMs < 1000 && manyMs < 1000, `fill ${fillMs.toFixed(1)} ms, segments ${manyMs.toFixed(1)} ms`);
  t.log(`4 MB of fill bytes: ${fillMs.toFixed(1)} ms; ${MAX_SEGMENTS + 1} segments: ${manyMs.toFixed(1)} ms`);
});
