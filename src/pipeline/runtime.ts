import { createActor } from 'xstate';
import type { Clock } from '../util/clock.js';
import { every } from '../util/clock.js';
import type { PortId, PortState, PortStates, Unsubscribe } from '../hal/ports.js';
import { kioskMachine, modeOf, stepOf, type KioskMode } from './machine.js';

export interface KioskStatus {
  readonly mode: KioskMode;
  /** The check-in step while a patient is being served ("card-read" …), else null. */
  readonly step: string | null;
  readonly sessionId: string | null;
  readonly ports: PortStates;
}

export interface KioskRuntime {
  start(): void;
  bootDone(): void;
  portChanged(port: PortId, state: PortState): void;
  /** Offers a read card; true if it started a session (the kiosk was idle). */
  cardRead(sessionId: string, maskedCard: string): boolean;
  setMaintenance(enabled: boolean): void;
  shutdown(): void;
  status(): KioskStatus;
  /** Clock time at which the machine last handled a heartbeat: the liveness proof. */
  lastBeat(): number;
  subscribe(listener: (status: KioskStatus) => void): Unsubscribe;
  stop(): void;
}

export interface RuntimeOptions {
  readonly clock: Clock;
  readonly ports: PortStates;
  readonly requiredPorts: readonly PortId[];
  readonly heartbeatMs: number;
  readonly resultHoldMs: number;
}

export function createKioskRuntime(opts: RuntimeOptions): KioskRuntime {
  const { clock } = opts;
  const actor = createActor(kioskMachine, {
    clock,
    input: { ports: opts.ports, requiredPorts: opts.requiredPorts, now: clock.now(), resultHoldMs: opts.resultHoldMs },
  });
  let stopBeat: (() => void) | null = null;

  const status = (): KioskStatus => {
    const snap = actor.getSnapshot();
    return { mode: modeOf(snap.value), step: stepOf(snap.value), sessionId: snap.context.session?.id ?? null, ports: snap.context.ports };
  };

  return {
    start() {
      actor.start();
      stopBeat = every(clock, opts.heartbeatMs, () => actor.send({ type: 'heartbeat', at: clock.now() }));
    },
    bootDone: () => actor.send({ type: 'boot.done' }),
    portChanged: (port, state) => actor.send({ type: 'port.state', port, state }),
    cardRead(sessionId, card) {
      actor.send({ type: 'card.read', sessionId, card });
      return actor.getSnapshot().context.session?.id === sessionId;
    },
    setMaintenance: (enabled) => actor.send({ type: enabled ? 'maintenance.enter' : 'maintenance.exit' }),
    shutdown: () => actor.send({ type: 'shutdown' }),
    status,
    lastBeat: () => actor.getSnapshot().context.lastBeat,
    subscribe(listener) {
      // Emits only when something a monitor would see changed, not on every heartbeat.
      let last = '';
      const sub = actor.subscribe(() => {
        const s = status();
        const key = JSON.stringify(s);
        if (key !== last) {
          last = key;
          listener(s);
        }
      });
      return () => sub.unsubscribe();
    },
    stop() {
      stopBeat?.();
      actor.stop();
    },
  };
}
