import { z } from 'zod';
import { absentOnly, durationMs } from './common.js';

/** `hal.card`: the card scanner. */
const scanFraming = {
  framing: z
    .enum(['any', 'cr', 'lf', 'crlf', 'idle'])
    .default('any')
    .describe('what ends a scan: CR, LF, CRLF, any of them, or only a pause (scanners with no suffix)'),
  idleGapMs: durationMs(20, 5000).default(200).describe('a pause this long also ends a scan (for scanners that send no terminator)'),
  duplicateWindowSec: z.number().min(0).max(600).default(5).describe('the same card scanned again within this many seconds counts once'),
};

export const cardSchema = z
  .discriminatedUnion('driver', [
    absentOnly.extend({ driver: z.literal('none') }),
    z.strictObject({
      driver: z.literal('serial').describe('USB-CDC ("USB COM") scanner, or tcp://host:port'),
      path: z.string().min(1).describe('/dev/serial/by-id/…, /dev/kiosk-scanner, or tcp://host:port'),
      baudRate: z.number().int().min(1200).max(921_600).default(9600).describe('deployed CCCD readers use 9600, 14400 or 115200'),
      ...scanFraming,
      reconnectBaseMs: durationMs(50, 60_000).default(500),
      reconnectMaxMs: durationMs(100, 600_000).default(10_000),
    }),
    z.strictObject({
      driver: z.literal('hid').describe('USB HID scanner (needs the optional node-hid module and libusb)'),
      vendorId: z.number().int().min(0).max(0xffff),
      productId: z.number().int().min(0).max(0xffff),
      mode: z.enum(['hid-pos', 'keyboard']).default('hid-pos').describe('HID-POS reports, or keyboard emulation (cannot carry Vietnamese letters)'),
      ...scanFraming,
    }),
  ])
  .prefault({ driver: 'none' });

export type CardConfig = z.output<typeof cardSchema>;
