import type { ButtonId } from '../../src/hal/ports.js';
import type { BhytGatewayFault } from '../devices/bhyt-gateway.js';
import { SAMPLE_IDENTITIES, type SampleIdentity } from '../identities.js';
import type { Sim } from '../sim.js';
import { clockMoveOf, movedMessage, type AdvanceClock, type KioskTime } from './kiosk-clock.js';
import type { KioskFeed } from './kiosk-feed.js';
import { parseRawBytes } from './raw-bytes.js';

/** What the panel remembers about faults it set, where the devices do not say. */
export interface PanelMemory {
  /** The face "camera ok" goes back to. */
  lastFace: number | 'stranger' | 'empty';
  gatewayFault: 'none' | 'down' | 'slow' | 'http-500';
  identityFault: 'none' | 'down' | 'slow';
  /** kioskd's answer to the panel's last clock move. */
  lastMove: KioskTime | null;
}

/** Moving kioskd's clock: absent when hw-sim did not start kioskd (--no-daemon). */
export interface ClockControl {
  readonly advance: AdvanceClock | undefined;
  /** The hospital's time zone (ticket.timeZone), for the answer. */
  readonly timeZone: string;
}

/** One technician action: the JSON body of POST /api/<name> in, a line for the page out. */
export type Action = (body: Record<string, unknown>) => Promise<string>;

/** A mistake in the request (400), as opposed to a device refusing (409). */
export class BadRequest extends Error {}

const BUTTONS: readonly ButtonId[] = ['consent-yes', 'consent-no', 'help'];

function oneOf<T extends string>(v: unknown, allowed: readonly T[], what: string): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw new BadRequest(`${what} must be one of ${allowed.join(', ')}`);
  return v as T;
}

function sample(v: unknown): { n: number; p: SampleIdentity } {
  const n = typeof v === 'string' ? Number(v) : v;
  const p = typeof n === 'number' && Number.isInteger(n) ? SAMPLE_IDENTITIES[n - 1] : undefined;
  if (!p) throw new BadRequest(`sample must be 1-${SAMPLE_IDENTITIES.length}`);
  return { n: n as number, p };
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw new BadRequest(`${what} must be true or false`);
  return v;
}

/** The panel's actions on the virtual devices (the same ones hw-sim's console drives) and the daemon. */
export function panelActions(sim: Sim, feed: KioskFeed, memory: PanelMemory, clock: ClockControl): Readonly<Record<string, Action>> {
  const needScanner = (): void => {
    // Over tcp an unplugged scanner would swallow the bytes silently; say so instead.
    if (!sim.scanner.plugged) throw new Error('the scanner is unplugged: plug it in first');
  };
  return {
    async button(b) {
      const button = oneOf(b['button'], BUTTONS, 'button');
      if (!sim.panel.press(button)) throw new Error('kioskd is not connected to the button panel');
      return `pressed ${button}`;
    },
    async scan(b) {
      const { n, p } = sample(b['sample']);
      const form = b['form'] === undefined ? '7-field' : oneOf(b['form'], ['7-field', '6-field'] as const, 'form');
      needScanner();
      await sim.scanner.scan(p, { form });
      return `scanned sample ${n} (${form})`;
    },
    async raw(b) {
      if (typeof b['text'] !== 'string') throw new BadRequest('text must be a string');
      const mode = b['mode'] === undefined ? 'text' : oneOf(b['mode'], ['text', 'hex'] as const, 'mode');
      let bytes: Buffer;
      try {
        bytes = parseRawBytes(b['text'], mode);
      } catch (err) {
        throw new BadRequest(err instanceof Error ? err.message : String(err));
      }
      if (bytes.length === 0) throw new BadRequest('nothing to send');
      needScanner();
      await sim.scanner.send(bytes);
      return `sent ${bytes.length} bytes to the scanner line`;
    },
    async scanner(b) {
      if (bool(b['plugged'], 'plugged')) await sim.scanner.plug();
      else await sim.scanner.unplug();
      return `scanner ${sim.scanner.plugged ? 'plugged in' : 'unplugged'}`;
    },
    async face(b) {
      const who = b['who'] === 'stranger' || b['who'] === 'empty' ? b['who'] : sample(b['who']).n;
      await sim.showFace(who);
      memory.lastFace = who;
      return `the camera shows ${typeof who === 'number' ? `sample ${who}` : who === 'stranger' ? 'a stranger' : 'nobody'}`;
    },
    async camera(b) {
      const mode = oneOf(b['mode'], ['ok', 'fail', 'hang', 'garbage'] as const, 'mode');
      if (mode === 'fail') await sim.camera.fail('no cameras available');
      else if (mode === 'hang') await sim.camera.hang();
      else if (mode === 'garbage') await sim.camera.garbage();
      else await sim.showFace(memory.lastFace);
      return mode === 'ok' ? 'camera working again' : `camera ${mode}`;
    },
    async printer(b) {
      const st = sim.printer.state;
      const said: string[] = [];
      if (b['paper'] !== undefined) {
        st.paper = oneOf(b['paper'], ['ok', 'near-end', 'out'] as const, 'paper');
        said.push(`paper ${st.paper}`);
      }
      for (const k of ['coverOpen', 'offline', 'error'] as const) {
        if (b[k] === undefined) continue;
        st[k] = bool(b[k], k);
        said.push(`${k} ${st[k]}`);
      }
      if (b['power'] !== undefined) {
        const on = oneOf(b['power'], ['on', 'off'] as const, 'power') === 'on';
        if (on) await sim.printer.plug();
        else await sim.printer.unplug();
        said.push(`power ${on ? 'on' : 'off'}`);
      }
      if (said.length === 0) throw new BadRequest('nothing to change: give paper, coverOpen, offline, error or power');
      return `printer: ${said.join(', ')}`;
    },
    async bhyt(b) {
      if (b['fault'] !== undefined) {
        const fault = oneOf(b['fault'], ['none', 'down', 'slow', 'http-500'] as const, 'fault');
        await sim.gateway.setFault(fault satisfies BhytGatewayFault);
        memory.gatewayFault = fault;
        return `BHYT gateway: ${fault === 'none' ? 'working' : fault}`;
      }
      const { n, p } = sample(b['sample']);
      const code = b['code'];
      if (typeof code !== 'string' || !/^\d{3}$/.test(code)) throw new BadRequest('code must be three digits (000 valid, 010 expired, …)');
      sim.gateway.setResult(p.idNumber, code);
      return `BHYT answers ${code} for sample ${n}`;
    },
    async identity(b) {
      const fault = oneOf(b['fault'], ['none', 'down', 'slow'] as const, 'fault');
      sim.identity.setFault(fault);
      memory.identityFault = fault;
      return `identity service: ${fault === 'none' ? 'working' : fault}`;
    },
    async daemon(b) {
      const command = oneOf(b['command'], ['print-test', 'cancel', 'maintenance-on', 'maintenance-off', 'ping'] as const, 'command');
      const data =
        command === 'maintenance-on' || command === 'maintenance-off'
          ? await feed.command('maintenance', { enabled: command === 'maintenance-on' })
          : await feed.command(command, command === 'cancel' ? cancelArgs(feed) : {});
      return `kioskd ${command}: ${JSON.stringify(data)}`;
    },
    async clock(b) {
      const move = clockMoveOf(b);
      if (typeof move === 'string') throw new BadRequest(move);
      if (!clock.advance) throw new Error('kioskd is not running under hw-sim (started with --no-daemon): there is no kioskd clock to move');
      const r = await clock.advance(move);
      memory.lastMove = { wallClock: r.wallClock, offsetMs: r.offsetMs, heardAt: Date.now(), via: 'move' };
      return movedMessage(r, clock.timeZone);
    },
  };
}

/** kioskd ends only the check-in a cancel names: the one the retained state shows now. */
function cancelArgs(feed: KioskFeed): { session_id: string } {
  const id = feed.current().state?.session_id;
  if (typeof id !== 'string') throw new Error('no check-in is in progress (the kiosk state shows no session)');
  return { session_id: id };
}
