// The daemon's features, each on its own with in-process fakes of its ports and SimulatedClock:
// what used to be testable only by spawning the daemon.
import test from 'ava';
import { pino } from 'pino';
import { SimulatedClock } from 'xstate';
import { startAll, stopAll, type Feature } from '../../src/daemon/feature.js';
import { cardIntake } from '../../src/features/card-intake.js';
import { checkinRecorder } from '../../src/features/checkin-recorder.js';
import { healthReport } from '../../src/features/health-report.js';
import { portAlerts } from '../../src/features/port-alerts.js';
import { queueHousekeeping } from '../../src/features/queue-housekeeping.js';
import { PORT_IDS, type PortId, type PortState } from '../../src/hal/ports.js';
import type { ScanResult } from '../../src/hal/card/types.js';
import type { Session } from '../../src/pipeline/session.js';
import type { SessionReport } from '../../src/pipeline/runtime.js';

const log = pino({ level: 'silent' });

function recorder() {
  const events: Array<{ kind: string; data: Record<string, unknown> }> = [];
  const retained: Array<{ kind: string; payload: unknown }> = [];
  return {
    events,
    retained,
    publish: {
      event: (kind: string, data: unknown) => void events.push({ kind, data: data as Record<string, unknown> }),
      retained: (kind: string, payload: unknown) => void retained.push({ kind, payload }),
    },
  };
}

function fakePorts() {
  const listeners = new Map<PortId, Set<(s: PortState) => void>>(PORT_IDS.map((id) => [id, new Set()]));
  const ports = Object.fromEntries(
    PORT_IDS.map((id) => [
      id,
      {
        onStateChange: (l: (s: PortState) => void) => {
          listeners.get(id)!.add(l);
          return () => void listeners.get(id)!.delete(l);
        },
      },
    ]),
  ) as Record<PortId, { onStateChange(l: (s: PortState) => void): () => void }>;
  return { ports, emit: (id: PortId, s: PortState) => listeners.get(id)!.forEach((l) => l(s)), listeners };
}

test('features start in order and stop in reverse; a stop that throws does not keep the rest running', async (t) => {
  const calls: string[] = [];
  const f = (name: string, failStop = false): Feature => ({
    name,
    start: () => void calls.push(`start ${name}`),
    stop: () => {
      calls.push(`stop ${name}`);
      if (failStop) throw new Error('stuck');
    },
  });
  const features = [f('store'), f('mqtt', true), f('intake')];
  await startAll(features, new AbortController().signal);
  await stopAll(features, log);
  t.deepEqual(calls, ['start store', 'start mqtt', 'start intake', 'stop intake', 'stop mqtt', 'stop store']);
});

test('a printer out of paper raises alert printer.paper-out from the port code; paper near end is a warning; ready raises none', async (t) => {
  const { ports, emit, listeners } = fakePorts();
  const seen: Array<[PortId, PortState]> = [];
  const out = recorder();
  const feature = portAlerts({ ports, runtime: { portChanged: (id, s) => void seen.push([id, s]) }, publish: out.publish as never });
  await feature.start(new AbortController().signal);
  emit('printer', { kind: 'faulted', code: 'paper-out', reason: 'out of paper: load a new roll' });
  emit('printer', { kind: 'degraded', code: 'paper-near-end', reason: 'paper near end' });
  emit('printer', { kind: 'ready' });
  t.is(seen.length, 3, 'the machine hears every state');
  t.like(out.events, [
    {
      kind: 'alert',
      data: { level: 'error', code: 'printer.paper-out', message: 'printer faulted: out of paper: load a new roll', port: 'printer' },
    },
    { kind: 'alert', data: { level: 'warning', code: 'printer.paper-near-end', port: 'printer' } },
  ]);
  t.is(out.events.length, 2);
  await feature.stop();
  t.is(listeners.get('printer')!.size, 0, 'stopping unsubscribes');
});

test('a scanner streaming garbage: 20 rejections a minute are reported one by one, the rest counted once in an alert', async (t) => {
  const clock = new SimulatedClock();
  const out = recorder();
  let onScan: (r: ScanResult) => boolean | void = () => {};
  const feature = cardIntake({
    card: { onScan: (l) => ((onScan = l), () => {}) },
    indicators: { onButton: () => () => {} },
    warmCamera: null,
    runtime: { status: () => ({ mode: 'idle', step: null, sessionId: null, ports: {} as never }), cardRead: () => false, consent: () => {} },
    sessions: { open: () => ({}) as never, drop: () => {} },
    publish: out.publish as never,
    clock,
    wallClock: () => new Date('2026-12-07T08:00:00Z'),
    today: () => ({ year: 2026, month: 12, day: 7 }),
    log,
    buttonLog: log,
  });
  await feature.start(new AbortController().signal);
  const garbage: ScanResult = {
    kind: 'rejected',
    rejection: { code: 'not-cccd', message: 'not a CCCD QR' },
    summary: { bytes: 5, fields: 1, idLast4: null },
  } as never;
  for (let i = 0; i < 25; i++) onScan(garbage);
  t.is(out.events.filter((e) => e.kind === 'card.rejected').length, 20);
  clock.increment(60_000);
  t.like(out.events.at(-1), { kind: 'alert', data: { code: 'card.rejected_flood', count: 5, port: 'card' } });
  await feature.stop();
});

test('the watchdog is fed only while the process is live; a failure is logged once and pings resume when it clears', async (t) => {
  const clock = new SimulatedClock();
  let live = { ok: true, reason: null as string | null };
  let pings = 0;
  const out = recorder();
  const feature = healthReport({
    health: { liveness: () => live, report: () => ({ uptime_s: 1, rss_mb: 1, heap_used_mb: 1, loop_lag_p99_ms: 1, liveness: live }) } as never,
    tensors: () => null,
    faceRestarts: null,
    store: { countToday: () => 3 },
    link: { stats: () => ({}) as never },
    publish: out.publish as never,
    notifier: { watchdog: () => void pings++ },
    everyMs: 30_000,
    watchdogPingMs: 1000,
    clock,
    wallClock: () => new Date('2026-12-07T08:00:00Z'),
    log,
  });
  await feature.start(new AbortController().signal);
  t.like(out.retained[0], { kind: 'health', payload: { checkins_today: 3 } });
  const seconds = (n: number) => {
    for (let i = 0; i < n; i++) clock.increment(1000);
  };
  seconds(3);
  t.is(pings, 3);
  live = { ok: false, reason: 'event loop stalled' };
  seconds(3);
  t.is(pings, 3, 'no ping while liveness fails');
  live = { ok: true, reason: null };
  seconds(1);
  t.is(pings, 4);
  await feature.stop();
  seconds(60);
  t.is(pings, 4, 'stopped: no more pings');
  t.is(out.retained.length, 1, 'stopped: no more health reports');
});

test('a clock far past the newest check-in holds the purge back and alerts once per episode, not every 6 hours', async (t) => {
  const clock = new SimulatedClock();
  const out = recorder();
  const newest = new Date('2026-01-01T00:00:00Z');
  const feature = queueHousekeeping({
    store: {
      settleAfterCrash: () => ({ unknown: [], interrupted: 0 }),
      clockCheck: () => ({ steppedBack: false, clockDay: '2026-12-07', highDay: null, newest: null }),
      purge: () => ({ checkins: 0, lookups: 0, refused: { aheadHours: 8000, newest } }),
    } as never,
    spooler: { recordUnknown: () => {} },
    publish: out.publish as never,
    retentionDays: 30,
    clock,
    wallClock: () => new Date('2026-12-07T08:00:00Z'),
    log,
  });
  await feature.start(new AbortController().signal);
  for (let i = 0; i < 3; i++) clock.increment(6 * 3600_000);
  t.is(out.events.filter((e) => e.data['code'] === 'clock.implausible').length, 1);
  await feature.stop();
});

test('a check-in that ends with a number but no BHYT answer is recorded once, queued for a later lookup, announced, and its personal data dropped', async (t) => {
  const out = recorder();
  let report: (r: SessionReport) => void = () => {};
  const finished: unknown[] = [];
  const lookups: Array<[string, { cardId: string }]> = [];
  const dropped: string[] = [];
  const identity = { idNumber: '001099012345', fullName: 'Nguyễn Văn A', dateOfBirth: '1950-01-01' };
  const feature = checkinRecorder({
    runtime: { onSession: (l) => ((report = l), () => {}) },
    sessions: {
      get: () => ({ identity, startedAt: new Date('2026-12-07T08:00:00Z'), priority: 'elderly' }) as never,
      drop: (id) => void dropped.push(id),
    },
    store: { begin: () => {}, finish: (r) => void finished.push(r), queueLookup: (id, q) => void lookups.push([id, q]) },
    publish: out.publish as never,
    wallClock: () => new Date('2026-12-07T08:01:00Z'),
    log,
  });
  await feature.start(new AbortController().signal);
  const session = {
    id: 's1',
    card: '********2345',
    attempt: 1,
    faceVerified: true,
    score: 0.7,
    insurance: { kind: 'unchecked', reason: 'gateway down' },
    department: 'noi',
    ticket: 'queue',
    counterReason: null,
    number: 'A007',
    outcome: 'printed',
    reason: null,
    exitTo: null,
    reported: true,
    printed: true,
  } as unknown as Session;
  report({ type: 'started', session });
  report({ type: 'ended', session, stepsMs: { consent: 1200.4, print: 800.6 }, totalMs: 4000.2 });
  t.is(finished.length, 1);
  t.like(finished[0], { checkinId: 's1', outcome: 'printed', department: 'noi', faceVerified: true, bhytState: 'unchecked' });
  t.deepEqual(lookups, [['s1', { cardId: '001099012345', fullName: 'Nguyễn Văn A', dateOfBirth: '1950-01-01' }]]);
  t.like(out.events, [
    { kind: 'checkin.started', data: { session_id: 's1', card: '********2345', priority: true } },
    {
      kind: 'checkin.completed',
      data: { session_id: 's1', number: 'A007', ticket: 'queue', steps_ms: { consent: 1200, print: 801 }, total_ms: 4000 },
    },
  ]);
  t.false(JSON.stringify(out.events).includes('001099012345'), 'no ID number in an event');
  t.deepEqual(dropped, ['s1']);
});
