import { decodeJpeg, encodeJpeg, resize, type Rgba } from '../image.js';

/**
 * A small picture of a camera frame for the face picker, cropped to the person: in hw-sim's
 * frames a photo stands unscaled in front of a plain wall, so at the picker's size the whole
 * frame would show a speck. The wall is found per row from the frame's left edge (the photo
 * never reaches it); a frame with nobody in it is shown whole.
 */
export function faceThumbnail(frame: Uint8Array, width = 160, height = 120): Buffer {
  const img = decodeJpeg(frame);
  const box = personBox(img);
  let crop = img;
  if (box) {
    // Some wall around the person, at the thumbnail's aspect ratio, kept inside the frame.
    const pad = 0.15;
    let w = (box.x1 - box.x0) * (1 + 2 * pad);
    let h = (box.y1 - box.y0) * (1 + 2 * pad);
    if (w / h < width / height) w = (h * width) / height;
    else h = (w * height) / width;
    w = Math.min(img.width, Math.round(w));
    h = Math.min(img.height, Math.round(h));
    const x0 = clamp(Math.round((box.x0 + box.x1 - w) / 2), 0, img.width - w);
    const y0 = clamp(Math.round((box.y0 + box.y1 - h) / 2), 0, img.height - h);
    crop = cut(img, x0, y0, w, h);
  }
  return Buffer.from(encodeJpeg(resize(crop, width, height), 80));
}

function personBox(img: Rgba): { x0: number; y0: number; x1: number; y1: number } | null {
  let x0 = img.width;
  let y0 = img.height;
  let x1 = -1;
  let y1 = -1;
  const d = img.data;
  for (let y = 0; y < img.height; y++) {
    const w = y * img.width * 4 + 8; // the wall, two pixels in from the left edge
    for (let x = 0; x < img.width; x++) {
      const o = (y * img.width + x) * 4;
      if (Math.abs(d[o]! - d[w]!) + Math.abs(d[o + 1]! - d[w + 1]!) + Math.abs(d[o + 2]! - d[w + 2]!) < 60) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      y1 = y;
    }
  }
  // Stray JPEG ringing is a few pixels; a person is not.
  return x1 - x0 > 16 && y1 - y0 > 16 ? { x0, y0, x1: x1 + 1, y1: y1 + 1 } : null;
}

function cut(img: Rgba, x0: number, y0: number, w: number, h: number): Rgba {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(((y0 + y) * img.width + x0) * 4, ((y0 + y) * img.width + x0 + w) * 4), y * w * 4);
  return { width: w, height: h, data };
}

const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));
