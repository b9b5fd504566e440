import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { acceptRate, thresholdAtFar } from './evaluate.js';

/**
 * Every recogniser carries its own calibration, keyed by the sha256 of its model file: a
 * threshold fitted for one model is never applied to another (a different model's distances
 * mean something else). Calibration files live in the repository even for models that cannot
 * be shipped, and an operator can fit their own (`kioskd calibrate`).
 */
export const calibrationSchema = z.strictObject({
  schema: z.literal(1),
  model: z.string().describe('human name of the recogniser'),
  model_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  metric: z.enum(['l2', 'cosine']),
  threshold: z.number().describe('l2: same person below it; cosine: same person above it'),
  target_far: z.number().positive().max(0.5),
  fitted_on: z.array(z.strictObject({ data: z.string(), images: z.number().int(), missed_faces: z.number().int() })),
  pairs: z.strictObject({ genuine: z.number().int(), impostor: z.number().int() }),
  measured: z.strictObject({
    far: z.number(),
    tar: z.number().describe('missed faces counted as rejects'),
    far_by_set: z
      .record(z.string(), z.strictObject({ far: z.number(), pairs: z.number().int() }))
      .optional()
      .describe('impostor pairs within each data folder'),
    far_by_group: z
      .record(z.string(), z.strictObject({ far: z.number(), pairs: z.number().int() }))
      .optional()
      .describe('impostor pairs within each group of the --groups CSV'),
  }),
  created: z.string(),
  fit: z.string().optional().describe('which pairs set the threshold (all, or the strictest population)'),
  note: z.string().optional(),
});
export type Calibration = z.output<typeof calibrationSchema>;

/** The shipped calibrations, and any in `extraDir` (an operator's own). */
export function findCalibration(modelSha256: string, extraDir?: string): Calibration {
  const dirs = [new URL('./calibrations/', import.meta.url).pathname, ...(extraDir ? [extraDir] : [])];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
      const c = calibrationSchema.safeParse(JSON.parse(readFileSync(join(dir, f), 'utf8')));
      if (c.success && c.data.model_sha256 === modelSha256) return c.data;
    }
  }
  throw new Error(`no calibration for the recogniser with sha256 ${modelSha256}: fit one with "kioskd calibrate" on consented, labelled photos`);
}

export type FitResult =
  | { readonly ok: true; readonly threshold: number; readonly far: number; readonly tar: number; readonly limitedBy: string }
  | { readonly ok: false; readonly reason: string };

/**
 * The distance threshold that accepts at most `targetFar` of the impostor pairs, over all of
 * them and within every population (`sets`: a data folder, say East-Asian faces) that has enough
 * pairs to measure it: a FAR met on average but four times over for one population is not met
 * for those patients (faceid-baseline.md round 3). Refuses when there are too few impostor
 * pairs to tell a FAR that small apart from zero: with N pairs the smallest FAR one can measure
 * is about 10/N (ten false accepts), so N must be ≥ 10/targetFar. Genuine pairs with a missed
 * face are passed as Infinity and count as rejects.
 */
export function fitThreshold(
  genuine: readonly number[],
  impostor: readonly number[],
  targetFar: number,
  sets: ReadonlyMap<string, readonly number[]> = new Map(),
): FitResult {
  const need = Math.ceil(10 / targetFar);
  if (impostor.length < need) {
    return {
      ok: false,
      reason: `${impostor.length} impostor pairs cannot resolve a FAR of ${targetFar}: at least ${need} are needed (more identities, or a larger FAR)`,
    };
  }
  if (genuine.length < 20)
    return { ok: false, reason: `${genuine.length} genuine pairs are too few to say how many patients would be accepted: at least 20 are needed` };
  let threshold = thresholdAtFar(impostor, targetFar);
  let limitedBy = 'all impostor pairs';
  for (const [name, xs] of sets) {
    if (xs.length < need) continue; // too few to measure; reported, not fitted
    const t = thresholdAtFar(xs, targetFar);
    if (t < threshold) {
      threshold = t;
      limitedBy = `the impostor pairs within ${name}`;
    }
  }
  return { ok: true, threshold, far: acceptRate(impostor, threshold), tar: acceptRate(genuine, threshold), limitedBy };
}
