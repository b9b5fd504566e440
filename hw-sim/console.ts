import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { BhytGatewaySim } from './devices/bhyt-gateway.js';
import type { VirtualCamera } from './devices/camera.js';
import type { IdentityServiceSim } from './devices/identity-service.js';
import type { VirtualPanel } from './devices/panel.js';
import type { VirtualPrinter } from './devices/printer.js';
import type { VirtualScanner } from './devices/scanner.js';
import { MAX_ADVANCE_MS } from '../src/lifecycle/sim-clock.js';
import type { ClockMove } from './daemon.js';
import { formatDuration, parseDuration } from './duration.js';
import { SAMPLE_IDENTITIES, cccdPayload } from './identities.js';

export const CONSOLE_HELP = `hw-sim commands (type and press Enter):
  scan [N]       scan sample identity N (1-${SAMPLE_IDENTITIES.length}), 7-field chip-card form
  scan6 [N]      the same in the 6-field form
  raw TEXT       send TEXT plus CR LF, as a scanner would
  garbage        send random bytes and a CR LF
  twice [N]      scan the same card twice in a row
  trickle [N]    send a scan a few bytes at a time
  noterm [N]     send a scan with no terminator
  long           send an 8 KB line
  unplug|replug  pull out / put back the scanner
  print          ask the kiosk to print a test ticket (TEST-… number, "not valid" bars; PNG + text in the tickets folder)
  paper out|near|ok        set the virtual printer's paper
  cover open|close         open / close its cover
  printer off|on           power it off (no answer at all) / on
  paperout-after N         the paper runs out after N more bytes (mid-ticket)
  face N|stranger|empty    what the camera shows: sample N's face, someone else, nobody
  camera fail|hang         the camera errors out / never answers ("face N" repairs it)
  yes | no | helpme        press the consent-yes / consent-no / help button
  bhyt N CODE    the BHYT gateway answers CODE (000, 010 expired, 110 revoked …) for sample N
  bhyt down|up|slow|500    gateway faults (up: back to normal)
  portrait down|up|slow    identity-service faults;  portrait none N: no portrait for sample N
  clock unsynced|synced    what the fake timedatectl says to \`kioskd selftest\` (NTP sync)
  advance DURATION         move kioskd's clock forward (30s, 10m, 2h, 1d): time limits, the
                           daily number reset, BHYT retries and audit retention come due at once
  advance to HH:MM         move it to the next HH:MM on the hospital's clocks
  help`;

export interface ConsoleDevices {
  readonly scanner: VirtualScanner;
  readonly printer: VirtualPrinter | null;
  readonly camera?: VirtualCamera;
  readonly panel?: VirtualPanel;
  readonly gateway?: BhytGatewaySim;
  readonly identity?: IdentityServiceSim;
  readonly showFace?: (who: number | 'stranger' | 'empty') => Promise<void>;
  /** Sends a command to the daemon over MQTT and returns its answer as a line of text. */
  readonly ask: (command: string, args: Record<string, unknown>) => Promise<string>;
  /** Moves the daemon's clock forward; resolves with its new wall time. */
  readonly advanceClock?: (move: ClockMove) => Promise<{ offsetMs: number; wallClock: string }>;
}

/** The technician's keyboard in hw-sim: one line, one action on the virtual devices. */
export function runConsole(input: Readable, devices: ConsoleDevices, say: (line: string) => void): () => void {
  const rl = createInterface({ input, terminal: false });
  rl.on('line', (line) => {
    void handle(line.trim(), devices).then(say, (err: unknown) => say(`hw-sim: ${err instanceof Error ? err.message : String(err)}`));
  });
  return () => rl.close();
}

function need<T>(device: T | undefined, what: string): T {
  if (device === undefined) throw new Error(`no ${what} in this simulation`);
  return device;
}

async function handle(line: string, devices: ConsoleDevices): Promise<string> {
  const { scanner } = devices;
  const printer = (): VirtualPrinter => {
    if (!devices.printer) throw new Error('no virtual printer in this simulation');
    return devices.printer;
  };
  const [cmd = '', ...rest] = line.split(/\s+/);
  const arg = rest.join(' ');
  const pick = (): (typeof SAMPLE_IDENTITIES)[number] => {
    const n = arg === '' ? 1 : Number(arg);
    const p = SAMPLE_IDENTITIES[n - 1];
    if (!p) throw new Error(`no sample identity ${arg}; there are ${SAMPLE_IDENTITIES.length}`);
    return p;
  };
  switch (cmd) {
    case '':
      return '';
    case 'scan':
      await scanner.scan(pick());
      return `hw-sim: scanned sample ${arg || 1}`;
    case 'scan6':
      await scanner.scan(pick(), { form: '6-field' });
      return `hw-sim: scanned sample ${arg || 1} (6-field form)`;
    case 'raw':
      await scanner.send(arg + '\r\n');
      return `hw-sim: sent ${Buffer.byteLength(arg)} bytes`;
    case 'garbage':
      await scanner.send(Buffer.concat([Buffer.from(Array.from({ length: 40 }, () => Math.floor(Math.random() * 256))), Buffer.from('\r\n')]));
      return 'hw-sim: sent 40 random bytes';
    case 'twice':
      await scanner.scan(pick());
      await scanner.scan(pick());
      return 'hw-sim: scanned the same card twice';
    case 'trickle':
      await scanner.trickle(cccdPayload(pick()) + '\r\n');
      return 'hw-sim: trickled a scan';
    case 'noterm':
      await scanner.send(cccdPayload(pick()));
      return 'hw-sim: sent a scan with no terminator';
    case 'long':
      await scanner.send('9'.repeat(8192) + '\r\n');
      return 'hw-sim: sent an 8 KB line';
    case 'unplug':
      await scanner.unplug();
      return 'hw-sim: scanner unplugged';
    case 'replug':
      await scanner.plug();
      return 'hw-sim: scanner plugged back in';
    case 'print':
      if (arg) throw new Error('print takes no number: a test ticket always carries its own TEST-… number');
      return `hw-sim: ${await devices.ask('print-test', {})}`;
    case 'paper': {
      const level = { out: 'out', near: 'near-end', ok: 'ok' }[arg] as 'out' | 'near-end' | 'ok' | undefined;
      if (!level) throw new Error('paper out|near|ok');
      printer().state.paper = level;
      return `hw-sim: printer paper ${level}`;
    }
    case 'cover':
      if (arg !== 'open' && arg !== 'close') throw new Error('cover open|close');
      printer().state.coverOpen = arg === 'open';
      return `hw-sim: printer cover ${arg === 'open' ? 'open' : 'closed'}`;
    case 'printer':
      if (arg !== 'off' && arg !== 'on') throw new Error('printer off|on');
      if (arg === 'off') await printer().unplug();
      else await printer().plug();
      return `hw-sim: printer ${arg}`;
    case 'paperout-after': {
      const n = Number(arg);
      if (!Number.isInteger(n) || n < 0) throw new Error('paperout-after N (bytes)');
      printer().faults.paperOutAfterBytes = n;
      return `hw-sim: the paper runs out after ${n} more bytes`;
    }
    case 'face': {
      const who = arg === 'stranger' || arg === 'empty' ? arg : Number(arg || '1');
      await need(devices.showFace, 'camera')(who);
      return `hw-sim: the camera shows ${typeof who === 'number' ? `sample ${who}` : who === 'stranger' ? 'a stranger' : 'nobody'}`;
    }
    case 'camera':
      if (arg === 'fail') await need(devices.camera, 'camera').fail('no cameras available');
      else if (arg === 'hang') await need(devices.camera, 'camera').hang();
      else throw new Error('camera fail|hang');
      return `hw-sim: camera ${arg}`;
    case 'clock': {
      if (arg !== 'synced' && arg !== 'unsynced') throw new Error('clock synced|unsynced');
      writeFileSync(need(devices.camera, 'camera').env.HWSIM_CLOCK_STATE, arg + '\n');
      return `hw-sim: the kiosk's clock now reports ${arg === 'synced' ? 'synchronised' : 'not synchronised'} (timedatectl)`;
    }
    case 'yes':
    case 'no':
    case 'helpme': {
      const button = cmd === 'yes' ? 'consent-yes' : cmd === 'no' ? 'consent-no' : 'help';
      return need(devices.panel, 'button panel').press(button) ? `hw-sim: pressed ${button}` : 'hw-sim: kioskd is not connected to the button panel';
    }
    case 'bhyt': {
      const gw = need(devices.gateway, 'BHYT gateway');
      const [a = '', code] = rest;
      const fault = ({ down: 'down', up: 'none', slow: 'slow', '500': 'http-500' } as const)[a as 'down'];
      if (fault) {
        await gw.setFault(fault);
        return `hw-sim: BHYT gateway ${a}`;
      }
      const p = SAMPLE_IDENTITIES[Number(a) - 1];
      if (!p || !code || !/^\d{3}$/.test(code)) throw new Error('bhyt N CODE | bhyt down|up|slow|500');
      gw.setResult(p.idNumber, code);
      return `hw-sim: BHYT answers ${code} for sample ${a}`;
    }
    case 'portrait': {
      const id = need(devices.identity, 'identity service');
      const [a = '', n] = rest;
      if (a === 'none') {
        const p = SAMPLE_IDENTITIES[Number(n) - 1];
        if (!p) throw new Error('portrait none N');
        id.withhold(p.idNumber);
        return `hw-sim: no portrait for sample ${n}`;
      }
      const fault = ({ down: 'down', up: 'none', slow: 'slow' } as const)[a as 'down'];
      if (!fault) throw new Error('portrait down|up|slow | portrait none N');
      id.setFault(fault);
      if (a === 'up') for (const p of SAMPLE_IDENTITIES) id.restore(p.idNumber);
      return `hw-sim: identity service ${a}`;
    }
    case 'advance': {
      const to = /^to\s+(\d\d:\d\d)$/.exec(arg)?.[1];
      const ms = to ? null : parseDuration(arg);
      if (!to && (ms === null || ms <= 0 || ms > MAX_ADVANCE_MS)) throw new Error('advance DURATION (30s, 2h, 1d; at most 366d) | advance to HH:MM');
      const r = await need(devices.advanceClock, 'kioskd to move the clock of (--no-daemon)')(to ? { toLocal: to } : { ms: ms! });
      return `hw-sim: kioskd's clock now reads ${r.wallClock} (${formatDuration(r.offsetMs)} ahead of this machine's)`;
    }
    case 'help':
      return CONSOLE_HELP;
    default:
      return `hw-sim: unknown command "${cmd}"; type help`;
  }
}
