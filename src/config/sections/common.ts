import { z } from 'zod';

/** Pieces several sections share. */

/** A device id becomes an MQTT topic level, so wildcards and separators are refused. */
export const deviceIdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .refine((s) => !/[+#/]/.test(s), 'must not contain MQTT wildcards or separators (+ # /)')
  .refine((s) => !/[\s\p{Cc}]/u.test(s), 'must not contain spaces or control characters');

/** Whole milliseconds between min and max. */
export const durationMs = (min: number, max: number) => z.number().int().min(min).max(max);

/** Drivers a port can use. Only what is built is listed; later issues add serial, escpos, rpicam … */
export const absentOnly = z.strictObject({
  driver: z.literal('none').default('none').describe('"none": the port is not built or not fitted; it reports "absent"'),
});
