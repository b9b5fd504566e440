import ReceiptPrinterEncoder from '@point-of-sale/receipt-printer-encoder';
import type { TicketRenderer } from '../../printing/ticket/raster.js';
import type { TicketBlock, TicketStyle } from '../../printing/ticket/ticket.js';

/**
 * Ticket layout → ESC/POS bytes, with @point-of-sale/receipt-printer-encoder: pure JS, knows the
 * code-page numbers of 39 printer models, emits standard `GS ( k` QR codes and `GS v 0` raster
 * images (escpos/@node-escpos emit a QR command many printers ignore; deps.md).
 *
 * - `raster` (default): the text is printed as pictures, so it prints the same on any ESC/POS
 *   printer; about 60 KB per ticket.
 * - `cp1258`: text in Windows-1258 (WPC1258), about 1 KB. The printer model must have the code
 *   page; the text is pre-decomposed into cp1258's base letter + tone mark form.
 * TCVN-3 was tried and left out: through the encoder, capital letters with tones and "Đ" came
 * out as "?" (a name must never print wrong), so printers without WPC1258 use raster.
 */
export type TextMode = 'raster' | 'cp1258';

export interface EncodeOptions {
  readonly model: string;
  readonly paperMm: 80 | 58;
  readonly text: TextMode;
}

/** Raster rows per `GS v 0` command: cheap printers' receive buffers choke on one huge image. */
const BAND_ROWS = 256;

export function encodeTicket(blocks: readonly TicketBlock[], o: EncodeOptions, renderer: TicketRenderer): Uint8Array {
  const columns = o.paperMm === 80 ? 48 : 32;
  const enc = new ReceiptPrinterEncoder({ printerModel: o.model as never, columns, imageMode: 'raster' });
  enc.initialize();
  if (o.text === 'raster') {
    // Text as pictures; the QR code as the printer's own `GS ( k` (sharper, and its content
    // stays machine-readable for the virtual printer).
    let run: TicketBlock[] = [];
    const flush = (): void => {
      if (run.length === 0) return;
      const pic = renderer.render(run, o.paperMm);
      const rowBytes = pic.width * 4;
      // The encoder ends each image with a line feed; with line spacing 0 that feed adds no
      // white gap between bands (which would split a letter across two bands).
      enc.lineSpacing('none');
      for (let top = 0; top < pic.height; top += BAND_ROWS) {
        const rows = Math.min(BAND_ROWS, pic.height - top);
        const band = { data: pic.data.subarray(top * rowBytes, (top + rows) * rowBytes), width: pic.width, height: rows };
        enc.align('left').image(band, pic.width, rows, 'threshold', 128);
      }
      enc.lineSpacing('default');
      run = [];
    };
    for (const b of blocks) {
      if (b.kind !== 'qr') run.push(b);
      else {
        flush();
        enc.align('center').qrcode(b.data, { model: 2, size: 6, errorlevel: 'm' }).align('left');
      }
    }
    flush();
  } else {
    enc.codepage('windows1258');
    for (const b of blocks) {
      if (b.kind === 'rule') enc.rule();
      else if (b.kind === 'space') enc.newline();
      else if (b.kind === 'qr') enc.align('center').qrcode(b.data, { model: 2, size: 6, errorlevel: 'm' }).align('left');
      else {
        const [w, h, bold] = TEXT_SIZE[b.style](o.paperMm);
        enc.align(b.align).bold(bold).size(w, h);
        const inverse = b.style === 'priority' || b.style === 'bar';
        if (inverse) enc.invert(true);
        // A bar spans the paper: padded with spaces to the line's width in characters.
        enc.line(toCp1258Form(b.style === 'bar' ? padCenter(b.text, o.paperMm === 80 ? 48 : 32) : b.text));
        if (inverse) enc.invert(false);
        enc.size(1, 1).bold(false).align('left');
      }
    }
  }
  return enc.newline(2).cut().encode();
}

const TEXT_SIZE: Record<TicketStyle, (paperMm: 80 | 58) => [number, number, boolean]> = {
  title: () => [1, 2, true],
  subtitle: () => [1, 1, false],
  number: (p) => (p === 80 ? [4, 4, true] : [3, 3, true]),
  heading: () => [1, 2, true],
  priority: () => [1, 2, true],
  bar: () => [1, 2, true],
  body: () => [1, 1, false],
  small: () => [1, 1, false],
};

/**
 * cp1258 has â ê ô ă ơ ư đ precomposed but the five tones only as combining marks: "ễ" must be
 * sent as "ê" + U+0303. Without this the encoder prints "?" for 16 letters of a typical name.
 */
const TONE = /[\u0300\u0301\u0303\u0309\u0323]/u;
export function toCp1258Form(s: string): string {
  return s.normalize('NFD').replace(/(\P{M})(\p{M}*)/gu, (_m, base: string, marks: string) => {
    const all = [...marks];
    return (base + all.filter((x) => !TONE.test(x)).join('')).normalize('NFC') + all.filter((x) => TONE.test(x)).join('');
  });
}

function padCenter(text: string, columns: number): string {
  const room = Math.max(0, columns - [...text].length);
  return ' '.repeat(Math.floor(room / 2)) + text + ' '.repeat(Math.ceil(room / 2));
}
