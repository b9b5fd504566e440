import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { hn212ConfigSchema } from '../../hal/chip/hn212-config.js';
import { chipReaderConfigSchema } from '../../hal/chip/port.js';
import { durationMs } from './common.js';

/** `chip`: reading the CCCD's chip (docs chip.md) for the reference portrait; off by default. */

export const portraitSources = ['chip', 'identity'] as const;
export type PortraitSource = (typeof portraitSources)[number];

export const chipSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        'read the chip of the citizen ID card after the QR scan (driver pcsc: needs pcscd, a contactless reader and the smartcard module; driver hn212: the HN-212 service)',
      ),
    driver: z
      .enum(['pcsc', 'hn212'])
      .default('pcsc')
      .describe(
        'pcsc: the kiosk reads the chip itself through a PC/SC reader (chip.reader); hn212: an HN-212 reader whose vendor service reads it (chip.hn212), only its raw groups are used and checked against the SOD',
      ),
    reader: chipReaderConfigSchema.prefault({}).describe('which PC/SC reader to use (driver pcsc; unused with hn212)'),
    hn212: hn212ConfigSchema.prefault({}).describe("the HN-212 reader's service (driver hn212; unused with pcsc)"),
    placeTimeoutMs: durationMs(1000, 120_000)
      .default(10_000)
      .describe('how long the kiosk waits for the card to be placed on the reader after the QR scan (and again after it was pulled away)'),
    readTimeoutMs: durationMs(1000, 120_000).default(20_000).describe('longest one whole read of the chip may take (PACE and every data group)'),
    retries: z
      .number()
      .int()
      .min(0)
      .max(5)
      .default(2)
      .describe('card pulled away mid-read: the patient is asked to hold it still and it is read again this many times, then the counter'),
    trustAnchorsDir: z
      .string()
      .max(4096)
      .default('')
      .refine((s) => s === '' || isAbsolute(s), 'must be an absolute path (or empty)')
      .describe(
        'directory of CSCA certificates (DER .cer/.der or PEM .pem/.crt) the chip data signer must be issued by for "chain-ok"; empty: none, so a chip is at best "hashes-ok"',
      ),
    portraitSources: z
      .array(z.enum(portraitSources))
      .min(1)
      .max(portraitSources.length)
      .default(['chip', 'identity'])
      .refine((a) => new Set(a).size === a.length, 'must not name a source twice')
      .describe('where the reference portrait comes from, tried in this order; after the last, checkin.noPortrait decides'),
  })
  .prefault({});

export type ChipConfig = z.output<typeof chipSchema>;

/**
 * The longest a chip read can take from the QR scan to its outcome: every attempt waits for the
 * card and reads it. The portrait step's time limit grows by this much when the chip is a source.
 */
export function chipBudgetMs(c: Pick<ChipConfig, 'placeTimeoutMs' | 'readTimeoutMs' | 'retries'>): number {
  return (c.retries + 1) * (c.placeTimeoutMs + c.readTimeoutMs);
}
