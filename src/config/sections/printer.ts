import { z } from 'zod';
import { absentOnly, durationMs } from './common.js';

/** `hal.printer`: the ticket printer and its model's code pages. */

/** Models whose code-page numbers the encoder knows (@point-of-sale/receipt-printer-encoder 4). */
export const printerModels = [
  'bixolon-srp350',
  'bixolon-srp350iii',
  'citizen-ct-s310ii',
  'epson-tm-m30ii',
  'epson-tm-m30iii',
  'epson-tm-p20ii',
  'epson-tm-t20ii',
  'epson-tm-t20iii',
  'epson-tm-t20iv',
  'epson-tm-t70',
  'epson-tm-t70ii',
  'epson-tm-t88ii',
  'epson-tm-t88iii',
  'epson-tm-t88iv',
  'epson-tm-t88v',
  'epson-tm-t88vi',
  'epson-tm-t88vii',
  'fujitsu-fp1000',
  'hp-a779',
  'metapace-t1',
  'mpt-ii',
  'pos-5890',
  'pos-8360',
  'sunmi-p2se',
  'sunmi-p3h',
  'sunmi-p3kh',
  'sunmi-p3mix',
  'sunmi',
  'xprinter-xp-n160ii',
  'xprinter-xp-t80q',
  'youku-58t',
] as const;

/** Models whose code-page table has WPC1258 (checked against the encoder, model by model). */
export const cp1258Models: ReadonlySet<string> = new Set([
  'bixolon-srp350iii',
  'citizen-ct-s310ii',
  'epson-tm-m30ii',
  'epson-tm-m30iii',
  'epson-tm-p20ii',
  'epson-tm-t20ii',
  'epson-tm-t20iii',
  'epson-tm-t20iv',
  'epson-tm-t70ii',
  'epson-tm-t88v',
  'epson-tm-t88vi',
  'epson-tm-t88vii',
  'pos-5890',
  'pos-8360',
  'youku-58t',
]);

const printerCommon = {
  model: z.enum(printerModels).default('epson-tm-t20iii').describe('printer model: decides the ESC t code-page numbers in text modes'),
  paperMm: z
    .union([z.literal(80), z.literal(58)])
    .default(80)
    .describe('roll width'),
  text: z
    .enum(['raster', 'cp1258'])
    .default('raster')
    .describe(
      'raster: text printed as pictures (works on every printer; the safe default); cp1258: WPC1258 code-page text, if the model has that code page',
    ),
  statusPollMs: durationMs(500, 600_000).default(5000).describe('status (DLE EOT) poll while idle'),
  statusTimeoutMs: durationMs(100, 30_000).default(1500),
  jobTimeoutMs: durationMs(1000, 300_000).default(20_000).describe('longest a ticket may take to send'),
  reconnectBaseMs: durationMs(50, 60_000).default(1000),
  reconnectMaxMs: durationMs(100, 600_000).default(15_000),
  reprintWithinSec: z
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(900)
    .describe('a ticket that failed to print is reprinted when the printer recovers within this time; after it, the number is recorded void'),
};

export const printerSchema = z
  .discriminatedUnion('driver', [
    absentOnly.extend({ driver: z.literal('none') }),
    z.strictObject({
      driver: z.literal('tcp').describe('network printer, raw TCP (port 9100), or hw-sim'),
      host: z.string().min(1),
      port: z.number().int().min(1).max(65_535).default(9100),
      ...printerCommon,
    }),
    z.strictObject({
      driver: z.literal('device').describe('USB printer through the kernel usblp driver: /dev/usb/lp0 or /dev/kiosk-printer'),
      path: z.string().min(1),
      ...printerCommon,
    }),
    z.strictObject({
      driver: z.literal('usb').describe('USB printer by id through libusb (needs the optional "usb" module); prefer "device" when usblp works'),
      vendorId: z.number().int().min(0).max(0xffff),
      productId: z.number().int().min(0).max(0xffff),
      ...printerCommon,
    }),
  ])
  .superRefine((p, ctx) => {
    if (p.driver !== 'none' && p.text === 'cp1258' && !cp1258Models.has(p.model)) {
      ctx.addIssue({
        code: 'custom',
        path: ['text'],
        message: `printer model ${p.model} has no WPC1258 code page; use text: raster (works on every printer)`,
      });
    }
  })
  .prefault({ driver: 'none' });

export type PrinterConfig = z.output<typeof printerSchema>;
