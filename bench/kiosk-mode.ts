/**
 * `--mode kiosk`: what the kiosk really compares. The reference is degraded like a CCCD chip
 * portrait (DG2: small, recompressed JPEG); the probe is the photo placed in a 1280×960 camera
 * frame at a varied size and position, like a patient standing at the kiosk, never enlarged
 * beyond its own resolution (a 250×250 photo blown up 4× is a blurred face no camera would
 * give). With `--camera stream` the probe is a burst of raw frames from hw-sim's camera model
 * (motion, blur, dropped frames, exposure settled), as the kiosk's stream delivers them.
 */
import { createFrameSource, DEFAULT_STREAM_SETTINGS, rgbToI420 } from '../hw-sim/bin/camera-model.mjs';
import { chipPortrait as degrade, decodeJpeg, encodeJpeg, resize, type Rgba } from '../hw-sim/image.js';
import type { CameraFrame } from '../src/faceid/frames.js';

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

const W = 1280;
const H = 960;

/**
 * The photo as a 1280×960 camera frame: scaled so it fills 40–80% of the frame's height but
 * never beyond its own height, at a random position that keeps it whole, on a plain wall-grey
 * background, JPEG quality 85.
 */
export function kioskFrame(jpegBytes: Uint8Array, seed: number): Uint8Array {
  return encodeJpeg(placed(jpegBytes, seed), 85);
}

/**
 * The same placement as a burst of `n` raw I420 frames from hw-sim's camera model, taken after
 * exposure settled (the under-exposed first frames are drawn and passed over, as the driver
 * skips them), with the model's default motion, blur and dropped frames.
 */
export function kioskBurst(jpegBytes: Uint8Array, seed: number, n: number): CameraFrame[] {
  const rgba = placed(jpegBytes, seed);
  const rgb = new Uint8Array(W * H * 3);
  for (let i = 0; i < W * H; i++) rgb.set(rgba.data.subarray(i * 4, i * 4 + 3), i * 3);
  const source = createFrameSource(rgbToI420(rgb, W, H), W, H, {}, rand(seed * 40503 + 7));
  for (let i = 0; i < DEFAULT_STREAM_SETTINGS.darkFrames + 1; i++) source.skip();
  const frames: CameraFrame[] = [];
  while (frames.length < n) {
    const f = source.next();
    if (f) frames.push({ format: 'i420', width: W, height: H, data: f });
  }
  return frames;
}

function placed(jpegBytes: Uint8Array, seed: number): Rgba {
  const r = rand(seed * 2654435761);
  const img = decodeJpeg(jpegBytes);
  const h = Math.min(img.height, Math.round(H * (0.4 + 0.4 * r())));
  const w = Math.min(W, Math.round((img.width * h) / img.height));
  const scaled = resize(img, w, h);
  const frame = new Uint8Array(W * H * 4);
  for (let i = 0; i < W * H; i++) frame.set([186, 182, 176, 255], i * 4);
  const x0 = Math.floor(r() * (W - w + 1));
  const y0 = Math.floor(r() * (H - h + 1));
  for (let y = 0; y < h; y++) frame.set(scaled.data.subarray(y * w * 4, (y + 1) * w * 4), ((y0 + y) * W + x0) * 4);
  return { width: W, height: H, data: frame };
}
