import { createActor, fromPromise } from 'xstate';
import type { Clock } from '../util/clock.js';
import { every } from '../util/clock.js';
import type { PortId, PortState, PortStates, Unsubscribe } from '../hal/ports.js';
import { kioskMachine, modeOf, stepOf, type KioskMode, type Session } from './machine.js';
import type { CheckinPolicy, CheckinSteps } from './step-ports.js';

/** A check-in began, or ended with its outcome and how long each step took (ms, summed over attempts). */
export type SessionReport =
  | { readonly type: 'started'; readonly session: Session }
  | { readonly type: 'ended'; readonly session: Session; readonly stepsMs: Readonly<Record<string, number>>; readonly totalMs: number };

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
  /** The patient's answer to the consent question (button or front end). */
  consent(yes: boolean): void;
  chooseDepartment(department: string): void;
  cancel(): void;
  setMaintenance(enabled: boolean): void;
  shutdown(): void;
  status(): KioskStatus;
  /** Clock time at which the machine last handled a heartbeat: the liveness proof. */
  lastBeat(): number;
  subscribe(listener: (status: KioskStatus) => void): Unsubscribe;
  onSession(listener: (report: SessionReport) => void): Unsubscribe;
  stop(): void;
}

export interface RuntimeOptions {
  readonly clock: Clock;
  readonly ports: PortStates;
  readonly requiredPorts: readonly PortId[];
  readonly heartbeatMs: number;
  /**
   * Paces and stamps the liveness heartbeat; `clock` unless given. Liveness is about this
   * process, so under hw-sim's movable clock it stays on real time: a jump is not a stall.
   */
  readonly heartbeatClock?: Clock;
  readonly resultHoldMs: number;
  readonly policy: CheckinPolicy;
  readonly steps: CheckinSteps;
}

export function createKioskRuntime(opts: RuntimeOptions): KioskRuntime {
  const { clock } = opts;
  const { steps } = opts;
  const machine = kioskMachine.provide({
    actors: {
      portrait: fromPromise(({ input, signal }) => steps.portrait(input, signal)),
      capture: fromPromise(({ input, signal }) => steps.capture(input, signal)),
      verify: fromPromise(({ input, signal }) => steps.verify(input, signal)),
      insurance: fromPromise(({ input, signal }) => steps.insurance(input, signal)),
      number: fromPromise(({ input, signal }) => steps.number(input, signal)),
      print: fromPromise(({ input, signal }) => steps.print(input, signal)),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: { ports: opts.ports, requiredPorts: opts.requiredPorts, now: clock.now(), resultHoldMs: opts.resultHoldMs, policy: opts.policy },
  });
  let stopBeat: (() => void) | null = null;

  // Step durations, measured on the injected clock as the machine moves (the machine stays pure).
  const sessionListeners = new Set<(r: SessionReport) => void>();
  let timing: { step: string | null; since: number; started: number; stepsMs: Record<string, number> } | null = null;
  const closeStep = (now: number): void => {
    if (timing?.step) timing.stepsMs[timing.step] = (timing.stepsMs[timing.step] ?? 0) + (now - timing.since);
  };
  actor.on('session.started', ({ session }) => {
    const now = clock.now();
    timing = { step: null, since: now, started: now, stepsMs: {} };
    for (const l of sessionListeners) l({ type: 'started', session });
  });
  actor.on('session.ended', ({ session }) => {
    const now = clock.now();
    closeStep(now);
    const report: SessionReport = { type: 'ended', session, stepsMs: { ...(timing?.stepsMs ?? {}) }, totalMs: now - (timing?.started ?? now) };
    timing = null;
    for (const l of sessionListeners) l(report);
  });
  actor.subscribe((snap) => {
    if (!timing) return;
    const step = stepOf(snap.value);
    if (step === timing.step) return;
    const now = clock.now();
    closeStep(now);
    timing.step = step;
    timing.since = now;
  });

  const status = (): KioskStatus => {
    const snap = actor.getSnapshot();
    return { mode: modeOf(snap.value), step: stepOf(snap.value), sessionId: snap.context.session?.id ?? null, ports: snap.context.ports };
  };

  return {
    start() {
      actor.start();
      const beat = opts.heartbeatClock ?? clock;
      stopBeat = every(beat, opts.heartbeatMs, () => actor.send({ type: 'heartbeat', at: beat.now() }));
    },
    bootDone: () => actor.send({ type: 'boot.done' }),
    portChanged: (port, state) => actor.send({ type: 'port.state', port, state }),
    cardRead(sessionId, card) {
      actor.send({ type: 'card.read', sessionId, card });
      return actor.getSnapshot().context.session?.id === sessionId;
    },
    consent: (yes) => actor.send({ type: yes ? 'consent.yes' : 'consent.no' }),
    chooseDepartment: (department) => actor.send({ type: 'department.choose', department }),
    cancel: () => actor.send({ type: 'cancel' }),
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
    onSession(listener) {
      sessionListeners.add(listener);
      return () => sessionListeners.delete(listener);
    },
    stop() {
      stopBeat?.();
      actor.stop();
    },
  };
}
