import test from 'ava';
import { SimulatedClock, createActor } from 'xstate';
import type { PortStates } from '../../src/hal/ports.js';
import { kioskMachine, modeOf } from '../../src/pipeline/machine.js';
import { createKioskRuntime, type KioskStatus } from '../../src/pipeline/runtime.js';
import { HealthMonitor } from '../../src/lifecycle/health.js';
import type { CheckinPolicy, CheckinSteps } from '../../src/pipeline/step-ports.js';

const policy: CheckinPolicy = {
  consentTimeoutMs: 30_000,
  verifyAttempts: 3,
  retryPauseMs: 500,
  noPortrait: 'counter',
  departments: ['kham-benh'],
  defaultDepartment: 'kham-benh',
  departmentChoiceMs: 0,
  timeouts: { portraitMs: 3000, captureMs: 4000, verifyMs: 5000, insuranceMs: 6000, numberMs: 2000, printMs: 25_000 },
};
/** These tests look at modes, not steps: every step would hang if reached. */
const never = () => new Promise<never>(() => {});
const steps: CheckinSteps = { portrait: never, capture: never, verify: never, insurance: never, number: never, print: never };

const ready = { kind: 'ready' } as const;
const absent = { kind: 'absent', reason: 'not fitted' } as const;
const allReady: PortStates = { card: ready, camera: ready, printer: ready, indicators: absent, storage: ready, chip: absent };
const required = ['card', 'camera', 'printer'] as const;

function runtime(ports: PortStates, clock = new SimulatedClock()) {
  const rt = createKioskRuntime({ clock, ports, requiredPorts: required, heartbeatMs: 1000, resultHoldMs: 3000, policy, steps });
  const seen: KioskStatus[] = [];
  rt.subscribe((s) => seen.push(s));
  rt.start();
  return { rt, seen, clock };
}

test('boots to idle when every required port is ready (an optional one may be absent)', (t) => {
  const { rt } = runtime(allReady);
  t.is(rt.status().mode, 'booting');
  rt.bootDone();
  t.is(rt.status().mode, 'idle');
});

test('boots out of service when a required port is absent, and recovers when it comes', (t) => {
  const { rt, seen } = runtime({ ...allReady, printer: absent });
  rt.bootDone();
  t.is(rt.status().mode, 'out-of-service');
  rt.portChanged('printer', { kind: 'degraded', code: 'paper-near-end', reason: 'paper-near-end' });
  t.is(rt.status().mode, 'idle');
  rt.portChanged('card', { kind: 'faulted', code: 'disconnected', reason: 'unplugged' });
  t.is(rt.status().mode, 'out-of-service');
  t.deepEqual(rt.status().ports.card, { kind: 'faulted', code: 'disconnected', reason: 'unplugged' });
  rt.portChanged('card', ready);
  t.deepEqual(
    seen.map((s) => s.mode).filter((m, i, a) => a[i - 1] !== m),
    ['booting', 'out-of-service', 'idle', 'out-of-service', 'idle'],
  );
});

test('maintenance holds the kiosk whatever the ports do, and leaves to the right mode', (t) => {
  const { rt } = runtime(allReady);
  rt.bootDone();
  rt.setMaintenance(true);
  t.is(rt.status().mode, 'maintenance');
  rt.portChanged('camera', { kind: 'faulted', code: 'not-present', reason: 'gone' });
  t.is(rt.status().mode, 'maintenance');
  rt.setMaintenance(false);
  t.is(rt.status().mode, 'out-of-service');
  rt.setMaintenance(true);
  rt.portChanged('camera', ready);
  rt.setMaintenance(false);
  t.is(rt.status().mode, 'idle');
});

test('shutdown reaches stopping from every mode and stays there', (t) => {
  for (const setup of [
    (rt: ReturnType<typeof runtime>['rt']) => rt, // booting
    (rt: ReturnType<typeof runtime>['rt']) => rt.bootDone(),
    (rt: ReturnType<typeof runtime>['rt']) => (rt.bootDone(), rt.setMaintenance(true)),
  ]) {
    const { rt } = runtime(allReady);
    setup(rt);
    rt.shutdown();
    t.is(rt.status().mode, 'stopping');
    rt.portChanged('card', absent);
    rt.setMaintenance(false);
    rt.bootDone();
    t.is(rt.status().mode, 'stopping');
  }
});

test('every state of the machine is reachable and none is a dead end except stopping', (t) => {
  // Walk all events from every reachable state; collect edges.
  const events = [
    { type: 'boot.done' },
    { type: 'port.state', port: 'card', state: absent },
    { type: 'port.state', port: 'card', state: ready },
    { type: 'maintenance.enter' },
    { type: 'maintenance.exit' },
    { type: 'card.read', sessionId: 's', card: 'c' },
    { type: 'shutdown' },
  ] as const;
  const reached = new Set<string>();
  const leaves = new Map<string, Set<string>>();
  const queue: Array<Array<(typeof events)[number]>> = [[]];
  const seenPaths = new Set<string>();
  while (queue.length > 0) {
    const path = queue.shift()!;
    const actor = createActor(kioskMachine, { input: { ports: allReady, requiredPorts: required, now: 0, resultHoldMs: 3000, policy } }).start();
    for (const e of path) actor.send(e);
    const from = modeOf(actor.getSnapshot().value);
    const key = `${from}|${JSON.stringify(actor.getSnapshot().context.ports.card)}`;
    reached.add(from);
    if (seenPaths.has(key)) continue;
    seenPaths.add(key);
    for (const e of events) {
      const a2 = createActor(kioskMachine, { input: { ports: allReady, requiredPorts: required, now: 0, resultHoldMs: 3000, policy } }).start();
      for (const p of path) a2.send(p);
      a2.send(e);
      const to = modeOf(a2.getSnapshot().value);
      if (to !== from) (leaves.get(from) ?? leaves.set(from, new Set()).get(from)!).add(to);
      queue.push([...path, e]);
    }
  }
  t.deepEqual([...reached].sort(), ['booting', 'idle', 'in-session', 'maintenance', 'out-of-service', 'stopping']);
  for (const mode of ['booting', 'idle', 'maintenance', 'out-of-service']) t.true((leaves.get(mode)?.size ?? 0) > 0, `${mode} is a dead end`);
  t.false(leaves.has('stopping'));
});

test('heartbeats on the injected clock prove liveness; a stopped machine fails it', (t) => {
  const clock = new SimulatedClock();
  const { rt } = runtime(allReady, clock);
  const health = new HealthMonitor({ clock, maxLoopLagMs: 60_000, heartbeatMs: 1000, lastBeat: () => rt.lastBeat() });
  rt.bootDone();
  clock.increment(10_000);
  t.is(rt.lastBeat(), 10_000);
  t.deepEqual(health.liveness(), { ok: true, reason: null });
  rt.stop(); // a wedged or dead machine no longer handles heartbeats
  clock.increment(10_000);
  const l = health.liveness();
  t.false(l.ok);
  t.regex(l.reason!, /has not handled a heartbeat for 10000 ms/);
  health.close();
});

test('a card read in idle starts a session at the consent step; it ends after the result hold and the kiosk is ready again', (t) => {
  const { rt, clock } = runtime(allReady);
  rt.bootDone();
  t.true(rt.cardRead('s-1', '********0001'));
  t.like(rt.status(), { mode: 'in-session', step: 'consent', sessionId: 's-1' });
  t.false(rt.cardRead('s-2', '********0002'), 'a second card during a session does not start another');
  t.is(rt.status().sessionId, 's-1');
  rt.cancel();
  clock.increment(2999);
  t.is(rt.status().mode, 'in-session');
  clock.increment(1);
  t.like(rt.status(), { mode: 'idle', step: null, sessionId: null });
});

test('a card is not taken while out of service or in maintenance; a port fault during a session ends in out-of-service', (t) => {
  const { rt, clock } = runtime({ ...allReady, printer: absent });
  rt.bootDone();
  t.false(rt.cardRead('s-1', 'x'));
  t.is(rt.status().mode, 'out-of-service');
  rt.portChanged('printer', ready);
  rt.setMaintenance(true);
  t.false(rt.cardRead('s-2', 'x'));
  rt.setMaintenance(false);
  t.true(rt.cardRead('s-3', 'x'));
  rt.portChanged('card', { kind: 'faulted', code: 'disconnected', reason: 'unplugged' });
  t.is(rt.status().mode, 'in-session', 'the patient at the kiosk is not dropped for a scanner fault');
  clock.increment(30_000);
  clock.increment(3000);
  t.like(rt.status(), { mode: 'out-of-service', sessionId: null });
});
