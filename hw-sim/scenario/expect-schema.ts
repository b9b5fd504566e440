/** The `expect:` items of a scenario file (hw-sim/scenarios/README.md, Expectations). */
import { z } from 'zod';
import { clean, duration, name, relay, save, shorthand, subset } from './schema-parts.js';

const MODES = ['booting', 'idle', 'in-session', 'out-of-service', 'maintenance', 'stopping'] as const;
const PORT_KINDS = ['absent', 'connecting', 'ready', 'degraded', 'faulted'] as const;
const portExpect = z.union([z.enum(PORT_KINDS).transform((kind) => ({ kind })), subset], {
  error: `a port state (${PORT_KINDS.join('|')}) or an object to match`,
});
const stateExpect = z
  .looseObject({
    mode: z.enum(MODES).optional(),
    ports: z
      .strictObject({
        card: portExpect.optional(),
        camera: portExpect.optional(),
        printer: portExpect.optional(),
        indicators: portExpect.optional(),
        storage: portExpect.optional(),
      })
      .optional(),
  })
  .transform((match) => ({ kind: 'state' as const, match: match as Record<string, unknown> }));

const mqttExpect = z
  .strictObject({
    topic: z.string().min(1),
    payload: z.unknown().optional(),
    data: subset.optional(),
    retain: z.boolean().optional(),
    count: z.int().min(0).optional(),
    absent: z.literal(true).optional(),
  })
  .refine((m) => !(m.count !== undefined && m.absent), 'count and absent exclude each other (absent is count: 0)')
  .refine((m) => !(m.payload !== undefined && m.data !== undefined), 'give payload or data (data is payload: {data: …})')
  .transform((m) => ({ kind: 'mqtt' as const, ...m }));

const ticketExpect = shorthand(
  'none',
  z
    .strictObject({
      none: z.preprocess((v) => (v === 'none' ? true : v), z.literal(true)).optional(),
      complete: z.boolean().optional(),
      // g and y would make one pattern carry its position from ticket to ticket.
      text: z
        .string()
        .refine((t) => !/^\/.+\/[a-z]*[gy][a-z]*$/s.test(t), 'drop the g and y flags: a ticket is matched as a whole')
        .optional(),
      count: z.int().min(0).optional(),
    })
    .refine((t) => !(t.none && (t.complete !== undefined || t.text !== undefined || t.count !== undefined)), 'none stands alone'),
  (v) => v === 'none',
).transform((t) => ({ kind: 'ticket' as const, ...t }));

const LAMP = z.enum(['on', 'steady', 'off', 'blink']).transform((s) => (s === 'steady' ? ('on' as const) : s));
const ledsExpect = z
  .strictObject({ ready: LAMP.optional(), busy: LAMP.optional(), error: LAMP.optional() })
  .refine((l) => Object.keys(l).length > 0, { message: 'name at least one lamp: ready, busy or error', when: clean })
  .transform((leds) => ({ kind: 'leds' as const, leds }));

const auditExpect = z
  .strictObject({
    unique_numbers: z.literal(true).optional(),
    no_personal_data: z.literal(true).optional(),
    // unknown: the daemon died while it was allocated (it may be on paper); absent: no record of that check-in any more (deleted after checkin.retentionDays).
    ticket_state: z.record(z.string(), z.enum(['allocated', 'printed', 'void', 'unknown', 'absent'])).optional(),
  })
  .refine((a) => Object.keys(a).length > 0, { message: 'say what to check: unique_numbers, no_personal_data or ticket_state', when: clean })
  .transform((a) => ({ kind: 'audit' as const, ...a }));

const callsExpect = z
  .strictObject({ camera: z.int().min(0).optional(), portrait: z.int().min(0).optional(), bhyt: z.int().min(0).optional() })
  .refine((c) => Object.keys(c).length > 0, { message: 'name at least one of camera, portrait, bhyt', when: clean })
  .transform((counts) => ({ kind: 'calls' as const, counts }));

const privacyExpect = z
  .union(
    [
      z.literal(true).transform(() => ['mqtt', 'log'] as const),
      z.enum(['mqtt', 'log']).transform((w) => [w]),
      z.array(z.enum(['mqtt', 'log'])).min(1),
    ],
    {
      error: 'true (MQTT and the daemon log), mqtt, log, or [mqtt, log]',
    },
  )
  .transform((where) => ({ kind: 'no_personal_data' as const, where: [...where] }));

const EXPECT_KINDS = {
  state: stateExpect,
  mqtt: mqttExpect,
  ticket: ticketExpect,
  leds: ledsExpect,
  audit: auditExpect,
  calls: callsExpect,
  no_personal_data: privacyExpect,
} as const;
export type ExpectKind = keyof typeof EXPECT_KINDS;
type ExpectBody = { [K in ExpectKind]: z.output<(typeof EXPECT_KINDS)[K]> }[ExpectKind];
const EXPECT_OPTIONS = ['within', 'since', 'save'] as const;
/** Kinds whose `save:` has something to pick from. */
const SAVES: readonly ExpectKind[] = ['state', 'mqtt'];
/** Kinds that look at a window (what happened since a mark); the others look at the kiosk as it is. */
export const SINCE_KINDS: readonly ExpectKind[] = ['mqtt', 'ticket', 'calls', 'no_personal_data'];
const NO_WINDOW: Partial<Record<ExpectKind, string>> = {
  state: "the kiosk's current state (or a later one)",
  leds: 'the lamps as they are (or become)',
  audit: 'the whole audit database',
};

export type Expectation = ExpectBody & {
  readonly within: number | undefined;
  readonly since: string | undefined;
  readonly save: Readonly<Record<string, string>> | undefined;
};

export const expect = z.unknown().transform((v, ctx): Expectation => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    ctx.addIssue({ code: 'custom', message: `an expectation is a mapping with one of: ${Object.keys(EXPECT_KINDS).join(', ')}` });
    return z.NEVER;
  }
  const o = v as Record<string, unknown>;
  const kinds = Object.keys(o).filter((k): k is ExpectKind => Object.hasOwn(EXPECT_KINDS, k));
  const unknown = Object.keys(o).filter((k) => !Object.hasOwn(EXPECT_KINDS, k) && !(EXPECT_OPTIONS as readonly string[]).includes(k));
  for (const k of unknown)
    ctx.addIssue({
      code: 'custom',
      path: [k],
      message: `unknown key "${k}"; an expectation has one of ${Object.keys(EXPECT_KINDS).join(', ')} and may add ${EXPECT_OPTIONS.join(', ')}`,
      params: { unknownKey: true },
    });
  if (kinds.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      message:
        kinds.length === 0
          ? `say what to expect: one of ${Object.keys(EXPECT_KINDS).join(', ')}`
          : `one expectation per item; this one has ${kinds.join(' and ')} (write them as two "- expect:" items)`,
    });
    return z.NEVER;
  }
  const kind = kinds[0]!;
  const body = EXPECT_KINDS[kind].safeParse(o[kind]);
  if (!body.success) relay(ctx, body.error.issues, [kind]);
  const within = o['within'] === undefined ? { success: true as const, data: undefined } : duration.safeParse(o['within']);
  if (!within.success) relay(ctx, within.error.issues, ['within']);
  const since = o['since'] === undefined ? { success: true as const, data: undefined } : name.safeParse(o['since']);
  if (!since.success) relay(ctx, since.error.issues, ['since']);
  const saved = o['save'] === undefined ? { success: true as const, data: undefined } : save.safeParse(o['save']);
  if (!saved.success) relay(ctx, saved.error.issues, ['save']);
  if (o['save'] !== undefined && !SAVES.includes(kind))
    ctx.addIssue({ code: 'custom', path: ['save'], message: `save works with ${SAVES.join(' and ')} expectations (and command steps), not ${kind}` });
  // A count or an absence matches no one message to save from.
  else if (o['save'] !== undefined && body.success && body.data.kind === 'mqtt' && (body.data.count !== undefined || body.data.absent)) {
    ctx.addIssue({
      code: 'custom',
      path: ['save'],
      message: `save needs one message to pick from; ${body.data.absent ? 'absent' : 'count'} matches none in particular (save from an expectation of the message itself)`,
    });
  }
  // state, leds and audit look at the kiosk as it is (or becomes): a window would be silently ignored.
  if (o['since'] !== undefined && !SINCE_KINDS.includes(kind))
    ctx.addIssue({
      code: 'custom',
      path: ['since'],
      message: `since: applies to ${SINCE_KINDS.join(', ')}; ${kind} looks at ${NO_WINDOW[kind]} (remove since:)`,
    });
  if (!body.success || !within.success || !since.success || !saved.success || unknown.length > 0) return z.NEVER;
  return { ...body.data, within: within.data, since: since.data, save: saved.data };
});
