import { assign, setup } from 'xstate';
import type { PortId, PortState, PortStates } from '../hal/ports.js';

/**
 * The kiosk's top-level modes. Pure: no I/O, no timers of its own. Port states arrive as
 * events; time arrives through the clock given to `createActor`. The check-in steps are
 * added inside `idle` by later work.
 */
export type KioskMode = 'booting' | 'idle' | 'out-of-service' | 'maintenance' | 'stopping';

export type KioskEvent =
  | { type: 'boot.done' }
  | { type: 'port.state'; port: PortId; state: PortState }
  | { type: 'maintenance.enter' }
  | { type: 'maintenance.exit' }
  /** Sent by the runtime on a timer; handling it proves the machine is not wedged. */
  | { type: 'heartbeat'; at: number }
  | { type: 'shutdown' };

export interface KioskContext {
  readonly ports: PortStates;
  readonly requiredPorts: readonly PortId[];
  readonly lastBeat: number;
}

export interface KioskInput {
  readonly ports: PortStates;
  readonly requiredPorts: readonly PortId[];
  readonly now: number;
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
  guards: {
    portsUsable: ({ context }) => requiredPortsUsable(context),
    portsNotUsable: ({ context }) => !requiredPortsUsable(context),
  },
  actions: {
    recordPort: assign({
      ports: ({ context, event }) =>
        event.type === 'port.state' ? { ...context.ports, [event.port]: event.state } : context.ports,
    }),
    recordBeat: assign({
      lastBeat: ({ context, event }) => (event.type === 'heartbeat' ? event.at : context.lastBeat),
    }),
  },
}).createMachine({
  id: 'kiosk',
  initial: 'booting',
  context: ({ input }) => ({ ports: input.ports, requiredPorts: input.requiredPorts, lastBeat: input.now }),
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
      on: { 'maintenance.enter': 'maintenance' },
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
