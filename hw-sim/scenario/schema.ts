/**
 * The scenario file format (documented in hw-sim/scenarios/README.md): a name, the face-model
 * switch, config overrides for the daemon, and a list of steps — actions on the virtual devices
 * and the daemon, and `expect:` items that must hold within a time limit. A step on the devices
 * becomes hw-sim's control actions (hw-sim/control/table.ts), built from the same parameter
 * schemas; the spellings the file format had before them (`paper: low`, `bhyt: up`, `500`) are
 * kept as aliases.
 */
import { z } from 'zod';
import { LOCAL_TIME, MAX_ADVANCE_MS } from '../../src/lifecycle/sim-clock.js';
import * as field from '../control/fields.js';
import { call, type ControlCall } from '../control/table.js';
import { expect, type Expectation } from './expect-schema.js';
import { clean, duration, name, relay, save, shorthand } from './schema-parts.js';

export { parseDuration } from './schema-parts.js';
export { SINCE_KINDS, type ExpectKind, type Expectation } from './expect-schema.js';

// ---- steps on the devices: control actions -------------------------------------------------

const sample = field.sampleNumber;
const controls = <K extends string>(kind: K, calls: ControlCall[]) => ({ kind, calls });

const scan = shorthand(
  'identity',
  z
    .strictObject({
      identity: sample.optional(),
      form: field.scanForm.optional(),
      text: z.string().optional(),
      hex: field.hexBytes.optional(),
      terminator: z.string().optional(),
    })
    .refine((s) => [s.identity, s.text, s.hex].filter((x) => x !== undefined).length === 1, 'say what to scan: one of identity (1–5), text or hex'),
).transform((s) => {
  const terminator = s.terminator !== undefined ? { terminator: s.terminator } : {};
  if (s.identity !== undefined)
    return controls('scan', [call('scanner.scan', { sample: s.identity, ...(s.form ? { form: s.form } : {}), ...terminator })]);
  return controls('scan', [call('scanner.send', s.text !== undefined ? { text: s.text, ...terminator } : { hex: s.hex! })]);
});

const face = field.faceWho.transform((who) => controls('face', [call('camera.face', { who })]));

const camera = field.cameraMode.transform((mode) => controls('camera', [call('camera.mode', { mode })]));

/** How the camera's stream behaves (rpicam-vid): `camera_stream: {startup: 1.5s, dark_frames: 8}`; `camera_stream: normal` is the reset. */
const cameraStream = z
  .preprocess(
    (v) => (v === 'normal' ? { normal: true } : v),
    z
      .strictObject(
        {
          normal: z.literal(true).optional(),
          startup: duration.pipe(field.cameraStreamFields.startupMs).optional(),
          dark_frames: field.cameraStreamFields.darkFrames.optional(),
          motion_px: field.cameraStreamFields.motionPx.optional(),
          blur_chance: field.cameraStreamFields.blurChance.optional(),
          drop_chance: field.cameraStreamFields.dropChance.optional(),
          die_after_frames: field.cameraStreamFields.dieAfterFrames.optional(),
          busy: field.cameraStreamFields.busy.optional(),
        },
        { error: 'normal, or {startup, dark_frames, motion_px, blur_chance, drop_chance, die_after_frames, busy}' },
      )
      .refine((p) => Object.keys(p).length > 0, {
        message: 'say what to change: normal, or one of startup, dark_frames, motion_px, blur_chance, drop_chance, die_after_frames, busy',
        when: clean,
      }),
  )
  .transform((p) => {
    const settings = {
      ...(p.startup !== undefined ? { startupMs: p.startup } : {}),
      ...(p.dark_frames !== undefined ? { darkFrames: p.dark_frames } : {}),
      ...(p.motion_px !== undefined ? { motionPx: p.motion_px } : {}),
      ...(p.blur_chance !== undefined ? { blurChance: p.blur_chance } : {}),
      ...(p.drop_chance !== undefined ? { dropChance: p.drop_chance } : {}),
      ...(p.die_after_frames !== undefined ? { dieAfterFrames: p.die_after_frames } : {}),
      ...(p.busy !== undefined ? { busy: p.busy } : {}),
    };
    return controls('camera_stream', [call('camera.stream', { ...(p.normal ? { reset: true as const } : {}), ...settings })]);
  });

const BUTTON_ALIASES = { yes: 'consent-yes', no: 'consent-no' } as const;
const press = z
  .enum([...field.button.options, 'yes', 'no'])
  .transform((b) => controls('press', [call('panel.press', { button: b === 'yes' || b === 'no' ? BUTTON_ALIASES[b] : b })]));

const paper = z
  .enum([...field.paperLevel.options, 'low'])
  .transform((level) => controls('paper', [call('printer.paper', { level: level === 'low' ? 'near-end' : level })]));

const printer = z
  .preprocess(
    (v) => (v === 'ok' ? { ok: true } : v === 'off' || v === 'on' ? { power: v } : v),
    z
      .strictObject(
        {
          ok: z.literal(true).optional(),
          paper_out_after_bytes: field.printerFaultFields.paperOutAfterBytes.optional(),
          drain_bytes_per_sec: field.printerFaultFields.drainBytesPerSec.optional(),
          disconnect_after_bytes: field.printerFaultFields.disconnectAfterBytes.optional(),
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
  .transform((p) => {
    const calls: ControlCall[] = p.ok ? [call('printer.reset', {})] : [];
    const faults = {
      ...(p.paper_out_after_bytes !== undefined ? { paperOutAfterBytes: p.paper_out_after_bytes } : {}),
      ...(p.drain_bytes_per_sec !== undefined ? { drainBytesPerSec: p.drain_bytes_per_sec } : {}),
      ...(p.disconnect_after_bytes !== undefined ? { disconnectAfterBytes: p.disconnect_after_bytes } : {}),
    };
    if (Object.keys(faults).length > 0) calls.push(call('printer.faults', faults));
    if (p.cover !== undefined) calls.push(call('printer.status', { coverOpen: p.cover === 'open' }));
    if (p.power !== undefined) calls.push(call('printer.power', { on: p.power === 'on' }));
    return controls('printer', calls);
  });

const scanner = z.enum(['unplug', 'plug']).transform((action) => controls('scanner', [call('scanner.plug', { plugged: action === 'plug' })]));

/** The file format's older fault words: `up` is `none`, `500` is `http-500`. */
const faultOf = <T extends string>(faults: readonly T[]) =>
  z
    .preprocess((v) => (v === 500 ? '500' : v), z.enum([...faults, 'up', '500'] as unknown as [T | 'up' | '500', ...(T | 'up' | '500')[]]))
    .transform((f): T => (f === 'up' ? 'none' : f === '500' ? 'http-500' : f) as T);

const bhyt = shorthand(
  'fault',
  z
    .strictObject({
      identity: sample.optional(),
      result: field.code3.optional(),
      fault: faultOf(field.bhytFault.options).optional(),
      delay: duration.optional(),
    })
    .refine((b) => (b.identity === undefined) === (b.result === undefined), 'identity and result go together: {identity: 2, result: "010"}')
    .refine((b) => (b.identity !== undefined) !== (b.fault !== undefined), 'either a result for a card ({identity, result}) or a fault'),
).transform((b) =>
  controls('bhyt', [
    b.identity !== undefined
      ? call('bhyt.result', { sample: b.identity, code: b.result! })
      : call('bhyt.fault', { fault: b.fault!, ...(b.delay !== undefined ? { delayMs: b.delay } : {}) }),
  ]),
);

const portrait = z
  .strictObject({
    withhold: sample.optional(),
    restore: sample.optional(),
    fault: faultOf(field.identityFault.options).optional(),
  })
  .refine((p) => [p.withhold, p.restore, p.fault].filter((x) => x !== undefined).length === 1, 'one of withhold: N, restore: N or fault')
  .transform((p) =>
    controls('portrait', [
      p.fault !== undefined
        ? call('identity.fault', { fault: p.fault })
        : call('identity.portrait', { sample: (p.withhold ?? p.restore)!, available: p.restore !== undefined }),
    ]),
  );

/**
 * The chip reader: `chip: {place: 1}` puts sample 1's card on it, `chip: off` (or `{place: off}`)
 * takes it off, `chip: {fault: wrong-can}` sets the card's fault (`{fault: slow, delay: 300ms}`);
 * with both, the fault is set first.
 */
const chip = shorthand(
  'place',
  z
    .strictObject({
      place: z.union([sample, z.literal('off')], { error: 'a sample identity 1–5, or off' }).optional(),
      fault: field.chipFault.optional(),
      delay: duration.pipe(field.chipDelayMs).optional(),
    })
    .refine((c) => c.place !== undefined || c.fault !== undefined, { message: 'say what to do: place (1–5 or off) and/or fault', when: clean })
    .refine((c) => c.delay === undefined || c.fault === 'slow', { message: 'delay goes with fault: slow', path: ['delay'], when: clean }),
).transform((c) => {
  const calls: ControlCall[] = [];
  if (c.fault !== undefined) calls.push(call('chip.fault', { fault: c.fault, ...(c.delay !== undefined ? { delayMs: c.delay } : {}) }));
  if (c.place === 'off') calls.push(call('chip.remove', {}));
  else if (c.place !== undefined) calls.push(call('chip.place', { sample: c.place }));
  return controls('chip', calls);
});

// ---- steps on the broker, the daemon and time -------------------------------------------------

const broker = z.enum(['stop', 'start']).transform((action) => ({ kind: 'broker' as const, action }));

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

// ---- the file ----------------------------------------------------------------------------

const STEP_KINDS = {
  scan,
  face,
  camera,
  camera_stream: cameraStream,
  press,
  paper,
  printer,
  scanner,
  broker,
  bhyt,
  portrait,
  chip,
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
/** The steps that are control actions on the devices. */
export type DeviceStep = Extract<Action, { readonly calls: readonly ControlCall[] }>;
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

export const ScenarioSchema = z
  .strictObject({
    name: z.string().min(1).optional(),
    description: z.string().optional(),
    /** Face models in the daemon: on, as on a kiosk; off starts faster where faces do not matter. */
    faceid: z.boolean().default(true),
    /** Merged over hw-sim's generated daemon config. */
    config: z.record(z.string(), z.unknown()).default({}),
    /** The kiosk has hw-sim's chip reader (its own pcscd); default: when a step uses it. */
    chip: z.boolean().optional(),
    steps: z.array(stepItem).min(1, 'a scenario needs at least one step'),
  })
  .superRefine((s, ctx) => {
    if (s.chip !== false) return;
    const i = s.steps.findIndex((step) => step.kind === 'chip');
    if (i >= 0) ctx.addIssue({ code: 'custom', path: ['steps', i, 'chip'], message: 'a chip step needs the chip reader: remove "chip: false"' });
  });

export type Scenario = z.output<typeof ScenarioSchema>;
