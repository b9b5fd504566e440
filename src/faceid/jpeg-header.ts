/**
 * What a JPEG says about itself, read from its markers without decoding a single pixel: the
 * size it declares in its frame header (SOFn). A 700-byte file can declare 8000×8000 pixels,
 * and a decoder allocates for what is declared, so every image from outside (the camera, the
 * identity service, a chip) is measured here before it is decoded.
 *
 * Pure and defensive: it never throws, whatever the bytes; it only moves forward through the
 * buffer (one pass, O(length)) and walks at most MAX_SEGMENTS marker segments. It reads the
 * way decoders do: segment lengths are followed (an EXIF thumbnail's own SOF inside APP1 is
 * skipped, as jpeg-js skips it), and entropy-coded data after SOS is scanned for the next
 * marker. Every frame header in the file is read, not just the first: jpeg-js allocates for
 * each one it meets, so a small first SOF must not hide a huge second one.
 */

export interface JpegHeader {
  readonly width: number;
  readonly height: number;
  /** 1 (grey), 3 (YCbCr), 4 (CMYK / YCCK). */
  readonly components: number;
  /** The SOF marker's second byte: 0xC0 baseline, 0xC1 extended, 0xC2 progressive, others jpeg-js cannot decode. */
  readonly sof: number;
}

export type JpegHeaderResult = { readonly ok: true; readonly header: JpegHeader } | { readonly ok: false; readonly reason: string };

/** Limits an image must keep to before it is decoded. Either orientation is accepted (a portrait frame is a turned landscape one). */
export interface ImageLimit {
  readonly maxWidth: number;
  readonly maxHeight: number;
  readonly maxBytes: number;
}

/**
 * Real JPEGs have 10–40 segments (a progressive one a few dozen scans with their tables);
 * restart markers inside the data are not counted. More is a file built to waste time.
 */
export const MAX_SEGMENTS = 1024;

/**
 * A reference portrait: a chip's DG2 photo is 240×320 to 480×640 (ICAO 9303 / ISO 19794-5 token
 * images; a CCCD chip's is at the small end), a registry photo seldom more than 640×800. With
 * a margin of 1.6 on each side, 1024×1280 (1.3 MP) still costs no more to decode than the
 * 1280×960 camera frame the kiosk decodes at every check-in; 2 MB is far above any real
 * portrait (15–30 KB from a chip, a few hundred KB from a registry).
 */
export const PORTRAIT_LIMIT: ImageLimit = { maxWidth: 1024, maxHeight: 1280, maxBytes: 2 * 1024 * 1024 };

/**
 * Anything the face engine decodes: the largest picture `hal.camera` may be configured for
 * (4608×3496, the Camera Module 3's full sensor, 16 MP), and 16 MiB. The decoder in the worker
 * is also held to 256 MB (jpeg-js maxMemoryUsageInMB), a second net.
 */
export const FRAME_LIMIT: ImageLimit = { maxWidth: 4608, maxHeight: 3496, maxBytes: 16 * 1024 * 1024 };

/** Reads the declared size of a JPEG. Never throws; `reason` says what is wrong (no data from the image). */
export function readJpegHeader(bytes: Uint8Array): JpegHeaderResult {
  try {
    return scan(bytes);
  } catch (e) {
    // Not reachable by design (every read is bounds-checked), but a guard must not become a crash.
    return { ok: false, reason: `unreadable JPEG (${e instanceof Error ? e.name : typeof e})` };
  }
}

function scan(b: Uint8Array): JpegHeaderResult {
  const fail = (reason: string): JpegHeaderResult => ({ ok: false, reason });
  const len = b.length;
  if (len < 4 || b[0] !== 0xff || b[1] !== 0xd8) return fail('no JPEG start-of-image marker');
  let header: JpegHeader | null = null;
  let segments = 0;
  let i = 2;
  for (;;) {
    // The next marker: FF followed by anything but 00 (a stuffed FF in the data), FF (fill)
    // or a restart marker. Bytes before it are entropy-coded data (after SOS) or junk.
    const at = b.indexOf(0xff, i);
    if (at < 0 || at + 1 >= len) break;
    const m = b[at + 1]!;
    if (m === 0xff) {
      // Fill bytes: skip the whole run to its last FF, which may start a marker.
      let k = at + 1;
      while (k + 1 < len && b[k + 1] === 0xff) k++;
      i = k;
      continue;
    }
    i = at + 2;
    if (m === 0x00 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) continue;
    if (m === 0xd9) break; // EOI
    if (m === 0xd8) return fail('a second start-of-image marker');
    if (++segments > MAX_SEGMENTS) return fail(`more than ${MAX_SEGMENTS} marker segments`);
    if (i + 2 > len) return fail('cut off inside a marker segment');
    const segLen = (b[i]! << 8) | b[i + 1]!;
    if (segLen < 2) return fail(`a marker segment of length ${segLen}`);
    if (isFrameHeader(m)) {
      if (header) return fail('more than one frame header (SOF)');
      if (segLen < 8 || i + segLen > len) return fail('a cut-off frame header (SOF)');
      const height = (b[i + 3]! << 8) | b[i + 4]!;
      const width = (b[i + 5]! << 8) | b[i + 6]!;
      const components = b[i + 7]!;
      if (width === 0 || height === 0)
        return fail(`a frame header declaring ${width}×${height} pixels (a height given later, in DNL, is not supported)`);
      if (components < 1 || components > 4 || segLen < 8 + 3 * components) return fail(`a frame header with ${components} components`);
      for (let c = 0; c < components; c++) {
        const hv = b[i + 8 + 3 * c + 1]!;
        const h = hv >> 4;
        const v = hv & 15;
        if (h < 1 || h > 4 || v < 1 || v > 4) return fail(`a frame header with sampling factors ${h}×${v}`);
      }
      header = { width, height, components, sof: m };
    }
    // Skip the segment's own bytes (tables, EXIF with its thumbnail, comments, the scan header).
    i += segLen;
    if (i > len) return fail('cut off inside a marker segment');
  }
  return header ? { ok: true, header } : fail('no frame header (SOF)');
}

/** SOF0–SOF15 except C4 (DHT), C8 (JPG, reserved) and CC (DAC). */
function isFrameHeader(m: number): boolean {
  return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
}

/** The image fits `limit` in one orientation or the other. */
export function fits(h: { readonly width: number; readonly height: number }, limit: ImageLimit): boolean {
  return (h.width <= limit.maxWidth && h.height <= limit.maxHeight) || (h.width <= limit.maxHeight && h.height <= limit.maxWidth);
}

/**
 * The image's header, or why it must not be decoded: too many bytes, not a readable JPEG, or
 * more pixels than `limit`. `what` names it in the reason ("the portrait", "the camera frame").
 */
export function checkJpeg(bytes: Uint8Array, limit: ImageLimit, what: string): JpegHeaderResult {
  if (bytes.byteLength > limit.maxBytes) return { ok: false, reason: `${what} is ${bytes.byteLength} bytes, more than ${limit.maxBytes}` };
  const r = readJpegHeader(bytes);
  if (!r.ok) return { ok: false, reason: `${what} is not a usable JPEG: ${r.reason}` };
  const h = r.header;
  if (!fits(h, limit)) return { ok: false, reason: `${what} declares ${h.width}×${h.height} pixels, more than ${limit.maxWidth}×${limit.maxHeight}` };
  return r;
}
