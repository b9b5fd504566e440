/**
 * An incremental ESC/POS reader for the virtual printer: bytes in (in any chunks), commands out.
 * It knows the subset kioskd and its encoder emit, and skips anything else as `unknown` so a
 * test can see it. A command split across TCP segments waits for its remaining bytes.
 */
export type EscPos =
  | { readonly kind: 'init' }
  | { readonly kind: 'text'; readonly bytes: Uint8Array }
  | { readonly kind: 'newline' }
  | { readonly kind: 'codepage'; readonly n: number }
  | { readonly kind: 'align'; readonly n: number }
  | { readonly kind: 'bold'; readonly on: boolean }
  | { readonly kind: 'invert'; readonly on: boolean }
  | { readonly kind: 'underline'; readonly n: number }
  | { readonly kind: 'size'; readonly width: number; readonly height: number }
  | { readonly kind: 'font'; readonly n: number }
  | { readonly kind: 'raster'; readonly widthBytes: number; readonly height: number; readonly data: Uint8Array }
  | { readonly kind: 'qr-store'; readonly data: Uint8Array }
  | { readonly kind: 'qr-size'; readonly n: number }
  | { readonly kind: 'qr-print' }
  | { readonly kind: 'qr-setting' }
  | { readonly kind: 'feed'; readonly lines: number }
  | { readonly kind: 'feed-dots'; readonly dots: number }
  | { readonly kind: 'line-spacing'; readonly dots: number }
  | { readonly kind: 'cut' }
  | { readonly kind: 'status-request'; readonly n: number }
  /** GS r n: answered in order, once everything before it is printed. */
  | { readonly kind: 'transmit-status'; readonly n: number }
  | { readonly kind: 'other'; readonly name: string }
  | { readonly kind: 'unknown'; readonly byte: number };

const ESC = 0x1b;
const GS = 0x1d;
const FS = 0x1c;
const DLE = 0x10;
/** ESC 2: the default line spacing, 1/6 inch at 180 dpi vertical motion units ≈ 30 dots at 203 dpi. */
export const DEFAULT_LINE_DOTS = 30;

export class EscPosReader {
  private buf: Uint8Array = new Uint8Array(0);

  push(chunk: Uint8Array): EscPos[] {
    // Only an unfinished command is carried over; most chunks start clean and are not copied.
    let joined = chunk;
    if (this.buf.length > 0) {
      joined = new Uint8Array(this.buf.length + chunk.length);
      joined.set(this.buf);
      joined.set(chunk, this.buf.length);
    }
    const out: EscPos[] = [];
    let i = 0;
    while (i < joined.length) {
      const r = readOne(joined, i);
      if (r === null) break; // incomplete: wait for more bytes
      if (r.cmd) out.push(r.cmd);
      i = r.next;
    }
    this.buf = joined.slice(i);
    return out;
  }

  /** Bytes held for an unfinished command. */
  pending(): number {
    return this.buf.length;
  }
}

function readOne(b: Uint8Array, i: number): { cmd: EscPos | null; next: number } | null {
  const c = b[i]!;
  const need = (n: number): boolean => i + n <= b.length;
  if (c === 0x0a) return { cmd: { kind: 'newline' }, next: i + 1 };
  if (c === 0x0d) return { cmd: null, next: i + 1 }; // CR after LF from the encoder's "\n\r"
  if (c >= 0x20 && c !== 0x7f) {
    let j = i;
    while (j < b.length && b[j]! >= 0x20 && b[j] !== 0x7f) j++;
    return { cmd: { kind: 'text', bytes: b.slice(i, j) }, next: j };
  }
  if (c === DLE) {
    if (!need(3)) return null;
    if (b[i + 1] === 0x04) return { cmd: { kind: 'status-request', n: b[i + 2]! }, next: i + 3 };
    return { cmd: { kind: 'unknown', byte: c }, next: i + 1 };
  }
  if (c === ESC) {
    if (!need(2)) return null;
    const op = b[i + 1]!;
    const arg = (): number | null => (need(3) ? b[i + 2]! : null);
    switch (op) {
      case 0x40:
        return { cmd: { kind: 'init' }, next: i + 2 };
      case 0x74: // ESC t n
      case 0x61: // ESC a n
      case 0x45: // ESC E n
      case 0x2d: // ESC - n
      case 0x4d: // ESC M n
      case 0x64: // ESC d n
      case 0x4a: // ESC J n
      case 0x33: // ESC 3 n
      case 0x21: // ESC ! n
      case 0x47: {
        // ESC G n
        const n = arg();
        if (n === null) return null;
        const next = i + 3;
        if (op === 0x74) return { cmd: { kind: 'codepage', n }, next };
        if (op === 0x61) return { cmd: { kind: 'align', n: n % 48 }, next };
        if (op === 0x45 || op === 0x47) return { cmd: { kind: 'bold', on: (n & 1) === 1 }, next };
        if (op === 0x2d) return { cmd: { kind: 'underline', n: n % 48 }, next };
        if (op === 0x4d) return { cmd: { kind: 'font', n: n % 48 }, next };
        if (op === 0x64) return { cmd: { kind: 'feed', lines: n }, next };
        if (op === 0x4a) return { cmd: { kind: 'feed-dots', dots: n }, next };
        if (op === 0x33) return { cmd: { kind: 'line-spacing', dots: n }, next };
        return { cmd: { kind: 'size', width: n & 0x20 ? 2 : 1, height: n & 0x10 ? 2 : 1 }, next };
      }
      case 0x32:
        return { cmd: { kind: 'line-spacing', dots: DEFAULT_LINE_DOTS }, next: i + 2 };
      case 0x70: // ESC p m t1 t2: drawer pulse
        return need(5) ? { cmd: { kind: 'other', name: 'drawer-pulse' }, next: i + 5 } : null;
      default:
        return { cmd: { kind: 'unknown', byte: c }, next: i + 1 };
    }
  }
  if (c === GS) {
    if (!need(2)) return null;
    const op = b[i + 1]!;
    switch (op) {
      case 0x21: {
        if (!need(3)) return null;
        const n = b[i + 2]!;
        return { cmd: { kind: 'size', width: ((n >> 4) & 7) + 1, height: (n & 7) + 1 }, next: i + 3 };
      }
      case 0x42:
        return need(3) ? { cmd: { kind: 'invert', on: (b[i + 2]! & 1) === 1 }, next: i + 3 } : null;
      case 0x72:
        return need(3) ? { cmd: { kind: 'transmit-status', n: b[i + 2]! }, next: i + 3 } : null;
      case 0x56: {
        // GS V m, or GS V m n for m = 65, 66, 97, 98 …
        if (!need(3)) return null;
        const m = b[i + 2]!;
        const withFeed = m >= 65;
        if (withFeed && !need(4)) return null;
        return { cmd: { kind: 'cut' }, next: i + (withFeed ? 4 : 3) };
      }
      case 0x76: {
        // GS v 0 m xL xH yL yH d1…dk
        if (!need(8)) return null;
        if (b[i + 2] !== 0x30) return { cmd: { kind: 'unknown', byte: c }, next: i + 1 };
        const widthBytes = b[i + 4]! | (b[i + 5]! << 8);
        const height = b[i + 6]! | (b[i + 7]! << 8);
        const k = widthBytes * height;
        if (k > 4 << 20) return { cmd: { kind: 'other', name: 'raster too large' }, next: i + 8 };
        if (!need(8 + k)) return null;
        return { cmd: { kind: 'raster', widthBytes, height, data: b.slice(i + 8, i + 8 + k) }, next: i + 8 + k };
      }
      case 0x28: {
        // GS ( k pL pH cn fn [params]: the 2D-code function family
        if (!need(5)) return null;
        const fn = b[i + 2]!;
        const len = b[i + 3]! | (b[i + 4]! << 8);
        if (!need(5 + len)) return null;
        const next = i + 5 + len;
        if (fn !== 0x6b || len < 2 || b[i + 5] !== 0x31) return { cmd: { kind: 'other', name: `GS ( ${String.fromCharCode(fn)}` }, next };
        const func = b[i + 6]!;
        if (func === 0x50) return { cmd: { kind: 'qr-store', data: b.slice(i + 8, next) }, next };
        if (func === 0x51) return { cmd: { kind: 'qr-print' }, next };
        if (func === 0x43) return { cmd: { kind: 'qr-size', n: b[i + 7]! }, next };
        return { cmd: { kind: 'qr-setting' }, next };
      }
      default:
        return { cmd: { kind: 'unknown', byte: c }, next: i + 1 };
    }
  }
  if (c === FS) {
    if (!need(2)) return null;
    if (b[i + 1] === 0x2e) return { cmd: { kind: 'other', name: 'cancel-kanji' }, next: i + 2 };
    return { cmd: { kind: 'unknown', byte: c }, next: i + 1 };
  }
  return { cmd: { kind: 'unknown', byte: c }, next: i + 1 };
}
