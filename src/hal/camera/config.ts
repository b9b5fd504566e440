import { z } from 'zod';
import { absentOnly } from '../../config/sections/common.js';

/**
 * Options that would make rpicam-still write the picture somewhere else than our pipe (a file
 * on disk, a DNG, a "latest" link) or wait for a key press. Patient photos must stay in memory.
 */
const FORBIDDEN_EXTRA = /^(-o|-e|-r|-k|-s|--(output|encoding|raw|latest|keypress|signal|timelapse|datetime|timestamp))(=|$)/;

export const cameraConfigSchema = z
  .discriminatedUnion('driver', [
    absentOnly.extend({ driver: z.literal('none').describe('"none": no camera fitted; the port reports "absent"') }),
    z.strictObject({
      driver: z.literal('rpicam').describe('Raspberry Pi camera, one still per check-in taken with rpicam-still'),
      command: z
        .string()
        .min(1)
        .refine((s) => s.startsWith('/') || !s.includes('/'), 'must be an absolute path or a bare program name looked up on PATH')
        .optional()
        .describe('program that takes the picture; default: rpicam-still, or libcamera-still on older Raspberry Pi OS'),
      width: z.number().int().min(64).max(4608).default(1280).describe('picture width in pixels'),
      height: z.number().int().min(64).max(3496).default(960).describe('picture height in pixels'),
      timeoutMs: z
        .number()
        .int()
        .min(200)
        .max(30_000)
        .default(3000)
        .describe('longest one picture may take, in milliseconds; after that the camera program is stopped and the capture fails'),
      quality: z.number().int().min(1).max(100).default(90).describe('JPEG quality, 1 (smallest file) to 100 (best picture)'),
      extraArgs: z
        .array(z.string().min(1))
        .default([])
        .refine(
          (args) => !args.some((a) => FORBIDDEN_EXTRA.test(a)),
          'must not change where or how the picture is saved (-o, -e, --raw, --latest …): pictures never go to disk',
        )
        .describe('more rpicam-still options, one per item, e.g. ["--rotation", "180"] for a camera mounted upside down'),
    }),
  ])
  .prefault({ driver: 'none' });

export type CameraConfig = z.output<typeof cameraConfigSchema>;
export type RpicamConfig = Extract<CameraConfig, { driver: 'rpicam' }>;
