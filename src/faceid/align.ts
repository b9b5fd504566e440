/**
 * ArcFace-style alignment, pure arithmetic on an RGB buffer: the similarity transform (scale,
 * rotation, shift; no shear) that best maps the five detected points onto the template that
 * InsightFace-family recognisers were trained on, then a 112×112 crop sampled through it.
 */
import type { Point } from './geometry.js';

/** InsightFace's 112×112 template: eye, eye, nose tip, mouth corner, mouth corner. */
export const ARCFACE_112: readonly Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/** x' = a·x − b·y + tx, y' = b·x + a·y + ty. */
export interface Similarity {
  readonly a: number;
  readonly b: number;
  readonly tx: number;
  readonly ty: number;
}

/** Least-squares similarity from `src` to `dst` (Umeyama's method, 2-D, no reflection). */
export function similarity(src: readonly Point[], dst: readonly Point[]): Similarity {
  if (src.length !== dst.length || src.length < 2) throw new Error('similarity needs two equal lists of at least 2 points');
  const n = src.length;
  const mean = (ps: readonly Point[]): Point => [ps.reduce((s, p) => s + p[0], 0) / n, ps.reduce((s, p) => s + p[1], 0) / n];
  const [sx, sy] = mean(src);
  const [dx, dy] = mean(dst);
  let dot = 0;
  let cross = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const px = src[i]![0] - sx;
    const py = src[i]![1] - sy;
    const qx = dst[i]![0] - dx;
    const qy = dst[i]![1] - dy;
    dot += px * qx + py * qy;
    cross += px * qy - py * qx;
    norm += px * px + py * py;
  }
  if (norm === 0) throw new Error('the points coincide');
  const a = dot / norm;
  const b = cross / norm;
  return { a, b, tx: dx - (a * sx - b * sy), ty: dy - (b * sx + a * sy) };
}

export const applySimilarity = (m: Similarity, [x, y]: Point): Point => [m.a * x - m.b * y + m.tx, m.b * x + m.a * y + m.ty];

/**
 * Samples `rgb` (width×height, 3 bytes per pixel) through the inverse of `m` into an
 * outW×outH image of floats 0–255, pixels first (HWC), RGB. A region much larger than the
 * output is area-averaged (several samples per output pixel), not point-sampled, so a
 * close-up face does not alias. Outside the frame reads as black, as OpenCV's warpAffine does.
 */
export function warp(rgb: Uint8Array, width: number, height: number, m: Similarity, outW: number, outH: number): Float32Array {
  const det = m.a * m.a + m.b * m.b;
  const ia = m.a / det;
  const ib = -m.b / det;
  const k = Math.min(6, Math.max(1, Math.ceil(1 / Math.sqrt(det)))); // frame pixels per output pixel
  const out = new Float32Array(3 * outW * outH);
  let r = 0;
  let g = 0;
  let b = 0;
  for (let v = 0; v < outH; v++) {
    for (let u = 0; u < outW; u++) {
      r = g = b = 0;
      for (let j = 0; j < k; j++) {
        for (let i = 0; i < k; i++) {
          const qx = u + (i + 0.5) / k - 0.5 - m.tx;
          const qy = v + (j + 0.5) / k - 0.5 - m.ty;
          const x = ia * qx - ib * qy;
          const y = ib * qx + ia * qy;
          if (x < 0 || y < 0 || x > width - 1 || y > height - 1) continue;
          const x0 = Math.floor(x);
          const y0 = Math.floor(y);
          const x1 = Math.min(width - 1, x0 + 1);
          const y1 = Math.min(height - 1, y0 + 1);
          const fx = x - x0;
          const fy = y - y0;
          const p00 = (y0 * width + x0) * 3;
          const p01 = (y0 * width + x1) * 3;
          const p10 = (y1 * width + x0) * 3;
          const p11 = (y1 * width + x1) * 3;
          const w00 = (1 - fx) * (1 - fy);
          const w01 = fx * (1 - fy);
          const w10 = (1 - fx) * fy;
          const w11 = fx * fy;
          r += rgb[p00]! * w00 + rgb[p01]! * w01 + rgb[p10]! * w10 + rgb[p11]! * w11;
          g += rgb[p00 + 1]! * w00 + rgb[p01 + 1]! * w01 + rgb[p10 + 1]! * w10 + rgb[p11 + 1]! * w11;
          b += rgb[p00 + 2]! * w00 + rgb[p01 + 2]! * w01 + rgb[p10 + 2]! * w10 + rgb[p11 + 2]! * w11;
        }
      }
      const o = (v * outW + u) * 3;
      out[o] = r / (k * k);
      out[o + 1] = g / (k * k);
      out[o + 2] = b / (k * k);
    }
  }
  return out;
}

/**
 * The frame shrunk so its longer side is at most `maxSide` (detection needs no more), as floats
 * 0–255 (the detector takes them as they are: no rounding copy), and the scale used.
 */
export function downscale(
  rgb: Uint8Array,
  width: number,
  height: number,
  maxSide: number,
): { rgb: Uint8Array | Float32Array; width: number; height: number; scale: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  if (scale === 1) return { rgb, width, height, scale };
  const w = Math.round(width * scale);
  const h = Math.round(height * scale);
  // Pixel centres map onto pixel centres.
  const sx = w / width;
  return { rgb: warp(rgb, width, height, { a: sx, b: 0, tx: 0.5 * sx - 0.5, ty: 0.5 * sx - 0.5 }, w, h), width: w, height: h, scale };
}

/** An axis-aligned square of the frame (x, y, side in frame pixels) as an out×out HWC float image. */
export const squareCrop = (rgb: Uint8Array, width: number, height: number, box: { x: number; y: number; size: number }, out: number): Float32Array =>
  warp(rgb, width, height, { a: out / box.size, b: 0, tx: (-box.x * out) / box.size, ty: (-box.y * out) / box.size }, out, out);

/** Sharpness: variance of the Laplacian of the grey image (HWC floats). Blur removes high frequencies. */
export function laplacianVariance(hwc: Float32Array, size: number): number {
  const grey = new Float32Array(size * size);
  for (let i = 0; i < grey.length; i++) grey[i] = (hwc[i * 3]! + hwc[i * 3 + 1]! + hwc[i * 3 + 2]!) / 3;
  let sum = 0;
  let sq = 0;
  let n = 0;
  for (let y = 1; y < size - 1; y++) {
    for (let x = 1; x < size - 1; x++) {
      const i = y * size + x;
      const l = grey[i - size]! + grey[i + size]! + grey[i - 1]! + grey[i + 1]! - 4 * grey[i]!;
      sum += l;
      sq += l * l;
      n++;
    }
  }
  return sq / n - (sum / n) ** 2;
}

export interface ModelInput {
  readonly size: number;
  /** Order of the colour planes the model expects. */
  readonly channels: 'rgb' | 'bgr';
  /** Planes first ([3,H,W], ONNX convention) or pixels first ([H,W,3], TensorFlow's). */
  readonly layout: 'nchw' | 'nhwc';
  /** symmetric: (v − 127.5) / 127.5 (ArcFace family); unit: v / 255. */
  readonly range: 'symmetric' | 'unit';
}

/** The ArcFace 5-point-aligned crop, laid out and scaled as the model expects. */
export function alignedCrop(rgb: Uint8Array, width: number, height: number, points: readonly Point[], o: ModelInput): Float32Array {
  const template = o.size === 112 ? ARCFACE_112 : ARCFACE_112.map(([x, y]) => [(x * o.size) / 112, (y * o.size) / 112] as Point);
  const hwc = warp(rgb, width, height, similarity(points, template), o.size, o.size);
  const out = new Float32Array(hwc.length);
  const plane = o.size * o.size;
  const order = o.channels === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = hwc[p * 3 + order[c]!]!;
      out[o.layout === 'nchw' ? c * plane + p : p * 3 + c] = o.range === 'unit' ? v / 255 : (v - 127.5) / 127.5;
    }
  }
  hwc.fill(0);
  return out;
}
