import { z } from 'zod';
import { absentOnly, durationMs } from './common.js';

/** `hal.printer`: the ticket printer and its model's code pages. */

/**
 * Models whose code-page numbers the encoder knows (@point-of-sale/receipt-printer-encoder 4),
 * each with true if its code-page table has WPC1258 (checked against the encoder, model by model).
 */
const MODELS = {
  'bixolon-srp350': false,
  'bixolon-srp350iii': true,
  'citizen-ct-s310ii': true,
  'epson-tm-m30ii': true,
  'epson-tm-m30iii': true,
  'epson-tm-p20ii': true,
  'epson-tm-t20ii': true,
  'epson-tm-t20iii': true,
  'epson-tm-t20iv': true,
  'epson-tm-t70': false,
  'epson-tm-t70ii': true,
  'epson-tm-t88ii': false,
  'epson-tm-t88iii': false,
  'epson-tm-t88iv': false,
  'epson-tm-t88v': true,
  'epson-tm-t88vi': true,
  'epson-tm-t88vii': true,
  'fujitsu-fp1000': false,
  'hp-a779': false,
  'metapace-t1': false,
  'mpt-ii': false,
  'pos-5890': true,
  'pos-8360': true,
  'sunmi-p2se': false,
  'sunmi-p3h': false,
  'sunmi-p3kh': false,
  'sunmi-p3mix': false,
  sunmi: false,
  'xprinter-xp-n160ii': false,
  'xprinter-xp-t80q': false,
  'youku-58t': true,
} as const;
type PrinterModel = keyof typeof MODELS;

export const printerModels = Object.keys(MODELS) as readonly PrinterModel[];

/** Models whose code-page table has WPC1258. */
export const cp1258Models: ReadonlySet<string> = new Set(printerModels.filter((m) => MODELS[m]));

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
