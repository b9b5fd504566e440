/**
 * The scenario file format (documented in hw-sim/scenarios/README.md): a name, the face-model
 * switch, config overrides for the daemon, and a list of steps — actions on the virtual devices
 * and the daemon, and `expect:` items that must hold within a time limit.
 */
import { z } from 'zod';
import { LOCAL_TIME, MAX_ADVANCE_MS } from '../../src/lifecycle/sim-clock.js';
import { parseDuration } from '../duration.js';
import { SAMPLE_IDENTITIES } from '../identities.js';

const N = SAMPLE_IDENTITIES.length;

// A bare number is refused as a duration: its unit would be a guess.
export { parseDuration };

const duration = z.unknown().transform((v, ctx) => {
  const ms = typeof v === 'string' ? parseDuration(v) : null;
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: 'a duration with a unit: 500ms, 5s, 1.5s, 2m, 1h or 1d' });
    return z.NEVER;
  }
  return ms;
});

const sample = z.int().min(1, `sample identities are 1–${N}`).max(N, `sample identities are 1–${N}`);
const name = z.string().regex(/^[A-Za-z_]\w*$/, 'a name of letters, digits and _ (not starting with a digit)');
/** `save: {number: data.number}`: values picked from what was matched, for `${number}` later. */
const save = z.record(name, z.string().regex(/^[\w-]+(\.[\w-]+)*$/, 'a dotted path into the payload, e.g. data.number'));
/** A subset to match: strings "/…/flags" are regular expressions, `$keys` lists an object's exact keys. */
const subset = z.record(z.string(), z.unknown());
/** YAML reads an unquoted 010 as the number 10: take it back as the three-digit code it was. */
const code3 = z.union(
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
const shorthand = <T extends z.ZodType>(key: string, schema: T, when: (v: unknown) => boolean = (v) => typeof v !== 'object' || v === null) =>
  z.preprocess((v) => (when(v) ? { [key]: v } : v), schema);

/** A refinement about a whole object says nothing new when its fields are wrong already. */
const clean = (payload: { issues: readonly unknown[] }): boolean => payload.issues.length === 0;

/** Issues of a nested schema, placed under `prefix`; an unknown key is placed on the key itself. */
function relay(ctx: z.core.$RefinementCtx, issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[]): void {
  for (const i of issues) {
    if (i.code === 'unrecognized_keys')
      for (const key of i.keys)
        ctx.addIssue({ code: 'custom', path: [...prefix, ...i.path, key], message: `unknown key "${key}"`, params: { unknownKey: true } });
    else ctx.addIssue({ code: 'custom', path: [...prefix, ...i.path], message: i.message });
  }
}

// ---- steps -------------------------------------------------------------------------------

const scan = shorthand(
  'identity',
  z
    .strictObject({
      identity: sample.optional(),
      form: z.enum(['7-field', '6-field']).optional(),
      text: z.string().optional(),
      hex: z
        .string()
        .regex(/^\s*([0-9a-fA-F]{2}\s*)+$/, 'hex bytes such as "0d 0a"')
        .optional(),
      terminator: z.string().optional(),
    })
    .refine((s) => [s.identity, s.text, s.hex].filter((x) => x !== undefined).length === 1, 'say what to scan: one of identity (1–5), text or hex'),
).transform((s) => ({ kind: 'scan' as const, ...s }));

const face = z
  .union([sample, z.enum(['stranger', 'empty'])], { error: `a sample identity 1–${N}, stranger or empty` })
  .transform((who) => ({ kind: 'face' as const, who }));

const camera = z.enum(['fail', 'hang', 'garbage', 'ok']).transform((mode) => ({ kind: 'camera' as const, mode }));

const BUTTON_ALIASES: Record<string, 'consent-yes' | 'consent-no' | 'help'> = {
  yes: 'consent-yes',
  no: 'consent-no',
  'consent-yes': 'consent-yes',
  'consent-no': 'consent-no',
  help: 'help',
};
const press = z.enum(['consent-yes', 'consent-no', 'help', 'yes', 'no']).transform((b) => ({ kind: 'press' as const, button: BUTTON_ALIASES[b]! }));

const paper = z
  .enum(['out', 'low', 'near-end', 'ok'])
  .transform((level) => ({ kind: 'paper' as const, level: level === 'low' ? ('near-end' as const) : level }));

const printer = z
  .preprocess(
    (v) => (v === 'ok' ? { ok: true } : v === 'off' || v === 'on' ? { power: v } : v),
    z
      .strictObject(
        {
          ok: z.literal(true).optional(),
          paper_out_after_bytes: z.int().min(0).optional(),
          drain_bytes_per_sec: z.int().min(1).optional(),
          disconnect_after_bytes: z.int().min(0).optional(),
          cover: z.enum(['open', 'closed']).optional(),
          power: z.enum(['on', 'off']).optional(),
        },
        { error: 'ok, off, on, or faults: {paper_out_after_bytes, drain_bytes_per_sec, disconnect_after_bytes, cover, power}' },
      )
      .refine((p) => Object.keys(p).length > 0, {
        message: 'say what to change: ok, or one of paper_out_after_bytes, drain_bytes_per_sec, disconnect_after_bytes, cover, power',
        when: clean,
      }),
  )
  .transform((p) => ({ kind: 'printer' as const, ...p }));

const scanner = z.enum(['unplug', 'plug']).transform((action) => ({ kind: 'scanner' as const, action }));

const broker = z.enum(['stop', 'start']).transform((action) => ({ kind: 'broker' as const, action }));

const BHYT_FAULTS = ['none', 'up', 'down', 'slow', '500', 'expire-token', 'malformed-json'] as const;
const bhyt = shorthand(
  'fault',
  z
    .strictObject({
      identity: sample.optional(),
      result: code3.optional(),
      fault: z.preprocess((v) => (v === 500 ? '500' : v), z.enum(BHYT_FAULTS)).optional(),
      delay: duration.optional(),
    })
    .refine((b) => (b.identity === undefined) === (b.result === undefined), 'identity and result go together: {identity: 2, result: "010"}')
    .refine((b) => (b.identity !== undefined) !== (b.fault !== undefined), 'either a result for a card ({identity, result}) or a fault'),
).transform((b) => ({ kind: 'bhyt' as const, ...b }));

const portrait = z
  .strictObject({
    withhold: sample.optional(),
    restore: sample.optional(),
    fault: z.preprocess((v) => (v === 500 ? '500' : v), z.enum(['none', 'down', 'slow', '500'])).optional(),
  })
  .refine((p) => [p.withhold, p.restore, p.fault].filter((x) => x !== undefined).length === 1, 'one of withhold: N, restore: N or fault')
  .transform((p) => ({ kind: 'portrait' as const, ...p }));

const command = shorthand(
  'name',
  z.strictObject({
    name: z.string().regex(/^[\w.-]+$/, 'a command name such as reconcile or print-test'),
    args: z.record(z.string(), z.unknown()).optional(),
    status: z.enum(['ok', 'error']).optional(),
    data: z.unknown().optional(),
    /** The refusal's text: equal, or a /pattern/. */
    error: z.string().optional(),
    within: duration.optional(),
    save: save.optional(),
  }),
).transform((c) => ({ kind: 'command' as const, ...c }));

const wait = duration.transform((ms) => ({ kind: 'wait' as const, ms }));

/** Moves kioskd's clock forward, by at most a year: a slip of the unit cannot send it decades ahead. */
const advanceTo = z
  .strictObject({ to: z.string().regex(LOCAL_TIME, 'a local time HH:MM such as "06:00" (quote it)') })
  .transform((a) => ({ kind: 'advance' as const, toLocal: a.to }));
const advanceBy = duration
  .pipe(z.number().min(1, 'advance by at least 1ms').max(MAX_ADVANCE_MS, 'advance by at most 366d'))
  .transform((ms) => ({ kind: 'advance' as const, ms }));
// By the value's shape, so each form says what is wrong with it rather than a union's "neither".
const advance = z.unknown().transform((v, ctx) => {
  const r = (typeof v === 'object' && v !== null ? advanceTo : advanceBy).safeParse(v);
  if (r.success) return r.data;
  for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path as PropertyKey[] });
  return z.NEVER;
});

const killDaemon = z
  .union([z.null(), z.literal(true), z.enum(['SIGKILL', 'SIGTERM', 'SIGINT'])], { error: 'SIGKILL (the default), SIGTERM or SIGINT' })
  .transform((s) => ({ kind: 'kill_daemon' as const, signal: typeof s === 'string' ? s : ('SIGKILL' as const) }));

/** `- restart_daemon`, or `restart_daemon: {clock_back: 1d}`: kioskd comes back with its clock that much earlier (a dead RTC, NTP stepping back). */
const restartDaemon = z
  .union(
    [
      z.null(),
      z.literal(true),
      z.strictObject({ clock_back: duration.pipe(z.number().min(1, 'clock_back: at least 1ms').max(MAX_ADVANCE_MS, 'clock_back: at most 366d')) }),
    ],
    {
      error: 'takes no value ("- restart_daemon"), or {clock_back: 1d}',
    },
  )
  .transform((v) => ({ kind: 'restart_daemon' as const, ...(v !== null && v !== true ? { clockBackMs: v.clock_back } : {}) }));

/**
 * The state directory's disk: `disk: {fill_to_mb: 0.3}` fills it until that much is free,
 * `disk: clear` frees it again. A file with a disk step runs on a kiosk of its own whose state
 * directory is a small tmpfs (hw-sim must run as root to mount it).
 */
const disk = z
  .union([z.literal('clear'), z.strictObject({ fill_to_mb: z.number().min(0).max(64) })], { error: 'clear, or {fill_to_mb: MB left free}' })
  .transform((d) => ({ kind: 'disk' as const, ...(d === 'clear' ? {} : { fillToMb: d.fill_to_mb }) }));

const mark = name.transform((label) => ({ kind: 'mark' as const, label }));

// ---- expectations ------------------------------------------------------------------------

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

const expect = z.unknown().transform((v, ctx): Expectation => {
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

// ---- the file ----------------------------------------------------------------------------

const STEP_KINDS = {
  scan,
  face,
  camera,
  press,
  paper,
  printer,
  scanner,
  broker,
  bhyt,
  portrait,
  command,
  wait,
  advance,
  disk,
  kill_daemon: killDaemon,
  restart_daemon: restartDaemon,
  mark,
} as const;
export type StepKind = keyof typeof STEP_KINDS | 'expect';
/** Steps that may be written as a bare word: `- kill_daemon`. */
const BARE: readonly string[] = ['kill_daemon', 'restart_daemon'];

export type Action = { [K in keyof typeof STEP_KINDS]: z.output<(typeof STEP_KINDS)[K]> }[keyof typeof STEP_KINDS];
export type Step = Action | { readonly kind: 'expect'; readonly expect: Expectation };

const stepItem = z.unknown().transform((v, ctx): Step => {
  const kinds = [...Object.keys(STEP_KINDS), 'expect'].join(', ');
  if (typeof v === 'string' && BARE.includes(v)) return STEP_KINDS[v as 'kill_daemon' | 'restart_daemon'].parse(null);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    ctx.addIssue({ code: 'custom', message: `a step is a mapping like "scan: 1" (or the bare word ${BARE.join(' or ')}); steps are: ${kinds}` });
    return z.NEVER;
  }
  const keys = Object.keys(v);
  if (keys.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      message: keys.length === 0 ? 'an empty step' : `one step per list item; this one has ${keys.join(' and ')} (start each with "- ")`,
    });
    return z.NEVER;
  }
  const kind = keys[0]!;
  const value = (v as Record<string, unknown>)[kind];
  if (kind === 'expect') {
    const r = expect.safeParse(value);
    if (r.success) return { kind: 'expect', expect: r.data };
    relay(ctx, r.error.issues, ['expect']);
    return z.NEVER;
  }
  if (!Object.hasOwn(STEP_KINDS, kind)) {
    ctx.addIssue({ code: 'custom', path: [kind], message: `unknown step "${kind}"; steps are: ${kinds}`, params: { unknownKey: true } });
    return z.NEVER;
  }
  const r = STEP_KINDS[kind as keyof typeof STEP_KINDS].safeParse(value);
  if (r.success) return r.data;
  relay(ctx, r.error.issues, [kind]);
  return z.NEVER;
});

export const ScenarioSchema = z.strictObject({
  name: z.string().min(1).optional(),
  description: z.string().optional(),
  /** Face models in the daemon: on, as on a kiosk; off starts faster where faces do not matter. */
  faceid: z.boolean().default(true),
  /** Merged over hw-sim's generated daemon config. */
  config: z.record(z.string(), z.unknown()).default({}),
  steps: z.array(stepItem).min(1, 'a scenario needs at least one step'),
});

export type Scenario = z.output<typeof ScenarioSchema>;
