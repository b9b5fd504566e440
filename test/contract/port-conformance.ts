/**
 * What every port promises, whatever its driver (MQTT.js's abstract_store style): one suite,
 * run against each driver on its hw-sim device by port-conformance.test.ts.
 *   - open → ready; unplug → faulted (with a kebab-case code and a reason); replug → ready,
 *     without reopening the port;
 *   - close cancels what is in flight (a job, a capture) and every reconnect attempt: after it,
 *     the port says nothing more, even when the device comes back;
 *   - the same state is never reported twice in a row.
 */
import test, { type ExecutionContext } from 'ava';
import type { Port, PortState } from '../../src/hal/ports.js';

export interface ConformanceRig {
  readonly port: Port;
  /** Takes the device away: pulls the cable, stops the server, removes the program. */
  unplug(): Promise<void>;
  /** Brings it back where the port expects it. */
  replug(): Promise<void>;
  /** Makes the port look at its device, for a port that notices only when used (a camera); the default waits. */
  poke?(): Promise<void>;
  /** Starts something on a caller's behalf that takes long enough for close() to cut it short. */
  inFlight?(): Promise<{ readonly ok: boolean }>;
  /** Stops the simulated device and removes its files. */
  stop(): Promise<void>;
}

export type RigBuilder = (t: ExecutionContext) => Promise<ConformanceRig | null>;

const CODE = /^[a-z]+(-[a-z]+)*$/;

/** Opens the rig's port and records every state it reports. */
async function opened(t: ExecutionContext, build: RigBuilder): Promise<{ rig: ConformanceRig; states: PortState[] } | null> {
  const rig = await build(t);
  if (!rig) return null;
  const states: PortState[] = [];
  rig.port.onStateChange((s) => states.push(s));
  t.teardown(async () => {
    await rig.port.close();
    await rig.stop();
  });
  await rig.port.open(new AbortController().signal);
  return { rig, states };
}

/** Waits for the port to reach `kind`, poking it (a camera notices only when used) while it has not. */
async function reaches(rig: ConformanceRig, kind: PortState['kind'], what: string, ms = 15_000): Promise<PortState> {
  const end = Date.now() + ms;
  while (rig.port.state().kind !== kind) {
    if (Date.now() > end) throw new Error(`${rig.port.id}: ${what} not met within ${ms} ms; state ${JSON.stringify(rig.port.state())}`);
    await rig.poke?.();
    if (rig.port.state().kind !== kind) await new Promise((r) => setTimeout(r, 20));
  }
  return rig.port.state();
}

function noRepeats(t: ExecutionContext, states: readonly PortState[]): void {
  for (let i = 1; i < states.length; i++) {
    t.notDeepEqual(states[i], states[i - 1], `state ${i} repeats the one before: ${JSON.stringify(states[i])}`);
  }
}

/** Registers the conformance tests for one driver; `build` returns null (with the reason logged) where its device cannot run. */
export function portConformance(kind: string, build: RigBuilder): void {
  test(`${kind}: open → ready; unplug → faulted with a code; replug → ready by itself; no state twice in a row`, async (t) => {
    const r = await opened(t, build);
    if (!r) return t.pass();
    const { rig, states } = r;
    await reaches(rig, 'ready', 'ready after open');
    await rig.unplug();
    const faulted = await reaches(rig, 'faulted', 'faulted after unplug');
    t.true(faulted.kind === 'faulted' && CODE.test(faulted.code), `a kebab-case code: ${JSON.stringify(faulted)}`);
    t.true(faulted.kind === 'faulted' && faulted.reason.length > 0, 'a reason for people');
    await rig.replug();
    await reaches(rig, 'ready', 'ready after replug');
    t.deepEqual(rig.port.state(), { kind: 'ready' });
    noRepeats(t, states);
    t.true(states.some((s) => s.kind === 'faulted'));
  });

  test(`${kind}: close cancels what is in flight`, async (t) => {
    const r = await opened(t, build);
    if (!r?.rig.inFlight) return t.pass();
    const { rig, states } = r;
    await reaches(rig, 'ready', 'ready after open');
    const job = rig.inFlight!();
    await new Promise((res) => setTimeout(res, 500)); // under way
    const before = states.length;
    const closedAt = Date.now();
    await rig.port.close();
    const outcome = await job;
    const ms = Date.now() - closedAt;
    t.false(outcome.ok, 'the job in flight did not complete');
    t.true(ms < 3000, `the job ended with the close (${ms} ms)`);
    await new Promise((res) => setTimeout(res, 300));
    t.deepEqual(states.slice(before), [], 'no state reported after close');
    noRepeats(t, states);
  });

  test(`${kind}: close stops reconnecting: the device coming back is not noticed; close is idempotent`, async (t) => {
    const r = await opened(t, build);
    if (!r) return t.pass();
    const { rig, states } = r;
    await reaches(rig, 'ready', 'ready after open');
    await rig.unplug();
    await reaches(rig, 'faulted', 'faulted after unplug');
    const before = states.length;
    await rig.port.close();
    await rig.replug();
    await new Promise((res) => setTimeout(res, 1500)); // longer than any reconnect delay in the rigs
    t.deepEqual(states.slice(before), [], 'no state reported after close');
    t.is(rig.port.state().kind, 'faulted');
    await rig.port.close();
    noRepeats(t, states);
  });
}
