/**
 * Small JPEG helpers shared by hw-sim's faces and the face benchmark's kiosk mode: decode,
 * encode, an area-average resize, and the chip-portrait degradation.
 */
import jpeg from 'jpeg-js';

export interface Rgba {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export const decodeJpeg = (bytes: Uint8Array): Rgba => {
  const d = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
  return { width: d.width, height: d.height, data: d.data };
};

export const encodeJpeg = (img: Rgba, quality: number): Uint8Array =>
  new Uint8Array(jpeg.encode({ width: img.width, height: img.height, data: img.data }, quality).data);

/** Area-average resize: no aliasing when shrinking (as a camera's or a chip writer's scaler), bilinear-like when enlarging. */
export function resize(img: Rgba, width: number, height: number): Rgba {
  const out = new Uint8Array(width * height * 4);
  const sx = img.width / width;
  const sy = img.height / height;
  for (let y = 0; y < height; y++) {
    const y0 = y * sy;
    const y1 = Math.max(y0 + 1e-6, (y + 1) * sy);
    for (let x = 0; x < width; x++) {
      const x0 = x * sx;
      const x1 = Math.max(x0 + 1e-6, (x + 1) * sx);
      let r = 0;
      let g = 0;
      let b = 0;
      let wsum = 0;
      for (let yy = Math.floor(y0); yy < Math.min(img.height, Math.ceil(y1)); yy++) {
        const wy = Math.min(y1, yy + 1) - Math.max(y0, yy);
        for (let xx = Math.floor(x0); xx < Math.min(img.width, Math.ceil(x1)); xx++) {
          const w = wy * (Math.min(x1, xx + 1) - Math.max(x0, xx));
          const i = (yy * img.width + xx) * 4;
          r += img.data[i]! * w;
          g += img.data[i + 1]! * w;
          b += img.data[i + 2]! * w;
          wsum += w;
        }
      }
      const o = (y * width + x) * 4;
      out[o] = r / wsum;
      out[o + 1] = g / wsum;
      out[o + 2] = b / wsum;
      out[o + 3] = 255;
    }
  }
  return { width, height, data: out };
}

/** Like a DG2 chip portrait: at most 240×320 (ICAO's small token image), JPEG quality 60. */
export function chipPortrait(img: Rgba): Uint8Array {
  const k = Math.min(1, 240 / img.width, 320 / img.height);
  return encodeJpeg(k < 1 ? resize(img, Math.round(img.width * k), Math.round(img.height * k)) : img, 60);
}
