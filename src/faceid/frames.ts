import { checkJpeg, type ImageLimit } from './jpeg-header.js';

/**
 * A picture from the camera: a JPEG still (rpicam-still, tests, tools), or a raw I420 frame from
 * the video stream (rpicam-vid), used without any JPEG encode or decode: Y plane width×height,
 * then U and V at half resolution, exactly width·height·3/2 bytes.
 */
export type CameraFrame =
  | { readonly format: 'jpeg'; readonly data: Uint8Array }
  | { readonly format: 'i420'; readonly width: number; readonly height: number; readonly data: Uint8Array };

/** A burst holds at most this many frames: more is not a burst the driver would send. */
export const MAX_BURST = 8;

export const i420Bytes = (width: number, height: number): number => width * height + 2 * (width >> 1) * (height >> 1);

/**
 * Is this burst something the engine may hand to the worker? Sizes are checked before any pixel
 * is touched: a JPEG by its header, a raw frame by its declared size against its byte count.
 */
export function checkFrames(frames: readonly CameraFrame[], limit: ImageLimit): { ok: true } | { ok: false; reason: string } {
  if (frames.length === 0) return { ok: false, reason: 'no camera frame' };
  if (frames.length > MAX_BURST) return { ok: false, reason: `${frames.length} frames in one burst (at most ${MAX_BURST})` };
  for (const f of frames) {
    if (f.format === 'jpeg') {
      const c = checkJpeg(f.data, limit, 'the camera frame');
      if (!c.ok) return c;
      continue;
    }
    const long = Math.max(f.width, f.height);
    const short = Math.min(f.width, f.height);
    const fits = long <= Math.max(limit.maxWidth, limit.maxHeight) && short <= Math.min(limit.maxWidth, limit.maxHeight);
    if (!Number.isInteger(f.width) || !Number.isInteger(f.height) || f.width < 2 || f.height < 2 || f.width % 2 || f.height % 2 || !fits)
      return { ok: false, reason: `a ${f.width}×${f.height} raw frame is not one the camera was set up for` };
    if (f.data.length !== i420Bytes(f.width, f.height))
      return { ok: false, reason: `a ${f.width}×${f.height} I420 frame is ${i420Bytes(f.width, f.height)} bytes, not ${f.data.length}` };
  }
  return { ok: true };
}

/** I420 (BT.601 full range, as libcamera's YUV420) to packed RGB. */
export function i420ToRgb(yuv: Uint8Array, width: number, height: number): Uint8Array {
  return i420Region(yuv, width, height, { x: 0, y: 0, width, height });
}

/** A rectangle of an I420 frame as packed RGB, at full resolution (the face's surroundings, for its crops). */
export function i420Region(yuv: Uint8Array, width: number, height: number, r: { x: number; y: number; width: number; height: number }): Uint8Array {
  const rgb = new Uint8Array(r.width * r.height * 3);
  const cw = width >> 1;
  const uBase = width * height;
  const vBase = uBase + cw * (height >> 1);
  for (let y = 0; y < r.height; y++) {
    const fy = r.y + y;
    const crow = (fy >> 1) * cw;
    for (let x = 0; x < r.width; x++) {
      const fx = r.x + x;
      const c = crow + (fx >> 1);
      put(rgb, (y * r.width + x) * 3, yuv[fy * width + fx]!, yuv[uBase + c]! - 128, yuv[vBase + c]! - 128);
    }
  }
  return rgb;
}

/**
 * The frame at half size as packed RGB (luma averaged over 2×2, chroma at its own resolution):
 * what the detector looks at, for a quarter of a full conversion's work.
 */
export function i420Half(yuv: Uint8Array, width: number, height: number): Uint8Array {
  const w = width >> 1;
  const h = height >> 1;
  const rgb = new Uint8Array(w * h * 3);
  const uBase = width * height;
  const vBase = uBase + w * h;
  for (let y = 0; y < h; y++) {
    const row = 2 * y * width;
    for (let x = 0; x < w; x++) {
      const i = row + 2 * x;
      const Y = (yuv[i]! + yuv[i + 1]! + yuv[i + width]! + yuv[i + width + 1]! + 2) >> 2;
      put(rgb, (y * w + x) * 3, Y, yuv[uBase + y * w + x]! - 128, yuv[vBase + y * w + x]! - 128);
    }
  }
  return rgb;
}

function put(rgb: Uint8Array, o: number, Y: number, U: number, V: number): void {
  rgb[o] = clamp(Y + 1.402 * V);
  rgb[o + 1] = clamp(Y - 0.344136 * U - 0.714136 * V);
  rgb[o + 2] = clamp(Y + 1.772 * U);
}

const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v + 0.5) | 0;

/**
 * How sharp the middle of a raw frame is (variance of the Laplacian of the luma, every other
 * pixel of the central half): ranks a burst's frames before any face is looked for, so the
 * costly detection runs first on the frame least spoiled by motion blur.
 */
export function centralSharpness(yuv: Uint8Array, width: number, height: number): number {
  const x0 = width >> 2;
  const y0 = height >> 2;
  const step = 2;
  let sum = 0;
  let sq = 0;
  let n = 0;
  for (let y = y0 + step; y < y0 + (height >> 1) - step; y += step) {
    for (let x = x0 + step; x < x0 + (width >> 1) - step; x += step) {
      const i = y * width + x;
      const l = yuv[i - step * width]! + yuv[i + step * width]! + yuv[i - step]! + yuv[i + step]! - 4 * yuv[i]!;
      sum += l;
      sq += l * l;
      n++;
    }
  }
  return n ? sq / n - (sum / n) ** 2 : 0;
}

/** Mean luma of a raw frame, from every 61st byte of its Y plane (exposure settling; cheap enough for every frame). */
export function meanLuma(y: Uint8Array, width: number, height: number): number {
  const n = width * height;
  let s = 0;
  let k = 0;
  for (let i = 0; i < n; i += 61) {
    s += y[i]!;
    k++;
  }
  return k ? s / k : 0;
}

/** Zero-fills every frame of a burst (after use, whatever the outcome). */
export function wipeFrames(frames: readonly CameraFrame[] | null | undefined): void {
  for (const f of frames ?? []) f.data.fill(0);
}
