/**
 * The parameter schemas hw-sim's control actions are made of. The scenario file format
 * (hw-sim/scenario/schema.ts) builds its device steps from these too, so a fault has one
 * spelling wherever it is named.
 */
import { z } from 'zod';
import { CHIP_FAULTS } from '../chip/chip-faults.js';
import { SAMPLE_IDENTITIES } from '../identities.js';

const N = SAMPLE_IDENTITIES.length;

/** A sample identity, 1-based (hw-sim/identities.ts). */
export const sampleNumber = z.int().min(1, `sample identities are 1–${N}`).max(N, `sample identities are 1–${N}`);

/** YAML reads an unquoted 010 as the number 10: take it back as the three-digit code it was. */
export const code3 = z.union(
  [
    z.string().regex(/^\d{3}$/),
    z
      .int()
      .min(0)
      .max(999)
      .transform((n) => String(n).padStart(3, '0')),
  ],
  { error: 'a three-digit result code such as "000" or "010"' },
);

export const faceWho = z.union([sampleNumber, z.enum(['stranger', 'empty'])], { error: `a sample identity 1–${N}, stranger or empty` });
export type FaceWho = z.output<typeof faceWho>;

export const scanForm = z.enum(['7-field', '6-field']);
export const button = z.enum(['consent-yes', 'consent-no', 'help']);
export const cameraMode = z.enum(['fail', 'hang', 'garbage', 'ok']);
export const paperLevel = z.enum(['ok', 'near-end', 'out']);
export const bhytFault = z.enum(['none', 'down', 'slow', 'http-500', 'expire-token', 'malformed-json']);
export const identityFault = z.enum(['none', 'down', 'slow', 'http-500']);
export const hexBytes = z.string().regex(/^\s*([0-9a-fA-F]{2}\s*)+$/, 'hex bytes such as "0d 0a"');

/** The virtual printer's fault knobs (hw-sim/devices/printer.ts PrinterFaults). */
export const printerFaultFields = {
  paperOutAfterBytes: z.int().min(0),
  drainBytesPerSec: z.int().min(1),
  disconnectAfterBytes: z.int().min(0),
} as const;

/** The virtual camera's stream knobs (hw-sim/bin/camera-model.d.mts StreamSettings). */
export const cameraStreamFields = {
  startupMs: z.int().min(0).max(60_000),
  darkFrames: z.int().min(0).max(1000),
  motionPx: z.int().min(0).max(64),
  blurChance: z.number().min(0).max(1),
  dropChance: z.number().min(0).max(1),
  /** null (or "never" on the console): the stream does not die. */
  dieAfterFrames: z.preprocess((v) => (v === 'never' || v === 'null' ? null : v), z.int().min(0).nullable()),
  busy: z.boolean(),
} as const;

/** The virtual chip's faults (hw-sim/chip/sim-chip.ts). */
export const chipFault = z.enum(CHIP_FAULTS);
/** How late a slow chip answers each command. */
export const chipDelayMs = z.int().min(0).max(10_000);
