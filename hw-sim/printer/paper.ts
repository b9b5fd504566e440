import { PassThrough } from 'node:stream';
import CodepageEncoder from '@point-of-sale/codepage-encoder';
import * as PImage from 'pureimage';
import QRCode from 'qrcode';
import { loadFont } from '../../src/printing/ticket/fonts.js';
import { DEFAULT_LINE_DOTS, type EscPos } from './escpos.js';

/**
 * The paper of the virtual printer: applies ESC/POS commands as a printer would and, at each
 * cut, hands over the ticket as a picture (PNG) and as text. Text-mode lines are decoded from
 * their code page; raster images are copied dot for dot, so the PNG shows exactly what the
 * daemon sent, legible or not.
 */
export type Segment =
  | { kind: 'text'; text: string; align: number; bold: boolean; width: number; height: number; invert: boolean }
  | { kind: 'bitmap'; width: number; height: number; dots: Uint8Array; align: number }
  | { kind: 'qr'; data: string; moduleDots: number }
  | { kind: 'blank'; dots: number };

export interface SheetResult {
  readonly segments: readonly Segment[];
  /** Commands the printer did not know (a test asserts there are none). */
  readonly unknown: readonly string[];
  /** True when the sheet ended at a cut; false when it was torn off (paper out, disconnect). */
  readonly complete: boolean;
}

/** ESC t n → code page, for the Epson table kioskd's default models use (deps.md §6). */
const EPSON_CODEPAGES: Record<number, string> = { 0: 'cp437', 16: 'windows1252', 30: 'tcvn3', 31: 'tcvn3capitals', 52: 'windows1258' };

export class Paper {
  private segments: Segment[] = [];
  private unknown: string[] = [];
  private line: number[] = [];
  private align = 0;
  private bold = false;
  private invert = false;
  private size = { width: 1, height: 1 };
  private codepage = 'cp437';
  private qr = { data: '', moduleDots: 3 };
  private lineDots = DEFAULT_LINE_DOTS;

  constructor(readonly widthDots: number) {}

  /** Applies one command; returns the finished sheet at a cut. */
  apply(cmd: EscPos): SheetResult | null {
    switch (cmd.kind) {
      case 'init':
        this.flushLine(false);
        this.align = 0;
        this.bold = false;
        this.invert = false;
        this.size = { width: 1, height: 1 };
        this.codepage = 'cp437';
        this.lineDots = DEFAULT_LINE_DOTS;
        return null;
      case 'line-spacing':
        this.lineDots = cmd.dots;
        return null;
      case 'text':
        this.line.push(...cmd.bytes);
        return null;
      case 'newline':
        this.flushLine(true);
        return null;
      case 'codepage':
        this.codepage = EPSON_CODEPAGES[cmd.n] ?? `unknown(${cmd.n})`;
        return null;
      case 'align':
        this.align = cmd.n;
        return null;
      case 'bold':
        this.bold = cmd.on;
        return null;
      case 'invert':
        this.invert = cmd.on;
        return null;
      case 'size':
        this.size = { width: cmd.width, height: cmd.height };
        return null;
      case 'raster': {
        this.flushLine(false);
        const width = cmd.widthBytes * 8;
        const dots = new Uint8Array(width * cmd.height);
        for (let i = 0; i < dots.length; i++) dots[i] = (cmd.data[i >> 3]! >> (7 - (i & 7))) & 1;
        this.segments.push({ kind: 'bitmap', width, height: cmd.height, dots, align: this.align });
        return null;
      }
      case 'qr-store':
        this.qr.data = new TextDecoder().decode(cmd.data);
        return null;
      case 'qr-size':
        this.qr.moduleDots = Math.max(1, Math.min(16, cmd.n));
        return null;
      case 'qr-print':
        this.flushLine(false);
        this.segments.push({ kind: 'qr', data: this.qr.data, moduleDots: this.qr.moduleDots });
        return null;
      case 'feed':
        this.flushLine(false);
        this.segments.push({ kind: 'blank', dots: cmd.lines * this.lineDots });
        return null;
      case 'feed-dots':
        this.segments.push({ kind: 'blank', dots: cmd.dots });
        return null;
      case 'cut':
        return this.take(true);
      case 'unknown':
        this.unknown.push(`0x${cmd.byte.toString(16).padStart(2, '0')}`);
        return null;
      default:
        return null;
    }
  }

  /** The paper ran out or the connection broke: whatever is on the sheet, unfinished. */
  tear(): SheetResult | null {
    this.flushLine(false);
    return this.segments.length > 0 ? this.take(false) : null;
  }

  private take(complete: boolean): SheetResult {
    this.flushLine(false);
    const sheet = { segments: this.segments, unknown: this.unknown, complete };
    this.segments = [];
    this.unknown = [];
    return sheet;
  }

  private flushLine(always: boolean): void {
    if (this.line.length === 0) {
      // An LF on an empty line feeds one line at the current spacing (0 after ESC 3 0).
      if (always && this.lineDots > 0) this.segments.push({ kind: 'blank', dots: this.lineDots });
      return;
    }
    const text = decode(Uint8Array.from(this.line), this.codepage);
    this.line = [];
    this.segments.push({
      kind: 'text',
      text,
      align: this.align,
      bold: this.bold,
      width: this.size.width,
      height: this.size.height,
      invert: this.invert,
    });
  }
}

function decode(bytes: Uint8Array, codepage: string): string {
  if (codepage === 'windows1258' || codepage === 'windows1252')
    return new TextDecoder(codepage.replace('windows', 'windows-')).decode(bytes).normalize('NFC');
  if (codepage === 'tcvn3' || codepage === 'tcvn3capitals' || codepage === 'cp437') {
    const table = CodepageEncoder.getCodepoints(codepage as 'tcvn3', false);
    return [...bytes]
      .map((b) => (b < 0x80 ? String.fromCharCode(b) : table[b] !== undefined ? String.fromCodePoint(table[b]!) : '\ufffd'))
      .join('')
      .normalize('NFC');
  }
  return [...bytes].map((b) => (b < 0x80 ? String.fromCharCode(b) : '\ufffd')).join('');
}

/** The sheet as plain text: text lines as printed, pictures as a placeholder (or OCR, by the caller). */
export function sheetText(
  sheet: SheetResult,
  pictureText: (index: number, seg: Extract<Segment, { kind: 'bitmap' }>) => string | null = () => null,
): string {
  const out: string[] = [];
  let pictures = 0;
  let lastWasBitmap = false;
  sheet.segments.forEach((s) => {
    if (s.kind === 'text') out.push(s.text);
    else if (s.kind === 'qr') out.push(`[QR: ${s.data}]`);
    else if (s.kind === 'bitmap') {
      // Consecutive raster bands are one picture.
      if (!lastWasBitmap) {
        const t = pictureText(pictures, s);
        out.push(t ?? `[picture ${s.width}×${s.height} dots]`);
        pictures++;
      }
    }
    lastWasBitmap = s.kind === 'bitmap';
  });
  if (!sheet.complete) out.push('[torn off: the sheet was not finished]');
  return out.join('\n') + '\n';
}

/** Consecutive raster bands of the sheet, joined: the pictures a technician (or OCR) reads. */
export function sheetPictures(sheet: SheetResult): Array<{ width: number; height: number; dots: Uint8Array }> {
  const pics: Array<{ width: number; height: number; dots: Uint8Array }> = [];
  let run: Array<Extract<Segment, { kind: 'bitmap' }>> = [];
  const close = (): void => {
    if (run.length === 0) return;
    const width = Math.max(...run.map((r) => r.width));
    const height = run.reduce((h, r) => h + r.height, 0);
    const dots = new Uint8Array(width * height);
    let y = 0;
    for (const r of run) {
      for (let row = 0; row < r.height; row++) dots.set(r.dots.subarray(row * r.width, (row + 1) * r.width), (y + row) * width);
      y += r.height;
    }
    pics.push({ width, height, dots });
    run = [];
  };
  for (const s of sheet.segments) {
    if (s.kind === 'bitmap') run.push(s);
    else close();
  }
  close();
  return pics;
}

export interface SheetRenderer {
  png(sheet: SheetResult, widthDots: number): Promise<Buffer>;
  pictureToPng(pic: { width: number; height: number; dots: Uint8Array }): Promise<Buffer>;
}

export async function createSheetRenderer(): Promise<SheetRenderer> {
  await Promise.all([
    loadFont('hw-sim-mono', 'dejavu-fonts-ttf/ttf/DejaVuSansMono.ttf'),
    loadFont('hw-sim-mono-bold', 'dejavu-fonts-ttf/ttf/DejaVuSansMono-Bold.ttf'),
  ]);
  const encode = async (img: ReturnType<typeof PImage.make>): Promise<Buffer> => {
    const sink = new PassThrough();
    const parts: Buffer[] = [];
    sink.on('data', (d: Buffer) => parts.push(d));
    await PImage.encodePNGToStream(img, sink);
    return Buffer.concat(parts);
  };
  return {
    async png(sheet, widthDots) {
      const heightOf = (s: Segment): number =>
        s.kind === 'text'
          ? 30 * s.height
          : s.kind === 'bitmap'
            ? s.height
            : s.kind === 'blank'
              ? s.dots
              : (QRCode.create(s.data || ' ', { errorCorrectionLevel: 'M' }).modules.size + 8) * s.moduleDots;
      const height = Math.max(16, sheet.segments.reduce((h, s) => h + heightOf(s), 0) + 16);
      const img = PImage.make(widthDots, height);
      const ctx = img.getContext('2d');
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(0, 0, widthDots, height);
      let y = 8;
      for (const s of sheet.segments) {
        const h = heightOf(s);
        if (s.kind === 'bitmap') {
          const x0 = s.align === 1 ? Math.floor((widthDots - s.width) / 2) : s.align === 2 ? widthDots - s.width : 0;
          for (let row = 0; row < s.height; row++) {
            for (let col = 0; col < s.width; col++) {
              if (s.dots[row * s.width + col] && x0 + col < widthDots && x0 + col >= 0) img.setPixelRGBA(x0 + col, y + row, 0x000000ff);
            }
          }
        } else if (s.kind === 'text') {
          ctx.font = `${22 * s.height}px ${s.bold ? 'hw-sim-mono-bold' : 'hw-sim-mono'}`;
          const w = ctx.measureText(s.text).width * s.width;
          const x = s.align === 1 ? Math.max(0, (widthDots - w) / 2) : s.align === 2 ? Math.max(0, widthDots - w) : 0;
          if (s.invert) {
            ctx.fillStyle = '#000000';
            ctx.fillRect(x, y, w, h);
          }
          ctx.fillStyle = s.invert ? '#ffffff' : '#000000';
          ctx.fillText(s.text, x, y + Math.round(h * 0.78));
        } else if (s.kind === 'qr') {
          const modules = QRCode.create(s.data || ' ', { errorCorrectionLevel: 'M' }).modules;
          const side = modules.size * s.moduleDots;
          const x0 = Math.floor((widthDots - side) / 2);
          ctx.fillStyle = '#000000';
          for (let r = 0; r < modules.size; r++) {
            for (let c = 0; c < modules.size; c++)
              if (modules.get(r, c)) ctx.fillRect(x0 + c * s.moduleDots, y + 4 * s.moduleDots + r * s.moduleDots, s.moduleDots, s.moduleDots);
          }
        }
        y += h;
      }
      return encode(img);
    },
    async pictureToPng(pic) {
      const img = PImage.make(pic.width, pic.height);
      const ctx = img.getContext('2d');
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(0, 0, pic.width, pic.height);
      for (let i = 0; i < pic.dots.length; i++) if (pic.dots[i]) img.setPixelRGBA(i % pic.width, Math.floor(i / pic.width), 0x000000ff);
      return encode(img);
    },
  };
}
