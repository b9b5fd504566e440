import * as PImage from 'pureimage';
import QRCode from 'qrcode';
import { loadFont } from './fonts.js';
import { paperDots } from './layout.js';
import type { TicketBlock, TicketStyle } from './ticket.js';

/**
 * Renders a ticket layout to one black-and-white picture, the safe default for Vietnamese:
 * thermal printers disagree on which code page (if any) holds "ễ" or "Ữ", but every ESC/POS
 * printer prints a raster image (`GS v 0`). The font is DejaVu Sans, shipped as an npm package
 * (free licence) and covering every Vietnamese letter.
 */
export interface Picture {
  readonly width: number;
  readonly height: number;
  /** RGBA, as the encoder's image() and PNG writers take it. */
  readonly data: Uint8Array;
}

export interface TicketRenderer {
  render(blocks: readonly TicketBlock[], paperMm: 80 | 58): Picture;
}

interface StyleSpec {
  readonly px: number;
  readonly bold: boolean;
  readonly inverse?: boolean;
  /** Inverse across the whole paper width, not just behind the words. */
  readonly fullWidth?: boolean;
  /** Never wrapped: shrunk to fit one line (a queue number split over two lines misleads). */
  readonly fit?: boolean;
}

const STYLES: Record<TicketStyle, StyleSpec> = {
  title: { px: 30, bold: true },
  subtitle: { px: 24, bold: false },
  number: { px: 150, bold: true, fit: true },
  heading: { px: 32, bold: true },
  priority: { px: 30, bold: true, inverse: true },
  bar: { px: 28, bold: true, inverse: true, fullWidth: true, fit: true },
  body: { px: 26, bold: false },
  small: { px: 22, bold: false },
};

const MARGIN = 8;
const QR_MODULE_DOTS = 6;

/** Loads the fonts (about 100 ms); create once at boot and reuse. */
export async function createTicketRenderer(): Promise<TicketRenderer> {
  await Promise.all([
    loadFont('kioskd-sans', 'dejavu-fonts-ttf/ttf/DejaVuSans.ttf'),
    loadFont('kioskd-sans-bold', 'dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf'),
  ]);

  return {
    render(blocks, paperMm) {
      const width = paperDots(paperMm);
      const scale = paperMm === 80 ? 1 : 0.72;
      const measure = PImage.make(1, 1).getContext('2d');
      const fontOf = (s: StyleSpec, px = s.px * scale): string => `${Math.round(px)}px ${s.bold ? 'kioskd-sans-bold' : 'kioskd-sans'}`;

      // Pass 1: wrap lines and work out the height.
      type Row =
        | { kind: 'line'; text: string; spec: StyleSpec; px: number; align: 'left' | 'center'; height: number }
        | { kind: 'rule'; height: number }
        | { kind: 'gap'; height: number }
        | { kind: 'qr'; modules: { size: number; get(r: number, c: number): number | boolean }; height: number };
      const rows: Row[] = [];
      for (const b of blocks) {
        if (b.kind === 'rule') rows.push({ kind: 'rule', height: 18 });
        else if (b.kind === 'space') rows.push({ kind: 'gap', height: 12 });
        else if (b.kind === 'qr') {
          const modules = QRCode.create(b.data, { errorCorrectionLevel: 'M' }).modules;
          rows.push({ kind: 'qr', modules, height: (modules.size + 8) * QR_MODULE_DOTS });
        } else {
          const spec = STYLES[b.style];
          measure.font = fontOf(spec);
          const inner = width - 2 * MARGIN - (spec.inverse ? 16 : 0);
          if (spec.fit) {
            const px = Math.max(12, Math.floor(spec.px * scale * Math.min(1, inner / Math.max(1, measure.measureText(b.text).width))));
            rows.push({ kind: 'line', text: b.text, spec, px, align: b.align, height: Math.ceil(px * 1.3) });
            continue;
          }
          for (const text of wrap(b.text, inner, (s) => measure.measureText(s).width)) {
            rows.push({ kind: 'line', text, spec, px: spec.px * scale, align: b.align, height: Math.ceil(spec.px * scale * 1.3) });
          }
        }
      }
      const height = Math.max(8, rows.reduce((h, r) => h + r.height, 0) + 8);

      // Pass 2: draw.
      const img = PImage.make(width, height);
      const ctx = img.getContext('2d');
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(0, 0, width, height);
      let y = 0;
      for (const r of rows) {
        if (r.kind === 'rule') {
          ctx.fillStyle = '#000000';
          ctx.fillRect(MARGIN, y + 8, width - 2 * MARGIN, 2);
        } else if (r.kind === 'qr') {
          const side = r.modules.size * QR_MODULE_DOTS;
          const x0 = Math.floor((width - side) / 2);
          const y0 = y + 4 * QR_MODULE_DOTS;
          ctx.fillStyle = '#000000';
          for (let row = 0; row < r.modules.size; row++) {
            for (let col = 0; col < r.modules.size; col++) {
              if (r.modules.get(row, col)) ctx.fillRect(x0 + col * QR_MODULE_DOTS, y0 + row * QR_MODULE_DOTS, QR_MODULE_DOTS, QR_MODULE_DOTS);
            }
          }
        } else if (r.kind === 'line') {
          ctx.font = fontOf(r.spec, r.px);
          const w = ctx.measureText(r.text).width;
          const x = r.align === 'center' ? Math.max(MARGIN, Math.round((width - w) / 2)) : MARGIN + (r.spec.inverse ? 8 : 0);
          const baseline = y + Math.round(r.height * 0.78);
          if (r.spec.inverse) {
            ctx.fillStyle = '#000000';
            if (r.spec.fullWidth) ctx.fillRect(0, y, width, r.height);
            else ctx.fillRect(Math.max(0, x - 8), y, Math.min(width, w + 16), r.height);
            ctx.fillStyle = '#ffffff';
          } else ctx.fillStyle = '#000000';
          ctx.fillText(r.text, x, baseline);
        }
        y += r.height;
      }
      return { width, height, data: img.data };
    },
  };
}

/** Word wrap to a pixel width; a word wider than the line is broken between letters. */
export function wrap(text: string, width: number, measure: (s: string) => number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ').filter(Boolean)) {
    const candidate = line ? `${line} ${word}` : word;
    if (measure(candidate) <= width) {
      line = candidate;
      continue;
    }
    if (line) lines.push(line);
    line = '';
    let rest = word;
    while (measure(rest) > width && rest.length > 1) {
      let cut = rest.length - 1;
      while (cut > 1 && measure(rest.slice(0, cut)) > width) cut--;
      lines.push(rest.slice(0, cut));
      rest = rest.slice(cut);
    }
    line = rest;
  }
  if (line) lines.push(line);
  return lines.length > 0 ? lines : [''];
}
