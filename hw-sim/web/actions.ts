import { applyControl, BadControl, call, isControlName, parseControl, type ControlCall } from '../control/table.js';
import type { Sim } from '../sim.js';
import { clockMoveOf, movedMessage, type AdvanceClock, type KioskTime } from './kiosk-clock.js';
import type { KioskFeed } from './kiosk-feed.js';
import { parseRawBytes } from './raw-bytes.js';

/** What the panel remembers, where neither the devices nor kioskd say it. */
export interface PanelMemory {
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
export class BadRequest extends BadControl {}

/**
 * The request bodies of the panel's first API (POST /api/printer {paper: 'out'} …), kept for
 * whoever scripted them: each is one or more control actions.
 */
function legacyCalls(name: string, b: Record<string, unknown>): ControlCall[] | null {
  const one = (action: Parameters<typeof parseControl>[0], params: unknown): ControlCall[] => [parseControl(action, params)];
  switch (name) {
    case 'button':
      return one('panel.press', { button: b['button'] });
    case 'scan':
      return one('scanner.scan', { sample: typeof b['sample'] === 'string' ? Number(b['sample']) : b['sample'], form: b['form'] ?? '7-field' });
    case 'scanner':
      return one('scanner.plug', { plugged: b['plugged'] });
    case 'face':
      return one('camera.face', { who: typeof b['who'] === 'string' && /^\d+$/.test(b['who']) ? Number(b['who']) : b['who'] });
    case 'camera':
      return one('camera.mode', { mode: b['mode'] });
    case 'identity':
      return one('identity.fault', { fault: b['fault'] });
    case 'bhyt':
      return b['fault'] !== undefined ? one('bhyt.fault', { fault: b['fault'] }) : one('bhyt.result', { sample: b['sample'], code: b['code'] });
    case 'printer': {
      const calls: ControlCall[] = [];
      if (b['paper'] !== undefined) calls.push(...one('printer.paper', { level: b['paper'] }));
      const flags = Object.fromEntries((['coverOpen', 'offline', 'error'] as const).filter((k) => b[k] !== undefined).map((k) => [k, b[k]]));
      if (Object.keys(flags).length > 0) calls.push(...one('printer.status', flags));
      if (b['power'] !== undefined) {
        if (b['power'] !== 'on' && b['power'] !== 'off') throw new BadRequest('power must be one of on, off');
        calls.push(call('printer.power', { on: b['power'] === 'on' }));
      }
      if (calls.length === 0) throw new BadRequest('nothing to change: give paper, coverOpen, offline, error or power');
      return calls;
    }
    default:
      return null;
  }
}

/**
 * The panel's actions: every control action by its own name (POST /api/printer.paper
 * {level: 'out'}), the panel's first API names, raw bytes typed in the page, and what goes to
 * the daemon (commands, its clock).
 */
export function panelAction(sim: Sim, feed: KioskFeed, memory: PanelMemory, clock: ClockControl, name: string): Action | undefined {
  const control =
    (calls: (b: Record<string, unknown>) => ControlCall[]): Action =>
    async (b) => {
      const said: string[] = [];
      for (const c of calls(b)) said.push(await applyControl({ sim }, c));
      return said.join('; ');
    };
  if (isControlName(name)) return control((b) => [parseControl(name, b)]);
  if (['button', 'scan', 'scanner', 'face', 'camera', 'identity', 'bhyt', 'printer'].includes(name)) return control((b) => legacyCalls(name, b)!);
  const own: Readonly<Record<string, Action>> = {
    async raw(b) {
      if (typeof b['text'] !== 'string') throw new BadRequest('text must be a string');
      const mode = b['mode'] ?? 'text';
      if (mode !== 'text' && mode !== 'hex') throw new BadRequest('mode must be one of text, hex');
      let bytes: Buffer;
      try {
        bytes = parseRawBytes(b['text'], mode);
      } catch (err) {
        throw new BadRequest(err instanceof Error ? err.message : String(err));
      }
      if (bytes.length === 0) throw new BadRequest('nothing to send');
      return applyControl({ sim }, call('scanner.send', { hex: bytes.toString('hex') }));
    },
    async daemon(b) {
      const commands = ['print-test', 'cancel', 'maintenance-on', 'maintenance-off', 'ping'] as const;
      const command = b['command'] as (typeof commands)[number];
      if (!commands.includes(command)) throw new BadRequest(`command must be one of ${commands.join(', ')}`);
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
  return Object.hasOwn(own, name) ? own[name] : undefined;
}

/** kioskd ends only the check-in a cancel names: the one the retained state shows now. */
function cancelArgs(feed: KioskFeed): { session_id: string } {
  const id = feed.current().state?.session_id;
  if (typeof id !== 'string') throw new Error('no check-in is in progress (the kiosk state shows no session)');
  return { session_id: id };
}
