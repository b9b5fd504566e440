import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { MAX_ADVANCE_MS } from '../src/lifecycle/sim-clock.js';
import { CHIP_FAULTS, type ChipFaultName } from './chip/chip-faults.js';
import { applyControl, BadControl, call, controlUsage, isControlName, parseControl, positionalOf, type ControlCall } from './control/table.js';
import type { ClockMove } from './daemon.js';
import { formatDuration, parseDuration } from './duration.js';
import { SAMPLE_IDENTITIES, cccdPayload } from './identities.js';
import type { Sim } from './sim.js';

export const CONSOLE_HELP = `hw-sim commands (type and press Enter):
${controlUsage().join('\n')}
  (a bare word fills the first parameter: "printer.paper out", "scanner.scan 2", "bhyt.fault down")
  print                    ask the kiosk to print a test ticket (TEST-… number, "not valid" bars; PNG + text in the tickets folder)
  advance DURATION         move kioskd's clock forward (30s, 10m, 2h, 1d): time limits, the
                           daily number reset, BHYT retries and audit retention come due at once
  advance to HH:MM         move it to the next HH:MM on the hospital's clocks
  shortcuts: scan [N], scan6 [N], twice [N], trickle [N], noterm [N], raw TEXT, garbage, long,
    unplug|replug, paper out|near|ok, cover open|close, printer off|on, paperout-after N,
    face N|stranger|empty, camera fail|hang|garbage|ok, yes|no|helpme, bhyt N CODE,
    camera slow [MS] (first frame after MS, default 2000), camera dark N (N under-exposed frames),
    camera busy|free, camera die-after N (frames), camera drop P (0–1 or N%), camera normal (stream as by default),
    bhyt down|up|slow|500, portrait down|up|slow, portrait none N, clock synced|unsynced,
    card on N (sample N's card on the chip reader), card off,
    card fault wrong-can|removed|removed-always|slow [MS]|jpeg2000|corrupt-hash|unknown-signer|no-chip|none
  help`;

export interface ConsoleDevices {
  readonly sim: Sim;
  /** Sends a command to the daemon over MQTT and returns its answer as a line of text. */
  readonly ask: (command: string, args: Record<string, unknown>) => Promise<string>;
  /** Moves the daemon's clock forward; resolves with its new wall time. */
  readonly advanceClock?: (move: ClockMove) => Promise<{ offsetMs: number; wallClock: string }>;
}

/** What one console line asks for. */
export type ConsoleCommand =
  | { readonly kind: 'control'; readonly calls: readonly ControlCall[] }
  | { readonly kind: 'print' }
  | { readonly kind: 'advance'; readonly move: ClockMove }
  | { readonly kind: 'say'; readonly text: string };

/** The technician's keyboard in hw-sim: one line, one action on the virtual devices. */
export function runConsole(input: Readable, devices: ConsoleDevices, say: (line: string) => void): () => void {
  const rl = createInterface({ input, terminal: false });
  rl.on('line', (line) => {
    void runLine(line, devices).then(say, (err: unknown) => say(`hw-sim: ${err instanceof Error ? err.message : String(err)}`));
  });
  return () => rl.close();
}

/** Parses and does one line; resolves with what to print. */
export async function runLine(line: string, devices: ConsoleDevices): Promise<string> {
  const c = parseConsoleLine(line);
  switch (c.kind) {
    case 'say':
      return c.text;
    case 'print':
      return `hw-sim: ${await devices.ask('print-test', {})}`;
    case 'advance': {
      if (!devices.advanceClock) throw new Error('no kioskd to move the clock of (--no-daemon) in this simulation');
      const r = await devices.advanceClock(c.move);
      return `hw-sim: kioskd's clock now reads ${r.wallClock} (${formatDuration(r.offsetMs)} ahead of this machine's)`;
    }
    case 'control': {
      const said: string[] = [];
      for (const x of c.calls) said.push(await applyControl(devices, x));
      return `hw-sim: ${said.join('; ')}`;
    }
  }
}

/** A console word as a parameter value: true/false, a number (not one with a leading 0, a result code), or text. */
function valueOf(word: string): unknown {
  if (word === 'true' || word === 'false') return word === 'true';
  return /^(0|-?[1-9]\d*)$/.test(word) ? Number(word) : word;
}

/** `printer.paper out`, `bhyt.result sample=2 code=010`: an action by its own name. */
function canonical(name: string, rest: readonly string[]): ControlCall {
  if (!isControlName(name)) throw new BadControl(`unknown action ${name}`);
  const params: Record<string, unknown> = {};
  for (const word of rest) {
    const eq = word.indexOf('=');
    const key = eq > 0 ? word.slice(0, eq) : positionalOf(name);
    if (key === undefined) throw new BadControl(`${name} takes key=value parameters; type help`);
    params[key] = valueOf(eq > 0 ? word.slice(eq + 1) : word);
  }
  // `scanner.send some text`: the rest of the line is the text.
  if (name === 'scanner.send' && rest.length > 0 && !rest.some((w) => w.includes('='))) params['text'] = rest.join(' ');
  return parseControl(name, params);
}

const sampleOf = (arg: string): number => {
  const n = arg === '' ? 1 : Number(arg);
  if (!SAMPLE_IDENTITIES[n - 1]) throw new Error(`no sample identity ${arg}; there are ${SAMPLE_IDENTITIES.length}`);
  return n;
};

const CARD_USAGE = `card on N | card off | card fault ${CHIP_FAULTS.join('|')} (slow [MS])`;

/** `card …`: the chip reader (chip.place, chip.remove, chip.fault). */
function cardShortcut(rest: readonly string[]): ControlCall[] {
  const [word = '', arg, ...extra] = rest;
  if (word === 'on' && extra.length === 0) return [call('chip.place', { sample: sampleOf(arg ?? '') })];
  if (word === 'off' && arg === undefined) return [call('chip.remove', {})];
  if (word === 'fault' && (CHIP_FAULTS as readonly string[]).includes(arg ?? '')) {
    if (extra.length === 0) return [call('chip.fault', { fault: arg as ChipFaultName })];
    if (arg === 'slow' && extra.length === 1 && /^\d+$/.test(extra[0]!))
      return [parseControl('chip.fault', { fault: 'slow', delayMs: Number(extra[0]) })];
  }
  throw new Error(CARD_USAGE);
}

const CAMERA_USAGE = 'camera fail|hang|garbage|ok | camera slow [MS] | dark N | busy | free | die-after N | drop P | normal';

/** `camera …`: a fault of the pictures (camera.mode) or how the stream behaves (camera.stream). */
function cameraShortcut(rest: readonly string[]): ControlCall[] {
  const [word = '', n, ...extra] = rest;
  const count = (what: string, v: string | undefined, min = 0): number => {
    const x = Number(v);
    if (v === undefined || !/^\d+$/.test(v) || x < min || extra.length > 0) throw new Error(`camera ${word} ${what}`);
    return x;
  };
  const stream = (params: Record<string, unknown>): ControlCall[] => [parseControl('camera.stream', params)];
  const bare = n === undefined;
  if (bare && (word === 'fail' || word === 'hang' || word === 'garbage' || word === 'ok')) return [call('camera.mode', { mode: word })];
  if (word === 'slow') return stream({ startupMs: bare ? 2000 : count('[MS] (milliseconds to the first frame)', n) });
  if (word === 'dark') return stream({ darkFrames: count('N (under-exposed first frames)', n) });
  if (word === 'die-after') return stream({ dieAfterFrames: count('N (frames before the stream dies)', n) });
  if (word === 'drop') {
    const p = n !== undefined && n.endsWith('%') ? Number(n.slice(0, -1)) / 100 : Number(n);
    if (n === undefined || extra.length > 0 || !(p >= 0 && p <= 1)) throw new Error('camera drop P (a chance: 0.05 or 5%)');
    return stream({ dropChance: p });
  }
  if (bare && (word === 'busy' || word === 'free')) return stream({ busy: word === 'busy' });
  if (bare && word === 'normal') return stream({ reset: true });
  throw new Error(CAMERA_USAGE);
}

/** The console's older shortcuts, each the canonical action(s) it stands for. */
function shortcut(cmd: string, rest: readonly string[]): ControlCall[] | null {
  const arg = rest.join(' ');
  const pick = (form?: '6-field') => call('scanner.scan', { sample: sampleOf(arg), ...(form ? { form } : {}) });
  const oneOf = <T extends string>(allowed: readonly T[], usage: string): T => {
    if (!allowed.includes(arg as T)) throw new Error(usage);
    return arg as T;
  };
  switch (cmd) {
    case 'scan':
      return [pick()];
    case 'scan6':
      return [pick('6-field')];
    case 'twice':
      return [pick(), pick()];
    case 'trickle':
      return [call('scanner.trickle', { sample: sampleOf(arg) })];
    case 'noterm':
      return [call('scanner.send', { text: cccdPayload(SAMPLE_IDENTITIES[sampleOf(arg) - 1]!), terminator: '' })];
    case 'raw':
      return [call('scanner.send', { text: arg })];
    case 'garbage':
      return [call('scanner.send', { hex: randomBytes(40).toString('hex') + '0d0a' })];
    case 'long':
      return [call('scanner.send', { text: '9'.repeat(8192) })];
    case 'unplug':
    case 'replug':
      return [call('scanner.plug', { plugged: cmd === 'replug' })];
    case 'paper':
      return [
        call('printer.paper', { level: ({ out: 'out', near: 'near-end', ok: 'ok' } as const)[oneOf(['out', 'near', 'ok'], 'paper out|near|ok')] }),
      ];
    case 'cover':
      return [call('printer.status', { coverOpen: oneOf(['open', 'close'], 'cover open|close') === 'open' })];
    case 'printer':
      return [call('printer.power', { on: oneOf(['on', 'off'], 'printer off|on') === 'on' })];
    case 'paperout-after': {
      const n = Number(arg);
      if (arg === '' || !Number.isInteger(n) || n < 0) throw new Error('paperout-after N (bytes)');
      return [call('printer.faults', { paperOutAfterBytes: n })];
    }
    case 'face':
      return [parseControl('camera.face', { who: arg === 'stranger' || arg === 'empty' ? arg : Number(arg || '1') })];
    case 'camera':
      return cameraShortcut(rest);
    case 'card':
      return cardShortcut(rest);
    case 'clock':
      return [call('clock.ntp', { synced: oneOf(['synced', 'unsynced'], 'clock synced|unsynced') === 'synced' })];
    case 'yes':
    case 'no':
    case 'helpme':
      return [call('panel.press', { button: cmd === 'yes' ? 'consent-yes' : cmd === 'no' ? 'consent-no' : 'help' })];
    case 'bhyt': {
      const [a = '', code] = rest;
      const fault = ({ down: 'down', up: 'none', slow: 'slow', '500': 'http-500' } as const)[a as 'down'];
      if (fault) return [call('bhyt.fault', { fault })];
      if (!SAMPLE_IDENTITIES[Number(a) - 1] || !code || !/^\d{3}$/.test(code)) throw new Error('bhyt N CODE | bhyt down|up|slow|500');
      return [call('bhyt.result', { sample: Number(a), code })];
    }
    case 'portrait': {
      const [a = '', n] = rest;
      if (a === 'none') {
        if (!SAMPLE_IDENTITIES[Number(n) - 1]) throw new Error('portrait none N');
        return [call('identity.portrait', { sample: Number(n), available: false })];
      }
      const fault = ({ down: 'down', up: 'none', slow: 'slow' } as const)[a as 'down'];
      if (!fault) throw new Error('portrait down|up|slow | portrait none N');
      // "up" is the service back to normal: every portrait too.
      const restore = a === 'up' ? SAMPLE_IDENTITIES.map((_, i) => call('identity.portrait', { sample: i + 1, available: true })) : [];
      return [call('identity.fault', { fault }), ...restore];
    }
    default:
      return null;
  }
}

/** One console line as what it asks for; a mistake throws, saying the right spelling. */
export function parseConsoleLine(line: string): ConsoleCommand {
  const [cmd = '', ...rest] = line.trim().split(/\s+/);
  const arg = rest.join(' ');
  if (cmd === '') return { kind: 'say', text: '' };
  if (cmd === 'help') return { kind: 'say', text: CONSOLE_HELP };
  if (cmd === 'print') {
    if (arg) throw new Error('print takes no number: a test ticket always carries its own TEST-… number');
    return { kind: 'print' };
  }
  if (cmd === 'advance') {
    const to = /^to\s+(\d\d:\d\d)$/.exec(arg)?.[1];
    const ms = to ? null : parseDuration(arg);
    if (!to && (ms === null || ms <= 0 || ms > MAX_ADVANCE_MS)) throw new Error('advance DURATION (30s, 2h, 1d; at most 366d) | advance to HH:MM');
    return { kind: 'advance', move: to ? { toLocal: to } : { ms: ms! } };
  }
  if (cmd.includes('.')) return { kind: 'control', calls: [canonical(cmd, rest)] };
  const calls = shortcut(cmd, rest);
  return calls ? { kind: 'control', calls } : { kind: 'say', text: `hw-sim: unknown command "${cmd}"; type help` };
}
