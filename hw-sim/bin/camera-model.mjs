/* global TextEncoder, TextDecoder */
// hw-sim's model of a real camera stream, as pure functions: colour conversion (BT.601 full range,
// as libcamera's YUV and JPEG use), fitting a picture into the sensor's frame, and a frame
// generator that under-exposes the first frames (auto-exposure settling), shifts the picture a
// little (the patient sways), blurs some frames and drops a few. Plain ESM with no dependencies
// so the fake rpicam-vid starts fast and TypeScript benchmarks can import it (types:
// camera-model.d.mts).

/** The stream's knobs; VirtualCamera writes them to `stream.json`, rpicam-vid reads them. */
export const DEFAULT_STREAM_SETTINGS = Object.freeze({
  startupMs: 500,
  darkFrames: 4,
  motionPx: 2,
  blurChance: 0.1,
  dropChance: 0.03,
  dieAfterFrames: null,
  busy: false,
});

/** The wall behind the kiosk, around a picture smaller than the frame. */
export const WALL_GREY = Object.freeze([186, 182, 176]);

/** The gain of the first dark frame; frame `darkFrames` is the first at full exposure. */
export const FIRST_GAIN = 0.15;

/** W×H×3/2: one I420 frame, no header, no padding. */
export const frameBytes = (width, height) => (width * height * 3) / 2;

const clamp8 = (v) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
const evenSize = (width, height) => {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 && width % 2 === 0 && height % 2 === 0))
    throw new Error(`I420 needs a positive even width and height, not ${width}×${height}`);
};

/** Packed RGB to I420 (Y, then U and V at half size), BT.601 full range; chroma is the mean of each 2×2 block. */
export function rgbToI420(rgb, width, height) {
  evenSize(width, height);
  if (rgb.length < width * height * 3) throw new Error(`an RGB ${width}×${height} picture needs ${width * height * 3} bytes, not ${rgb.length}`);
  const out = new Uint8Array(frameBytes(width, height));
  for (let i = 0, p = 0; i < width * height; i++, p += 3) out[i] = (19595 * rgb[p] + 38470 * rgb[p + 1] + 7471 * rgb[p + 2] + 32768) >> 16;
  const cw = width / 2;
  const uOff = width * height;
  const vOff = uOff + cw * (height / 2);
  for (let cy = 0; cy < height / 2; cy++) {
    for (let cx = 0; cx < cw; cx++) {
      const a = (2 * cy * width + 2 * cx) * 3;
      const b = a + width * 3;
      const r = rgb[a] + rgb[a + 3] + rgb[b] + rgb[b + 3];
      const g = rgb[a + 1] + rgb[a + 4] + rgb[b + 1] + rgb[b + 4];
      const bl = rgb[a + 2] + rgb[a + 5] + rgb[b + 2] + rgb[b + 5];
      out[uOff + cy * cw + cx] = clamp8(128 + (-0.168736 * r - 0.331264 * g + 0.5 * bl) / 4);
      out[vOff + cy * cw + cx] = clamp8(128 + (0.5 * r - 0.418688 * g - 0.081312 * bl) / 4);
    }
  }
  return out;
}

/** I420 back to packed RGB (for tests and for looking at a frame). */
export function i420ToRgb(i420, width, height) {
  evenSize(width, height);
  const out = new Uint8Array(width * height * 3);
  const cw = width / 2;
  const uOff = width * height;
  const vOff = uOff + cw * (height / 2);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = (y >> 1) * cw + (x >> 1);
      const Y = i420[y * width + x];
      const U = i420[uOff + c] - 128;
      const V = i420[vOff + c] - 128;
      const o = (y * width + x) * 3;
      out[o] = clamp8(Y + 1.402 * V);
      out[o + 1] = clamp8(Y - 0.344136 * U - 0.714136 * V);
      out[o + 2] = clamp8(Y + 1.772 * U);
    }
  }
  return out;
}

/** The mean of the Y plane: what an exposure check looks at. */
export function meanLuma(i420, width, height) {
  let sum = 0;
  for (let i = 0; i < width * height; i++) sum += i420[i];
  return sum / (width * height);
}

/** Per output index, its source indexes and weights (flat, `n` each): an area average when shrinking, bilinear when enlarging. */
function taps(src, dst) {
  const scale = src / dst;
  const n = scale >= 1 ? Math.ceil(scale) + 1 : 2;
  const at = new Int32Array(dst * n);
  const wt = new Float32Array(dst * n);
  for (let i = 0; i < dst; i++) {
    const t = [];
    if (scale >= 1) {
      const a = i * scale;
      const b = (i + 1) * scale;
      for (let s = Math.floor(a); s < Math.min(src, Math.ceil(b)); s++) t.push([s, Math.min(b, s + 1) - Math.max(a, s)]);
    } else {
      const c = Math.max(0, (i + 0.5) * scale - 0.5);
      const s0 = Math.min(src - 1, Math.floor(c));
      t.push([s0, 1 - (c - s0)], [Math.min(src - 1, s0 + 1), c - s0]);
    }
    const sum = t.reduce((acc, [, w]) => acc + w, 0);
    t.forEach(([s, w], k) => {
      at[i * n + k] = s;
      wt[i * n + k] = w / sum;
    });
  }
  return { n, at, wt };
}

/** Separable resample of packed RGB: rows first, then columns. */
function resample(rgb, w, h, nw, nh) {
  const tx = taps(w, nw);
  const ty = taps(h, nh);
  const mid = new Float32Array(nw * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < nw; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = x * tx.n; k < (x + 1) * tx.n; k++) {
        const p = (y * w + tx.at[k]) * 3;
        const f = tx.wt[k];
        r += rgb[p] * f;
        g += rgb[p + 1] * f;
        b += rgb[p + 2] * f;
      }
      const o = (y * nw + x) * 3;
      mid[o] = r;
      mid[o + 1] = g;
      mid[o + 2] = b;
    }
  }
  const out = new Uint8Array(nw * nh * 3);
  const acc = new Float32Array(nw * 3);
  for (let y = 0; y < nh; y++) {
    acc.fill(0);
    for (let k = y * ty.n; k < (y + 1) * ty.n; k++) {
      const f = ty.wt[k];
      if (f !== 0) for (let i = 0, from = ty.at[k] * nw * 3; i < nw * 3; i++) acc[i] += mid[from + i] * f;
    }
    for (let i = 0, to = y * nw * 3; i < nw * 3; i++) out[to + i] = clamp8(acc[i]);
  }
  return out;
}

/** The picture (packed RGB, w×h) scaled to fit W×H, aspect kept, centred on the wall's grey. */
export function fitToFrame(rgb, w, h, W, H) {
  if (w === W && h === H) return Uint8Array.from(rgb.subarray(0, W * H * 3));
  const k = Math.min(W / w, H / h);
  const nw = Math.max(1, Math.min(W, Math.round(w * k)));
  const nh = Math.max(1, Math.min(H, Math.round(h * k)));
  const pic = resample(rgb, w, h, nw, nh);
  const out = new Uint8Array(W * H * 3);
  out.set(WALL_GREY);
  for (let n = 3; n < out.length; n *= 2) out.copyWithin(n, 0, Math.min(n, out.length - n)); // the grey, doubled until full
  const x0 = (W - nw) >> 1;
  const y0 = (H - nh) >> 1;
  for (let y = 0; y < nh; y++) out.set(pic.subarray(y * nw * 3, (y + 1) * nw * 3), ((y0 + y) * W + x0) * 3);
  return out;
}

/** A small seeded generator (mulberry32): the same seed, the same motion, blur and drops. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The exposure gain of frame `index`: FIRST_GAIN at 0, rising in equal steps, 1 from `darkFrames` on. */
export function gainAt(index, darkFrames) {
  return index >= darkFrames ? 1 : FIRST_GAIN + ((1 - FIRST_GAIN) * index) / darkFrames;
}

/** Copies plane `src` (w×h) into `dst` at `off`, shifted by dx, dy with edges repeated, then through `lut` if given. */
function shiftPlane(src, srcOff, dst, dstOff, w, h, dx, dy, lut) {
  const x0 = Math.max(0, dx);
  const x1 = Math.min(w, w + dx);
  for (let y = 0; y < h; y++) {
    const s = srcOff + Math.min(h - 1, Math.max(0, y - dy)) * w;
    const d = dstOff + y * w;
    dst.set(src.subarray(s + x0 - dx, s + x1 - dx), d + x0);
    if (x0 > 0) dst.fill(dst[d + x0], d, d + x0);
    if (x1 < w) dst.fill(dst[d + x1 - 1], d + x1, d + w);
  }
  // A separate pass: a plain loop over one array is several times faster than looking up while copying.
  if (lut) for (let i = dstOff, end = dstOff + w * h; i < end; i++) dst[i] = lut[dst[i]];
}

/** In-place box blur of a w×h plane, (2r+1)², running sums in both directions; `tmp` is w×h scratch (row sums). */
function boxBlur(plane, w, h, r, tmp) {
  const area = (2 * r + 1) ** 2;
  const last = w - 1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let sum = 0;
    for (let i = -r; i <= r; i++) sum += plane[row + (i < 0 ? 0 : i > last ? last : i)];
    // Clamped reads only near the edges; the interior loop is plain.
    for (let x = 0; x < w; x++) {
      tmp[row + x] = sum;
      const a = x + r + 1;
      const b = x - r;
      if (b >= 0 && a <= last) sum += plane[row + a] - plane[row + b];
      else sum += plane[row + (a > last ? last : a)] - plane[row + (b < 0 ? 0 : b)];
    }
  }
  const col = new Int32Array(w);
  for (let i = -r; i <= r; i++) {
    const row = Math.min(h - 1, Math.max(0, i)) * w;
    for (let x = 0; x < w; x++) col[x] += tmp[row + x];
  }
  const inv = Math.round(65536 / area); // fixed point: a third faster than dividing
  for (let y = 0; y < h; y++) {
    const row = y * w;
    const add = Math.min(h - 1, y + r + 1) * w;
    const sub = Math.max(0, y - r) * w;
    for (let x = 0; x < w; x++) {
      const c = col[x];
      plane[row + x] = (c * inv + 32768) >>> 16;
      col[x] = c + tmp[add + x] - tmp[sub + x];
    }
  }
}

/**
 * Frames from one picture (I420 W×H) as a real camera delivers them. Per frame, in this order,
 * rng() decides: dropped (dropChance), the shift in x and y (±motionPx), blurred (blurChance), a
 * 3×3 or 5×5 blur. `next()` returns a new frame, or null for a dropped one; `skip()` passes a
 * frame nobody takes (a full pipe) the same way; `setBase` changes the picture (the face at the
 * kiosk changed) without restarting exposure.
 */
export function createFrameSource(baseI420, W, H, settings, rng) {
  evenSize(W, H);
  const s = { ...DEFAULT_STREAM_SETTINGS, ...settings };
  const size = frameBytes(W, H);
  let base = baseI420;
  let index = 0;
  // Blurred copies of the picture, made once each: a blurred frame then costs what a sharp one does.
  const blurred = new Map();
  const blurredBase = (r) => {
    if (!blurred.has(r)) {
      const b = Uint8Array.from(base);
      boxBlur(b, W, H, r, new Uint16Array(W * H));
      blurred.set(r, b);
    }
    return blurred.get(r);
  };
  const luts = new Map();
  const lutsFor = (g) => {
    if (!luts.has(g)) {
      const y = new Uint8Array(256);
      const c = new Uint8Array(256);
      for (let v = 0; v < 256; v++) {
        y[v] = clamp8(v * g);
        c[v] = clamp8(128 + (v - 128) * g); // a dark frame is a grey one too
      }
      luts.set(g, { y, c });
    }
    return luts.get(g);
  };
  const draw = () => {
    const dropped = rng() < s.dropChance;
    const dx = Math.round((rng() * 2 - 1) * s.motionPx);
    const dy = Math.round((rng() * 2 - 1) * s.motionPx);
    const blur = rng() < s.blurChance ? (rng() < 0.5 ? 1 : 2) : (rng(), 0);
    return { i: index++, dropped, dx, dy, blur };
  };
  return {
    get index() {
      return index;
    },
    setBase(next) {
      if (next.length !== size) throw new Error(`a ${W}×${H} I420 frame has ${size} bytes, not ${next.length}`);
      base = next;
      blurred.clear();
    },
    skip() {
      draw();
    },
    next() {
      const f = draw();
      if (f.dropped) return null;
      const g = gainAt(f.i, s.darkFrames);
      const lut = g < 1 ? lutsFor(g) : null;
      const out = new Uint8Array(size);
      const cw = W / 2;
      const ch = H / 2;
      const src = f.blur > 0 ? blurredBase(f.blur) : base;
      shiftPlane(src, 0, out, 0, W, H, f.dx, f.dy, lut && lut.y);
      const cdx = Math.trunc(f.dx / 2);
      const cdy = Math.trunc(f.dy / 2);
      shiftPlane(src, W * H, out, W * H, cw, ch, cdx, cdy, lut && lut.c);
      shiftPlane(src, W * H + cw * ch, out, W * H + cw * ch, cw, ch, cdx, cdy, lut && lut.c);
      return out;
    },
  };
}

/** The raw sidecar VirtualCamera writes next to each picture: binary PPM (P6), so the stream needs no JPEG decoder. */
export function encodePpm(rgb, width, height) {
  const head = new TextEncoder().encode(`P6\n${width} ${height}\n255\n`);
  const out = new Uint8Array(head.length + width * height * 3);
  out.set(head);
  out.set(rgb.subarray(0, width * height * 3), head.length);
  return out;
}

/** Reads what encodePpm wrote; throws on anything else. */
export function decodePpm(bytes) {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 40));
  const m = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(head);
  if (!m) throw new Error('not a binary PPM (P6, 8-bit) picture');
  const width = Number(m[1]);
  const height = Number(m[2]);
  const rgb = bytes.subarray(m[0].length, m[0].length + width * height * 3);
  if (rgb.length !== width * height * 3) throw new Error(`PPM ${width}×${height} is cut short`);
  return { width, height, rgb };
}

/** Settings from `stream.json` (parsed, maybe partial or wrong): each bad or missing value is its default. */
export function normaliseStreamSettings(v) {
  const o = typeof v === 'object' && v !== null ? v : {};
  const d = DEFAULT_STREAM_SETTINGS;
  const int = (x, def) => (Number.isInteger(x) && x >= 0 ? x : def);
  const chance = (x, def) => (typeof x === 'number' && x >= 0 && x <= 1 ? x : def);
  return {
    startupMs: int(o.startupMs, d.startupMs),
    darkFrames: int(o.darkFrames, d.darkFrames),
    motionPx: int(o.motionPx, d.motionPx),
    blurChance: chance(o.blurChance, d.blurChance),
    dropChance: chance(o.dropChance, d.dropChance),
    dieAfterFrames: o.dieAfterFrames === null ? null : int(o.dieAfterFrames, d.dieAfterFrames),
    busy: typeof o.busy === 'boolean' ? o.busy : d.busy,
  };
}
