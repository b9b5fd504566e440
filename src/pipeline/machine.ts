import { assign, setup } from 'xstate';
import type { PortId, PortState, PortStates } from '../hal/ports.js';

/**
 * The kiosk's top-level modes. Pure: no I/O, no timers of its own. Port states arrive as
 * events; time arrives through the clock given to `createActor`. The check-in steps are
 * added inside `idle` by later work.
 */
export type KioskMode = 'booting' | 'idle' | 'in-session' | 'out-of-service' | 'maintenance' | 'stopping';

/** One patient's check-in. Holds only the masked card number: the identity stays with the caller. */
export interface Session {
  readonly id: string;
  readonly card: string;
}

export type KioskEvent =
  | { type: 'boot.done' }
  | { type: 'port.state'; port: PortId; state: PortState }
  /** A card was read and parsed; `card` is already masked. */
  | { type: 'card.read'; sessionId: string; card: string }
  | { type: 'maintenance.enter' }
  | { type: 'maintenance.exit' }
  /** Sent by the runtime on a timer; handling it proves the machine is not wedged. */
  | { type: 'heartbeat'; at: number }
  | { type: 'shutdown' };

export interface KioskContext {
  readonly ports: PortStates;
  readonly requiredPorts: readonly PortId[];
  readonly lastBeat: number;
  readonly session: Session | null;
  readonly resultHoldMs: number;
}

export interface KioskInput {
  readonly ports: PortStates;
  readonly requiredPorts: readonly PortId[];
  readonly now: number;
  /** How long a session's result is shown before the kiosk is ready for the next patient. */
  readonly resultHoldMs: number;
}

/** A required port counts as usable when ready or degraded (e.g. paper near end still prints). */
export function requiredPortsUsable(ctx: Pick<KioskContext, 'ports' | 'requiredPorts'>): boolean {
  return ctx.requiredPorts.every((id) => {
    const k = ctx.ports[id].kind;
    return k === 'ready' || k === 'degraded';
  });
}

export const kioskMachine = setup({
  types: {
    context: {} as KioskContext,
    events: {} as KioskEvent,
    input: {} as KioskInput,
  },
  delays: {
    resultHold: ({ context }) => context.resultHoldMs,
  },
  guards: {
    portsUsable: ({ context }) => requiredPortsUsable(context),
    portsNotUsable: ({ context }) => !requiredPortsUsable(context),
  },
  actions: {
    recordPort: assign({
      ports: ({ context, event }) =>
        event.type === 'port.state' ? { ...context.ports, [event.port]: event.state } : context.ports,
    }),
    startSession: assign({
      session: ({ event }) => (event.type === 'card.read' ? { id: event.sessionId, card: event.card } : null),
    }),
    endSession: assign({ session: null }),
    recordBeat: assign({
      lastBeat: ({ context, event }) => (event.type === 'heartbeat' ? event.at : context.lastBeat),
    }),
  },
}).createMachine({
  id: 'kiosk',
  initial: 'booting',
  context: ({ input }) => ({ ports: input.ports, requiredPorts: input.requiredPorts, lastBeat: input.now, session: null, resultHoldMs: input.resultHoldMs }),
  on: {
    'port.state': { actions: 'recordPort' },
    heartbeat: { actions: 'recordBeat' },
    shutdown: { target: '.stopping' },
  },
  states: {
    booting: {
      on: {
        'boot.done': [{ guard: 'portsUsable', target: 'idle' }, { target: 'outOfService' }],
      },
    },
    idle: {
      always: { guard: 'portsNotUsable', target: 'outOfService' },
      on: {
        'maintenance.enter': 'maintenance',
        'card.read': { target: 'inSession', actions: 'startSession' },
      },
    },
    inSession: {
      // Only the card step exists so far; later steps (consent, face, insurance, ticket) slot in
      // here. The session ends after the result hold, and idle re-checks the ports.
      initial: 'cardRead',
      states: { cardRead: {} },
      after: { resultHold: { target: 'idle', actions: 'endSession' } },
      exit: 'endSession',
    },
    outOfService: {
      always: { guard: 'portsUsable', target: 'idle' },
      on: { 'maintenance.enter': 'maintenance' },
    },
    maintenance: {
      on: {
        'maintenance.exit': [{ guard: 'portsUsable', target: 'idle' }, { target: 'outOfService' }],
      },
    },
    stopping: {
      // Absorbing: nothing leaves it except the process ending. Heartbeats are still recorded
      // (root handler) so the watchdog keeps being fed while a print finishes.
      on: { shutdown: {} },
    },
  },
});

const MODE_OF: Record<string, KioskMode> = {
  booting: 'booting',
  idle: 'idle',
  inSession: 'in-session',
  outOfService: 'out-of-service',
  maintenance: 'maintenance',
  stopping: 'stopping',
};

export function modeOf(value: unknown): KioskMode {
  const top = typeof value === 'string' ? value : Object.keys(value as object)[0] ?? '';
  const mode = MODE_OF[top];
  if (!mode) throw new Error(`unknown machine state ${JSON.stringify(value)}`);
  return mode;
}

/** The check-in step, for status reports: the innermost state inside a session. */
export function stepOf(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const inner = (value as Record<string, unknown>)['inSession'];
  if (typeof inner !== 'string') return null;
  return inner.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
