/**
 * `--mode kiosk`: what the kiosk really compares. The reference is degraded like a CCCD chip
 * portrait (DG2: small, recompressed JPEG); the probe is the photo placed in a 1280×960 camera
 * frame at a varied size and position, like a patient standing at the kiosk.
 */
import jpeg from 'jpeg-js';

interface Rgba {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

const decode = (b: Uint8Array): Rgba => {
  const d = jpeg.decode(b, { useTArray: true, formatAsRGBA: true });
  return { width: d.width, height: d.height, data: d.data };
};
const encode = (img: Rgba, quality: number): Uint8Array => jpeg.encode({ width: img.width, height: img.height, data: Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength) }, quality).data;

/** Area-average resize (no aliasing when shrinking; bilinear-like when enlarging). */
function resize(img: Rgba, width: number, height: number): Rgba {
  const out = new Uint8Array(width * height * 4);
  const sx = img.width / width;
  const sy = img.height / height;
  for (let y = 0; y < height; y++) {
    const y0 = y * sy;
    const y1 = Math.max(y0 + 1e-6, (y + 1) * sy);
    for (let x = 0; x < width; x++) {
      const x0 = x * sx;
      const x1 = Math.max(x0 + 1e-6, (x + 1) * sx);
      const acc = [0, 0, 0];
      let wsum = 0;
      for (let yy = Math.floor(y0); yy < Math.min(img.height, Math.ceil(y1)); yy++) {
        const wy = Math.min(y1, yy + 1) - Math.max(y0, yy);
        for (let xx = Math.floor(x0); xx < Math.min(img.width, Math.ceil(x1)); xx++) {
          const w = wy * (Math.min(x1, xx + 1) - Math.max(x0, xx));
          const i = (yy * img.width + xx) * 4;
          acc[0]! += img.data[i]! * w;
          acc[1]! += img.data[i + 1]! * w;
          acc[2]! += img.data[i + 2]! * w;
          wsum += w;
        }
      }
      const o = (y * width + x) * 4;
      out[o] = acc[0]! / wsum;
      out[o + 1] = acc[1]! / wsum;
      out[o + 2] = acc[2]! / wsum;
      out[o + 3] = 255;
    }
  }
  return { width, height, data: out };
}

/** Like a DG2 chip portrait: at most 240×320 (ICAO's small token image), JPEG quality 60. */
export function chipPortrait(jpegBytes: Uint8Array): Uint8Array {
  const img = decode(jpegBytes);
  const k = Math.min(1, 240 / img.width, 320 / img.height);
  return encode(k < 1 ? resize(img, Math.round(img.width * k), Math.round(img.height * k)) : img, 60);
}

/** Deterministic variety per photo (same frames on every run, for ours and the reference alike). */
function rand(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/**
 * The photo as a 1280×960 camera frame: scaled so it fills 40–80% of the frame's height, at a
 * random position that keeps it whole, on a plain wall-grey background, JPEG quality 85.
 */
export function kioskFrame(jpegBytes: Uint8Array, seed: number): Uint8Array {
  const W = 1280;
  const H = 960;
  const r = rand(seed * 2654435761);
  const img = decode(jpegBytes);
  const h = Math.round(H * (0.4 + 0.4 * r()));
  const w = Math.min(W, Math.round((img.width * h) / img.height));
  const placed = resize(img, w, h);
  const frame = new Uint8Array(W * H * 4);
  for (let i = 0; i < W * H; i++) frame.set([186, 182, 176, 255], i * 4);
  const x0 = Math.floor(r() * (W - w + 1));
  const y0 = Math.floor(r() * (H - h + 1));
  for (let y = 0; y < h; y++) frame.set(placed.data.subarray(y * w * 4, (y + 1) * w * 4), ((y0 + y) * W + x0) * 4);
  return encode({ width: W, height: H, data: frame }, 85);
}
