/**
 * hw-sim's control vocabulary: every action a technician, the web panel or a scenario file can
 * take on the virtual devices, each with one name, a zod schema for its parameters, `apply` and
 * `describe`. hw-sim's console parses a line into one of these (hw-sim/console.ts), the web
 * panel POSTs them (hw-sim/web/server.ts), and scenario steps become them
 * (hw-sim/scenario/schema.ts), in the manner of zwave-js's mock behaviours.
 */
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { SAMPLE_IDENTITIES, cccdPayload } from '../identities.js';
import { DEFAULT_STREAM_SETTINGS as D, type StreamChange } from '../devices/camera.js';
import type { Sim } from '../sim.js';
import { CHIP_CONTROL } from './chip-actions.js';
import { define, type Definition } from './define.js';
import {
  bhytFault,
  button,
  cameraMode,
  cameraStreamFields,
  code3,
  faceWho,
  hexBytes,
  identityFault,
  paperLevel,
  printerFaultFields,
  sampleNumber,
  scanForm,
  type FaceWho,
} from './fields.js';

/** What the actions work on: the virtual devices of one kiosk. */
export interface ControlTarget {
  readonly sim: Sim;
}

const person = (n: number) => SAMPLE_IDENTITIES[n - 1]!;
const faceText = (who: FaceWho): string => (typeof who === 'number' ? `sample ${who}` : who === 'stranger' ? 'a stranger' : 'nobody');
const working = (fault: string): string => (fault === 'none' ? 'working' : fault);
/** Over tcp an unplugged scanner would swallow the bytes silently; say so instead. */
const needScanner = (sim: Sim): void => {
  if (!sim.scanner.plugged) throw new Error('the scanner is unplugged: plug it in first');
};
const nonEmpty = (what: string) => [(o: object) => Object.keys(o).length > 0, { message: `say what to change: ${what}` }] as const;

/** What a `camera.stream` call changed, in words. */
function streamText(p: { reset?: true | undefined } & StreamChange): string {
  const parts = [
    p.reset && `as a real camera by default (first frame after ${D.startupMs} ms, ${D.darkFrames} dark frames, some motion, blur and drops)`,
    p.startupMs !== undefined && `first frame ${p.startupMs} ms after start`,
    p.darkFrames !== undefined && `${p.darkFrames} dark frames while exposure settles`,
    p.motionPx !== undefined && `moves up to ${p.motionPx} px`,
    p.blurChance !== undefined && `${pct(p.blurChance)} of frames blurred`,
    p.dropChance !== undefined && `${pct(p.dropChance)} of frames dropped`,
    p.dieAfterFrames !== undefined && (p.dieAfterFrames === null ? 'keeps streaming' : `dies after ${p.dieAfterFrames} frames`),
    p.busy !== undefined && (p.busy ? 'busy (held by another program)' : 'free'),
  ];
  return parts.filter(Boolean).join(', ');
}
const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;

/** Bytes of `scanner.send`: text (then the terminator, CR LF unless given) or hex. */
function sendBytes(p: { text?: string | undefined; hex?: string | undefined; terminator?: string | undefined }): Buffer {
  return p.hex !== undefined ? Buffer.from(p.hex.replace(/\s+/g, ''), 'hex') : Buffer.from(p.text! + (p.terminator ?? '\r\n'), 'utf8');
}

export const CONTROL = {
  'scanner.scan': define({
    params: z.strictObject({ sample: sampleNumber, form: scanForm.optional(), terminator: z.string().optional() }),
    usage: `sample=1-${SAMPLE_IDENTITIES.length} [form=7-field|6-field]`,
    positional: 'sample',
    async apply(sim, p) {
      needScanner(sim);
      await sim.scanner.scan(person(p.sample), {
        ...(p.form ? { form: p.form } : {}),
        ...(p.terminator !== undefined ? { terminator: p.terminator } : {}),
      });
    },
    describe: (p) => `scanned sample ${p.sample} (${p.form ?? '7-field'})`,
  }),
  'scanner.send': define({
    params: z
      .strictObject({ text: z.string().optional(), hex: hexBytes.optional(), terminator: z.string().optional() })
      .refine((s) => (s.text === undefined) !== (s.hex === undefined), 'text or hex, one of them'),
    usage: 'text=TEXT [terminator=…] | hex=0d0a…',
    positional: 'text',
    async apply(sim, p) {
      needScanner(sim);
      await sim.scanner.send(sendBytes(p));
    },
    describe: (p) => `sent ${sendBytes(p).length} bytes to the scanner line`,
  }),
  'scanner.trickle': define({
    params: z.strictObject({ sample: sampleNumber }),
    usage: 'sample=N (a scan a few bytes at a time)',
    positional: 'sample',
    async apply(sim, p) {
      needScanner(sim);
      await sim.scanner.trickle(cccdPayload(person(p.sample)) + '\r\n');
    },
    describe: (p) => `trickled a scan of sample ${p.sample}`,
  }),
  'scanner.plug': define({
    params: z.strictObject({ plugged: z.boolean() }),
    usage: 'plugged=true|false',
    positional: 'plugged',
    apply: (sim, p) => (p.plugged ? sim.scanner.plug() : sim.scanner.unplug()),
    describe: (p) => `scanner ${p.plugged ? 'plugged in' : 'unplugged'}`,
  }),
  'camera.face': define({
    params: z.strictObject({ who: faceWho }),
    usage: 'who=N|stranger|empty',
    positional: 'who',
    apply: (sim, p) => sim.showFace(p.who),
    describe: (p) => `the camera shows ${faceText(p.who)}`,
  }),
  'camera.mode': define({
    params: z.strictObject({ mode: cameraMode }),
    usage: 'mode=ok|fail|hang|garbage (ok: the last face again)',
    positional: 'mode',
    async apply(sim, p) {
      if (p.mode === 'fail') await sim.camera.fail('no cameras available');
      else if (p.mode === 'hang') await sim.camera.hang();
      else if (p.mode === 'garbage') await sim.camera.garbage();
      else await sim.showFace(sim.face);
    },
    describe: (p) => (p.mode === 'ok' ? 'camera working again' : `camera ${p.mode}`),
  }),
  'camera.stream': define({
    params: z
      .strictObject({
        reset: z.literal(true).optional(),
        startupMs: cameraStreamFields.startupMs.optional(),
        darkFrames: cameraStreamFields.darkFrames.optional(),
        motionPx: cameraStreamFields.motionPx.optional(),
        blurChance: cameraStreamFields.blurChance.optional(),
        dropChance: cameraStreamFields.dropChance.optional(),
        dieAfterFrames: cameraStreamFields.dieAfterFrames.optional(),
        busy: cameraStreamFields.busy.optional(),
      })
      .refine(...nonEmpty('reset=true, or startupMs, darkFrames, motionPx, blurChance, dropChance, dieAfterFrames, busy')),
    usage: '[reset=true] [startupMs=N] [darkFrames=N] [motionPx=N] [blurChance=P] [dropChance=P] [dieAfterFrames=N|never] [busy=true|false]',
    positional: 'startupMs',
    async apply(sim, p) {
      const { reset, ...settings } = p;
      if (reset) await sim.camera.resetStream();
      if (Object.keys(settings).length > 0) await sim.camera.setStream(settings);
    },
    describe: (p) => `camera stream: ${streamText(p)}`,
  }),
  'panel.press': define({
    params: z.strictObject({ button }),
    usage: 'button=consent-yes|consent-no|help',
    positional: 'button',
    async apply(sim, p) {
      if (!sim.panel.press(p.button)) throw new Error('kioskd is not connected to the button panel');
    },
    describe: (p) => `pressed ${p.button}`,
  }),
  'printer.paper': define({
    params: z.strictObject({ level: paperLevel }),
    usage: 'level=ok|near-end|out',
    positional: 'level',
    async apply(sim, p) {
      sim.printer.state.paper = p.level;
    },
    describe: (p) => `printer: paper ${p.level}`,
  }),
  'printer.status': define({
    params: z
      .strictObject({ coverOpen: z.boolean().optional(), offline: z.boolean().optional(), error: z.boolean().optional() })
      .refine(...nonEmpty('coverOpen, offline or error')),
    usage: '[coverOpen=true|false] [offline=…] [error=…]',
    async apply(sim, p) {
      Object.assign(sim.printer.state, p);
    },
    describe: (p) =>
      `printer: ${Object.entries(p)
        .map(([k, v]) => `${k} ${String(v)}`)
        .join(', ')}`,
  }),
  'printer.power': define({
    params: z.strictObject({ on: z.boolean() }),
    usage: 'on=true|false (off: no answer at all)',
    positional: 'on',
    apply: (sim, p) => (p.on ? sim.printer.plug() : sim.printer.unplug()),
    describe: (p) => `printer: power ${p.on ? 'on' : 'off'}`,
  }),
  'printer.faults': define({
    params: z
      .strictObject({
        paperOutAfterBytes: printerFaultFields.paperOutAfterBytes.optional(),
        drainBytesPerSec: printerFaultFields.drainBytesPerSec.optional(),
        disconnectAfterBytes: printerFaultFields.disconnectAfterBytes.optional(),
      })
      .refine(...nonEmpty('paperOutAfterBytes, drainBytesPerSec or disconnectAfterBytes')),
    usage: '[paperOutAfterBytes=N] [drainBytesPerSec=N] [disconnectAfterBytes=N]',
    positional: 'paperOutAfterBytes',
    async apply(sim, p) {
      Object.assign(sim.printer.faults, p);
    },
    describe: (p) =>
      `printer: ${[
        p.paperOutAfterBytes !== undefined && `the paper runs out after ${p.paperOutAfterBytes} more bytes`,
        p.drainBytesPerSec !== undefined && `slow, ${p.drainBytesPerSec} bytes/s`,
        p.disconnectAfterBytes !== undefined && `drops the connection after ${p.disconnectAfterBytes} more bytes`,
      ]
        .filter(Boolean)
        .join(', ')}`,
  }),
  'printer.reset': define({
    params: z.strictObject({}),
    usage: '(paper ok, cover closed, no faults, powered)',
    async apply(sim) {
      Object.assign(sim.printer.state, { paper: 'ok', coverOpen: false, offline: false, error: false, mute: false });
      sim.printer.faults = {};
      await sim.printer.plug();
    },
    describe: () => 'printer: all right again',
  }),
  'bhyt.fault': define({
    params: z.strictObject({ fault: bhytFault, delayMs: z.int().min(0).optional() }),
    usage: `fault=${bhytFault.options.join('|')} [delayMs=N]`,
    positional: 'fault',
    apply: (sim, p) => sim.gateway.setFault(p.fault, p.delayMs !== undefined ? { delayMs: p.delayMs } : {}),
    describe: (p) => `BHYT gateway: ${working(p.fault)}${p.delayMs !== undefined ? ` (${p.delayMs} ms)` : ''}`,
  }),
  'bhyt.result': define({
    params: z.strictObject({ sample: sampleNumber, code: code3 }),
    usage: 'sample=N code=000|010|110|… (the answer for that card)',
    async apply(sim, p) {
      sim.gateway.setResult(person(p.sample).idNumber, p.code);
    },
    describe: (p) => `BHYT answers ${p.code} for sample ${p.sample}`,
  }),
  'identity.fault': define({
    params: z.strictObject({ fault: identityFault }),
    usage: `fault=${identityFault.options.join('|')}`,
    positional: 'fault',
    async apply(sim, p) {
      sim.identity.setFault(p.fault);
    },
    describe: (p) => `identity service: ${working(p.fault)}`,
  }),
  'identity.portrait': define({
    params: z.strictObject({ sample: sampleNumber, available: z.boolean() }),
    usage: 'sample=N available=true|false',
    async apply(sim, p) {
      if (p.available) sim.identity.restore(person(p.sample).idNumber);
      else sim.identity.withhold(person(p.sample).idNumber);
    },
    describe: (p) => (p.available ? `the portrait of sample ${p.sample} is back` : `no portrait for sample ${p.sample}`),
  }),
  'clock.ntp': define({
    params: z.strictObject({ synced: z.boolean() }),
    usage: 'synced=true|false (what the fake timedatectl tells kioskd selftest)',
    positional: 'synced',
    async apply(sim, p) {
      writeFileSync(sim.camera.env.HWSIM_CLOCK_STATE, (p.synced ? 'synced' : 'unsynced') + '\n');
    },
    describe: (p) => `the kiosk's clock now reports ${p.synced ? 'synchronised' : 'not synchronised'} (timedatectl)`,
  }),
  ...CHIP_CONTROL,
} as const;

export type ControlName = keyof typeof CONTROL;
type Params<K extends ControlName> = z.output<(typeof CONTROL)[K]['params']>;
/** One action with its parameters, checked. */
export type ControlCall = { [K in ControlName]: { readonly action: K; readonly params: Params<K> } }[ControlName];

/** A call built in code (its parameters typed, not checked). */
export const call = <K extends ControlName>(action: K, params: Params<K>): ControlCall => ({ action, params }) as ControlCall;

export function isControlName(name: string): name is ControlName {
  return Object.hasOwn(CONTROL, name);
}

/** A request that does not fit an action's schema. */
export class BadControl extends Error {}

/** Checks `params` against the action's schema. */
export function parseControl(action: ControlName, params: unknown): ControlCall {
  const r = (CONTROL[action].params as z.ZodType).safeParse(params);
  if (!r.success)
    throw new BadControl(`${action}: ${r.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ')}`);
  return { action, params: r.data } as ControlCall;
}

function definition(c: ControlCall): Definition<z.ZodType> {
  return CONTROL[c.action] as unknown as Definition<z.ZodType>;
}

export function describeControl(c: ControlCall): string {
  return definition(c).describe(c.params);
}

/** Does the action on the devices; resolves with what was done. */
export async function applyControl(target: ControlTarget, c: ControlCall): Promise<string> {
  const d = definition(c);
  await d.apply(target.sim, c.params);
  return d.describe(c.params);
}

/** One line per action, for the console's help. */
export function controlUsage(): string[] {
  return Object.entries(CONTROL).map(([name, d]) => `  ${name.padEnd(18)} ${d.usage}`);
}

/** Which parameter a bare word fills on the console (`printer.paper out`), if any. */
export function positionalOf(action: ControlName): string | undefined {
  return (CONTROL[action] as { positional?: string }).positional;
}

/** Every device as a patient expects it: working, every sample's BHYT card valid and portrait served, the stream as a real camera's, face 1 shown, no card on the chip reader. */
export const DEVICES_AS_NEW: readonly ControlCall[] = [
  ...SAMPLE_IDENTITIES.flatMap((_, i) => [
    call('bhyt.result', { sample: i + 1, code: '000' }),
    call('identity.portrait', { sample: i + 1, available: true }),
  ]),
  call('bhyt.fault', { fault: 'none' }),
  call('identity.fault', { fault: 'none' }),
  call('printer.reset', {}),
  call('scanner.plug', { plugged: true }),
  call('camera.stream', { reset: true }),
  call('camera.face', { who: 1 }),
  call('chip.reset', {}),
];
