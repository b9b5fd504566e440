/**
 * `--mode kiosk`: what the kiosk really compares. The reference is degraded like a CCCD chip
 * portrait (DG2: small, recompressed JPEG); the probe is the photo placed in a 1280×960 camera
 * frame at a varied size and position, like a patient standing at the kiosk.
 */
import { chipPortrait as degrade, decodeJpeg, encodeJpeg, resize } from '../hw-sim/image.js';

/** Like a DG2 chip portrait: at most 240×320, JPEG quality 60 (hw-sim's portraits are made the same way). */
export function chipPortrait(jpegBytes: Uint8Array): Uint8Array {
  return degrade(decodeJpeg(jpegBytes));
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
  const img = decodeJpeg(jpegBytes);
  const h = Math.round(H * (0.4 + 0.4 * r()));
  const w = Math.min(W, Math.round((img.width * h) / img.height));
  const placed = resize(img, w, h);
  const frame = new Uint8Array(W * H * 4);
  for (let i = 0; i < W * H; i++) frame.set([186, 182, 176, 255], i * 4);
  const x0 = Math.floor(r() * (W - w + 1));
  const y0 = Math.floor(r() * (H - h + 1));
  for (let y = 0; y < h; y++) frame.set(placed.data.subarray(y * w * 4, (y + 1) * w * 4), ((y0 + y) * W + x0) * 4);
  return encodeJpeg({ width: W, height: H, data: frame }, 85);
}
