import test from 'ava';
import { rng } from '../helpers/rng.js';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { encodeTicket } from '../../src/hal/printer/encode.js';
import { layoutTicket } from '../../src/printing/ticket/layout.js';
import { createTicketRenderer } from '../../src/printing/ticket/raster.js';
import { printable } from '../../src/printing/ticket/text.js';
import type { Ticket, TicketTemplate } from '../../src/printing/ticket/ticket.js';
import { TEST_TICKET_BAR } from '../../src/printing/ticket/wording.js';
import { EscPosReader, type EscPos } from '../../hw-sim/printer/escpos.js';
import { Paper, sheetText } from '../../hw-sim/printer/paper.js';

const renderer = await createTicketRenderer();
const tpl: TicketTemplate = {
  hospital: 'BỆNH VIỆN ĐA KHOA TỈNH',
  subtitle: null,
  footer: 'Vui lòng chờ gọi số.',
  showName: true,
  timeZone: 'Asia/Ho_Chi_Minh',
  paperMm: 80,
};
const ticket: Ticket = {
  ticketId: 'T-0001',
  number: 'A-042',
  department: 'Khoa Khám bệnh',
  room: 'Phòng 105 – Tầng 1',
  priority: 'Ưu tiên',
  issuedAt: new Date('2026-11-23T01:05:00Z'),
  insurance: 'Có BHYT – đúng tuyến',
  patientName: 'Nguyễn Thị Ánh Tuyết',
  idLast4: '0001',
};
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const commands = (bytes: Uint8Array): EscPos[] => new EscPosReader().push(bytes);
/** What a printer would print, as text (code-page text mode only). */
const printedText = (bytes: Uint8Array): string => {
  const paper = new Paper(576);
  let out = '';
  for (const c of commands(bytes)) {
    const sheet = paper.apply(c);
    if (sheet) out += sheetText(sheet);
  }
  return out;
};

test('layout: every field a patient and the staff need, in the hospital time zone, ID masked', (t) => {
  const blocks = layoutTicket(ticket, tpl);
  const texts = blocks.flatMap((b) => (b.kind === 'text' ? [b.text] : []));
  t.like(
    blocks.find((b) => b.kind === 'text' && b.text === 'A-042'),
    { style: 'number' },
  );
  t.true(texts.includes('ƯU TIÊN – Ưu tiên'));
  t.true(texts.includes('Khoa Khám bệnh'));
  t.true(texts.includes('Phòng 105 – Tầng 1'));
  t.true(texts.includes('Họ tên: Nguyễn Thị Ánh Tuyết'));
  t.true(texts.includes('CCCD: ********0001'));
  t.true(texts.includes('Thời gian: 23/11/2026 08:05'));
  t.deepEqual(
    blocks.filter((b) => b.kind === 'qr'),
    [{ kind: 'qr', data: 'T-0001' }],
  );
  // No priority, no name when the hospital turns names off, never a full ID.
  const plain = layoutTicket({ ...ticket, priority: null, idLast4: '001190005678' }, { ...tpl, showName: false });
  const plainTexts = plain.flatMap((b) => (b.kind === 'text' ? [b.text] : []));
  t.false(plainTexts.some((x) => x.includes('ƯU TIÊN') || x.includes('Nguyễn') || x.includes('00119')));
  t.true(plainTexts.includes('CCCD: ********5678'));
});

test('printable(): control bytes, bidi overrides and zero-width characters never reach the printer', (t) => {
  t.is(printable('An\x1bd\x05\x1dV\x00B\u202eC\u200bD\r\nE'), 'An d V B C D E');
  t.is(printable('Nguyễn'.normalize('NFD')), 'Nguyễn');
  t.is(printable(null), '');
  t.is(printable('x'.repeat(500)).length, 120);
});

test('cp1258: the Vietnamese sample strings survive a printer round trip intact', (t) => {
  for (const s of ['Nguyễn Thị Ánh Tuyết', 'Khoa Khám bệnh', 'Phòng 105 – Tầng 1', 'Ưu tiên', 'ỳ ỷ ỹ ỵ Ữ Ự Ợ Ở Đ đ', 'Trần Văn Đức']) {
    t.is(new TextDecoder('windows-1258').decode(encodeCp1258(s)).normalize('NFC'), s);
  }
  const text = printedText(encodeTicket(layoutTicket(ticket, tpl), { model: 'epson-tm-t20iii', paperMm: 80, text: 'cp1258' }, renderer));
  for (const s of [
    'BỆNH VIỆN ĐA KHOA TỈNH',
    'A-042',
    'Khoa Khám bệnh',
    'Phòng 105 – Tầng 1',
    'ƯU TIÊN – Ưu tiên',
    'Họ tên: Nguyễn Thị Ánh Tuyết',
    'CCCD: ********0001',
    'BHYT: Có BHYT – đúng tuyến',
    '[QR: T-0001]',
  ]) {
    t.true(text.includes(s), `"${s}" not printed; got:\n${text}`);
  }
  t.false(text.includes('?'));
});

function encodeCp1258(s: string): Uint8Array {
  // Through the real encoder, one line, and back out of the ESC/POS stream.
  const bytes = encodeTicket(
    [{ kind: 'text', text: s, style: 'body', align: 'left' }],
    { model: 'epson-tm-t20iii', paperMm: 80, text: 'cp1258' },
    renderer,
  );
  return Buffer.concat(commands(bytes).flatMap((c) => (c.kind === 'text' ? [c.bytes] : [])));
}

test('golden bytes: the cp1258 ticket for an Epson TM-T20III is byte for byte what it was', (t) => {
  const bytes = encodeTicket(layoutTicket(ticket, tpl), { model: 'epson-tm-t20iii', paperMm: 80, text: 'cp1258' }, renderer);
  const fixture = new URL('../fixtures/ticket-cp1258-80.hex', import.meta.url);
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(fixture, hex(bytes).replace(/(.{64})/g, '$1\n') + '\n');
  t.is(hex(bytes), readFileSync(fixture, 'utf8').replace(/\s+/g, ''));
  // The landmarks deps.md checked by hand: init, ESC t 52 (WPC1258), "Họ tên:" as o + combining dot below, QR, cut.
  t.is(hex(bytes.subarray(0, 2)), '1b40');
  t.true(hex(bytes).includes('1b7434'));
  t.true(hex(bytes).includes('486ff22074ea6e3a'));
  t.true(hex(bytes).includes('1d286b'));
  t.regex(hex(bytes), /1d56(00|01|41..|42..)(0a0d)*$/);
});

test('golden bytes: the raster ticket is byte for byte what it was, and is pictures + a native QR + a cut', (t) => {
  const bytes = encodeTicket(layoutTicket(ticket, tpl), { model: 'epson-tm-t20iii', paperMm: 80, text: 'raster' }, renderer);
  const fixture = new URL('../fixtures/ticket-raster-80.sha256', import.meta.url);
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(fixture, createHash('sha256').update(bytes).digest('hex') + '\n');
  t.is(
    createHash('sha256').update(bytes).digest('hex'),
    readFileSync(fixture, 'utf8').trim(),
    'the rendered ticket changed; look at it (hw-sim print-sample) before updating the fixture',
  );
  const cmds = commands(bytes);
  const rasters = cmds.filter((c): c is Extract<EscPos, { kind: 'raster' }> => c.kind === 'raster');
  t.true(rasters.length >= 2);
  t.true(rasters.every((r) => r.widthBytes === 72 && r.height <= 256));
  t.is(cmds.filter((c) => c.kind === 'qr-print').length, 1);
  t.is(cmds.filter((c) => c.kind === 'cut').length, 1);
  t.false(
    cmds.some((c) => c.kind === 'text'),
    'no code-page text at all in raster mode',
  );
  t.true(bytes.length > 20_000 && bytes.length < 120_000, `${bytes.length} bytes`);
});

test('58 mm paper: 384-dot pictures, and text mode fits 32 columns', (t) => {
  const raster = commands(
    encodeTicket(layoutTicket(ticket, { ...tpl, paperMm: 58 }), { model: 'epson-tm-t20iii', paperMm: 58, text: 'raster' }, renderer),
  );
  t.true(raster.filter((c) => c.kind === 'raster').every((c) => c.kind === 'raster' && c.widthBytes === 48));
  const text = printedText(
    encodeTicket(layoutTicket(ticket, { ...tpl, paperMm: 58 }), { model: 'epson-tm-t20iii', paperMm: 58, text: 'cp1258' }, renderer),
  );
  t.true(
    text.split('\n').every((l) => [...l].length <= 32 || l.startsWith('[QR')),
    text,
  );
});

const HOSTILE = [
  '\x1b@',
  '\x1bp\x00\x19\xfa',
  '\x1dV\x00',
  '\x10\x04\x01',
  '\x1d(k\x03\x001Q0',
  '\x00',
  '\r\n',
  '\u202e',
  '\u200b',
  '\x7f',
  '\x9b',
  '\x1d!\x77',
  '\x1bt\x00',
];
function hostile(r: () => number): string {
  let s = '';
  const n = Math.floor(r() * 12);
  for (let i = 0; i < n; i++) {
    const k = r();
    s += k < 0.4 ? HOSTILE[Math.floor(r() * HOSTILE.length)] : k < 0.7 ? String.fromCharCode(Math.floor(r() * 0x250)) : 'Nguyễn Ữ ';
  }
  return s;
}

test('injection fuzz: hostile text in every field never adds a printer command (2,000 text-mode and 20 raster tickets)', (t) => {
  const r = rng(4);
  // Every command the template itself emits (a full ticket, both modes): hostile text may only
  // ever produce these, and init, QR and cut exactly once. An injected GS ! (size 8×8), ESC t 0,
  // ESC @, a drawer pulse or a second cut would not be in this set or would break the counts.
  const signature = (c: EscPos): string => (c.kind === 'text' || c.kind === 'raster' || c.kind === 'qr-store' ? c.kind : JSON.stringify(c));
  const allowed = new Set(
    (['cp1258', 'raster'] as const).flatMap((text) =>
      commands(encodeTicket(layoutTicket(ticket, { ...tpl, subtitle: 'x' }), { model: 'epson-tm-t20iii', paperMm: 80, text }, renderer)).map(
        signature,
      ),
    ),
  );
  for (let i = 0; i < 2020; i++) {
    const f = Array.from({ length: 10 }, () => hostile(r));
    const evil: Ticket = {
      ticketId: f[0]!,
      number: f[1]!,
      department: f[2]!,
      room: f[3]!,
      priority: r() < 0.5 ? f[4]! : null,
      issuedAt: new Date(1_790_000_000_000 + Math.floor(r() * 1e10)),
      insurance: f[5]!,
      patientName: f[6]!,
      idLast4: f[7]!,
    };
    const mode = i < 2000 ? 'cp1258' : 'raster';
    const cmds = commands(
      encodeTicket(layoutTicket(evil, { ...tpl, hospital: f[8]!, footer: f[9]! }), { model: 'epson-tm-t20iii', paperMm: 80, text: mode }, renderer),
    );
    const foreign = cmds.find((c) => !allowed.has(signature(c)));
    const count = (k: string) => cmds.filter((c) => c.kind === k).length;
    if (foreign || count('init') !== 1 || count('cut') !== 1 || count('qr-print') !== 1) {
      t.fail(
        `ticket ${i} (${mode}): ${foreign ? `a command the template never sends: ${signature(foreign)}` : `init ${count('init')}, cut ${count('cut')}, QR ${count('qr-print')}`}`,
      );
      return;
    }
  }
  t.pass(); // all 2,020 tickets held the checks above
});

test('a long queue number is shrunk onto one line, never wrapped, on 80 and 58 mm', (t) => {
  for (const paperMm of [80, 58] as const) {
    for (const number of ['A-0123', 'KB-0123', 'B-1024']) {
      const pic = renderer.render([{ kind: 'text', text: number, style: 'number', align: 'center' }], paperMm);
      t.true(pic.height <= Math.ceil(150 * 1.3) + 8, `${number} on ${paperMm} mm took ${pic.height} dots: wrapped`);
      let left = pic.width;
      let right = -1;
      for (let i = 0; i < pic.width * pic.height; i++) {
        if (pic.data[i * 4]! < 128) {
          left = Math.min(left, i % pic.width);
          right = Math.max(right, i % pic.width);
        }
      }
      t.true(
        left > 0 && right < pic.width - 1 && right - left > pic.width / 2,
        `${number} on ${paperMm} mm: ink from ${left} to ${right} of ${pic.width}`,
      );
    }
  }
});

test('a test ticket cannot pass for a queue ticket: "not valid" bars top and bottom, no priority bar, no QR code, no "wait for your number"', (t) => {
  // Even a caller that hands in a priority gets none printed on a test ticket.
  const blocks = layoutTicket({ ...ticket, number: 'TEST-1A2B', test: true }, tpl);
  const first = blocks[0];
  const last = blocks.at(-1);
  t.like(first, { kind: 'text', style: 'bar', text: TEST_TICKET_BAR });
  t.like(last, { kind: 'text', style: 'bar', text: TEST_TICKET_BAR });
  t.false(
    blocks.some((b) => b.kind === 'qr'),
    'no QR code a caller could scan',
  );
  t.false(blocks.some((b) => b.kind === 'text' && (b.style === 'priority' || b.text === 'SỐ THỨ TỰ' || b.text.includes('chờ gọi số'))));
  t.true(
    blocks.some((b) => b.kind === 'text' && b.style === 'small' && b.text === TEST_TICKET_BAR),
    'said in plain print too',
  );
  // A queue ticket keeps its QR code, priority bar and footer.
  const real = layoutTicket(ticket, tpl);
  t.true(real.some((b) => b.kind === 'qr') && real.some((b) => b.kind === 'text' && b.style === 'priority'));
  t.false(real.some((b) => b.kind === 'text' && b.style === 'bar'));
});

test('a test ticket in code-page text mode prints its bars inverse, padded across the paper', (t) => {
  const bytes = encodeTicket(
    layoutTicket({ ...ticket, number: 'TEST-1A2B', test: true }, tpl),
    { model: 'epson-tm-t20iii', paperMm: 80, text: 'cp1258' },
    renderer,
  );
  const text = printedText(bytes);
  t.is(text.split('KHÔNG CÓ GIÁ TRỊ').length - 1, 3, text);
  t.regex(text, /TEST-1A2B/);
  t.false(
    commands(bytes).some((c) => c.kind === 'qr-store' || c.kind === 'qr-print'),
    'no QR code',
  );
  // Inverse on (GS B 1) once before each bar.
  t.is(commands(bytes).filter((c) => c.kind === 'invert' && c.on).length, 2);
});
