/** Pieces the scenario file's step and expectation schemas share. */
import { z } from 'zod';
import { parseDuration } from '../duration.js';

// A bare number is refused as a duration: its unit would be a guess.
export { parseDuration };

export const duration = z.unknown().transform((v, ctx) => {
  const ms = typeof v === 'string' ? parseDuration(v) : null;
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: 'a duration with a unit: 500ms, 5s, 1.5s, 2m, 1h or 1d' });
    return z.NEVER;
  }
  return ms;
});

export const name = z.string().regex(/^[A-Za-z_]\w*$/, 'a name of letters, digits and _ (not starting with a digit)');
/** `save: {number: data.number}`: values picked from what was matched, for `${number}` later. */
export const save = z.record(name, z.string().regex(/^[\w-]+(\.[\w-]+)*$/, 'a dotted path into the payload, e.g. data.number'));
/** A subset to match: strings "/…/flags" are regular expressions, `$keys` lists an object's exact keys. */
export const subset = z.record(z.string(), z.unknown());

export const shorthand = <T extends z.ZodType>(key: string, schema: T, when: (v: unknown) => boolean = (v) => typeof v !== 'object' || v === null) =>
  z.preprocess((v) => (when(v) ? { [key]: v } : v), schema);

/** A refinement about a whole object says nothing new when its fields are wrong already. */
export const clean = (payload: { issues: readonly unknown[] }): boolean => payload.issues.length === 0;

/** Issues of a nested schema, placed under `prefix`; an unknown key is placed on the key itself. */
export function relay(ctx: z.core.$RefinementCtx, issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[]): void {
  for (const i of issues) {
    if (i.code === 'unrecognized_keys')
      for (const key of i.keys)
        ctx.addIssue({ code: 'custom', path: [...prefix, ...i.path, key], message: `unknown key "${key}"`, params: { unknownKey: true } });
    else ctx.addIssue({ code: 'custom', path: [...prefix, ...i.path], message: i.message });
  }
}
