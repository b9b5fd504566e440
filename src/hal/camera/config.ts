import { z } from 'zod';
import { absentOnly } from '../../config/sections/common.js';

/**
 * Options that would make rpicam-still write the picture somewhere else than our pipe (a file
 * on disk, a DNG, a "latest" link) or wait for a key press. Patient photos must stay in memory.
 */
const FORBIDDEN_EXTRA =
  /^(-o|-e|-r|-k|-s|-c|--(output|encoding|raw|latest|keypress|signal|timelapse|datetime|timestamp|codec|segment|split|circular|save-pts|listen|initial|pause|framerate))(=|$)/;

const program = z
  .string()
  .min(1)
  .refine((s) => s.startsWith('/') || !s.includes('/'), 'must be an absolute path or a bare program name looked up on PATH');

export const cameraConfigSchema = z
  .discriminatedUnion('driver', [
    absentOnly.extend({ driver: z.literal('none').describe('"none": no camera fitted; the port reports "absent"') }),
    z.strictObject({
      driver: z.literal('rpicam').describe('Raspberry Pi camera: a video stream per check-in (rpicam-vid), or one still per capture (rpicam-still)'),
      mode: z
        .enum(['stream', 'still'])
        .default('stream')
        .describe(
          'stream: rpicam-vid runs while a check-in is open and each capture is a short burst of raw frames (falls back to still when no video program is installed); still: one rpicam-still picture per capture',
        ),
      command: program.optional().describe('program that takes a still; default: rpicam-still, or libcamera-still on older Raspberry Pi OS'),
      videoCommand: program.optional().describe('program that streams video; default: rpicam-vid, or libcamera-vid on older Raspberry Pi OS'),
      framerate: z
        .number()
        .int()
        .min(2)
        .max(30)
        .default(10)
        .describe('stream frames per second (a modest rate: frames are only looked at during a capture)'),
      burst: z.number().int().min(1).max(8).default(3).describe('exposed frames per capture from the stream; the face engine compares the best one'),
      warmUp: z
        .enum(['card-read', 'consent'])
        .default('card-read')
        .describe(
          'when the stream starts: card-read (exposure settles while the patient answers the consent question; until then frames are only measured for brightness and overwritten) or consent (only after the patient said yes)',
        ),
      width: z
        .number()
        .int()
        .min(64)
        .max(4608)
        .multipleOf(2)
        .default(1280)
        .describe('picture width in pixels (even; a multiple of 64 avoids row padding in raw frames)'),
      height: z.number().int().min(64).max(3496).multipleOf(2).default(960).describe('picture height in pixels (even)'),
      timeoutMs: z
        .number()
        .int()
        .min(200)
        .max(30_000)
        .default(3000)
        .describe(
          'longest one capture may take, in milliseconds (a still, or a burst including the stream starting and exposure settling); after that the capture fails',
        ),
      quality: z.number().int().min(1).max(100).default(90).describe('JPEG quality of a still, 1 (smallest file) to 100 (best picture)'),
      extraArgs: z
        .array(z.string().min(1))
        .default([])
        .refine(
          (args) => !args.some((a) => FORBIDDEN_EXTRA.test(a)),
          'must not change where or how the picture is saved (-o, -e, --raw, --latest …): pictures never go to disk',
        )
        .describe('more rpicam-still / rpicam-vid options, one per item, e.g. ["--rotation", "180"] for a camera mounted upside down'),
    }),
  ])
  .prefault({ driver: 'none' });

export type CameraConfig = z.output<typeof cameraConfigSchema>;
export type RpicamConfig = Extract<CameraConfig, { driver: 'rpicam' }>;
