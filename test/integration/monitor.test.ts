/**
 * `kioskd monitor`: the fleet reducer and the renderer with a hand-driven clock, then the real
 * command against a whole virtual kiosk (hw-sim devices, broker and the real daemon).
 */
import test from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import mqtt from 'mqtt';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../hw-sim/broker.js';
import { startKioskSim, type KioskSim } from '../../hw-sim/kiosk.js';
import { until } from '../../hw-sim/wait.js';
import type { PortState } from '../../src/hal/ports.js';
import {
  copyFleet,
  emptyFleet,
  fleetRows,
  kioskLimit,
  kioskRow,
  MAX_KIOSKS,
  reduceFleet,
  type Fleet,
  type FleetMessage,
} from '../../src/monitor/fleet.js';
import { age, changeKey, limitJson, limitText, renderTable, rowJson } from '../../src/monitor/render.js';
import type { AlertPayload, EventEnvelope, EventTopics, HealthPayload, InfoPayload, StatePayload } from '../../src/mqtt/topics.js';
import { runKioskdCli } from '../helpers/kioskd-cli.js';
import { freePort } from '../helpers/ports.js';
import { kioskdArgv } from '../../hw-sim/daemon.js';

// ---------- payloads exactly as the daemon publishes them (typed by the MQTT contract) ----------

/** A fixed local time: 2025-03-10 10:00 in the test machine's zone, so "today" is zone-proof. */
const T0 = new Date(2025, 2, 10, 10, 0, 0).getTime();
const S = 1000;
const MIN = 60 * S;

const ports = (printer: PortState): StatePayload['ports'] => ({
  card: { kind: 'ready' },
  camera: { kind: 'ready' },
  printer,
  indicators: { kind: 'ready' },
  storage: { kind: 'ready' },
  chip: { kind: 'absent', reason: 'chip reading is off (chip.enabled: false)' },
});
const state = (mode: StatePayload['mode'], printer: PortState = { kind: 'ready' }, step: string | null = null): string =>
  JSON.stringify({ mode, step, session_id: step ? 's-1' : null, ports: ports(printer), since: new Date(T0).toISOString() } satisfies StatePayload);
/** A health report the kiosk took at `ts` (its own clock). */
const health = (ts: number, checkinsToday?: number): string =>
  JSON.stringify({
    uptime_s: 100,
    rss_mb: 120,
    heap_used_mb: 40,
    loop_lag_p99_ms: 3,
    tensors: null,
    ...(checkinsToday === undefined ? {} : { checkins_today: checkinsToday }),
    mqtt: { queued: 0, dropped: 0 },
    liveness: { ok: true, reason: null },
    ts: new Date(ts).toISOString(),
  } satisfies HealthPayload);
const info = (version: string): string =>
  JSON.stringify({
    schema: 1,
    version,
    hal_mode: 'sim',
    drivers: {},
    mqtt_protocol: 4,
    started_at: new Date(T0).toISOString(),
  } satisfies InfoPayload);
let eventNo = 0;
const event = <K extends keyof EventTopics>(_kind: K, data: EventTopics[K], ts: number): string =>
  JSON.stringify({ id: `ev-${++eventNo}`, ts: new Date(ts).toISOString(), data } satisfies EventEnvelope<EventTopics[K]>);
const alert = (level: AlertPayload['level'], ts: number): string =>
  event('alert', { level, code: 'printer.paper-out', message: 'printer faulted: paper-out', port: 'printer' }, ts);
const completed = (ts: number, n: number): string =>
  event(
    'checkin.completed',
    {
      session_id: `s-${n}`,
      outcome: 'printed',
      reason: null,
      ticket: 'queue',
      number: `A${String(n).padStart(3, '0')}`,
      ticket_printed: true,
      department: 'kham-benh',
      face_verified: true,
      attempts: 1,
      bhyt_code: '000',
      bhyt: 'checked',
      steps_ms: {},
      total_ms: 9000,
    },
    ts,
  );

const live = (topic: string, payload: string): FleetMessage => ({ topic, payload, retain: false });
const retained = (topic: string, payload: string): FleetMessage => ({ topic, payload, retain: true });
const fold = (msgs: Array<[FleetMessage, number]>, fleet: Fleet = emptyFleet()): Fleet => msgs.reduce((f, [m, now]) => reduceFleet(f, m, now), fleet);
const row = (f: Fleet, id: string, now: number) => kioskRow(f, id, now)!;

// ---------- the reducer ----------

test('a kiosk appears from its retained topics with status, mode, step, paper and version', (t) => {
  const f = fold([
    [retained('kiosk/lobby-1/status', 'online'), T0],
    [retained('kiosk/lobby-1/info', info('1.4.0')), T0],
    [retained('kiosk/lobby-1/state', state('in-session', { kind: 'ready' }, 'consent')), T0],
    [retained('kiosk/lobby-1/health', health(T0, 12)), T0],
  ]);
  t.like(row(f, 'lobby-1', T0 + 5 * S), {
    kiosk: 'lobby-1',
    status: 'online',
    mode: 'in-session',
    step: 'consent',
    paper: 'ok',
    printer: 'ready',
    version: '1.4.0',
    checkinsToday: 12,
    errors1h: 0,
    lastSeen: T0,
  });
});

test('retained values other than "online" are old news: they do not count as a sign of life', (t) => {
  const f = fold([
    [retained('kiosk/k/state', state('idle')), T0],
    [retained('kiosk/k/health', health(T0, 3)), T0],
  ]);
  t.like(row(f, 'k', T0), { status: 'unknown', lastSeen: null, mode: 'idle' });
  const off = fold([[retained('kiosk/k/status', 'offline'), T0]], copyFleet(f));
  t.like(row(off, 'k', T0), { status: 'offline', lastSeen: null });
  // The broker's will ("offline", live) is not the kiosk speaking either.
  const seen = fold(
    [
      [live('kiosk/k/health', health(T0 + MIN, 3)), T0 + MIN],
      [live('kiosk/k/status', 'offline'), T0 + 2 * MIN],
    ],
    f,
  );
  t.like(row(seen, 'k', T0 + 2 * MIN), { status: 'offline', lastSeen: T0 + MIN });
  t.like(row(fold([[live('kiosk/k/status', 'stopped'), T0 + 3 * MIN]], seen), 'k', T0 + 3 * MIN), { status: 'stopped', lastSeen: T0 + 3 * MIN });
});

test('an online kiosk goes stale after 90 s of silence, or after 3 health intervals once they are known', (t) => {
  let f = fold([[retained('kiosk/k/status', 'online'), T0]]);
  t.is(row(f, 'k', T0 + 89 * S).status, 'online');
  t.is(row(f, 'k', T0 + 91 * S).status, 'stale');
  // Health every 60 s: stale only after 180 s without a word.
  f = fold(
    [
      [live('kiosk/k/health', health(T0 + 60 * S)), T0 + 60 * S],
      [live('kiosk/k/health', health(T0 + 120 * S)), T0 + 120 * S],
    ],
    f,
  );
  t.is(row(f, 'k', T0 + 120 * S + 170 * S).status, 'online');
  t.is(row(f, 'k', T0 + 120 * S + 181 * S).status, 'stale');
  // Any live message is a sign of life; a stale kiosk that speaks is online again.
  f = fold([[live('kiosk/k/event/lifecycle', event('lifecycle', { phase: 'started' }, T0 + 400 * S)), T0 + 400 * S]], f);
  t.like(row(f, 'k', T0 + 401 * S), { status: 'online', lastSeen: T0 + 400 * S });
  t.is(age(T0 + 401 * S - f.kiosks.get('k')!.lastSeen!), '1s');
});

test('paper follows the printer port in the real state payloads: ok, low, out, unknown', (t) => {
  const paperAt = (printer: PortState) => row(fold([[live('kiosk/k/state', state('idle', printer)), T0]]), 'k', T0);
  t.like(paperAt({ kind: 'ready' }), { paper: 'ok', printer: 'ready' });
  t.like(paperAt({ kind: 'degraded', code: 'paper-near-end', reason: 'paper-near-end' }), { paper: 'low', printer: 'degraded(paper-near-end)' });
  t.like(paperAt({ kind: 'faulted', code: 'paper-out', reason: 'paper-out' }), { paper: 'out', printer: 'faulted(paper-out)' });
  t.like(paperAt({ kind: 'faulted', code: 'cover-open', reason: 'cover-open' }), { paper: 'unknown', printer: 'faulted(cover-open)' });
  t.like(paperAt({ kind: 'faulted', code: 'not-answering', reason: 'not-answering', retryInMs: 2000 }), {
    paper: 'unknown',
    printer: 'faulted(not-answering)',
  });
  t.like(paperAt({ kind: 'absent', reason: 'not configured' }), { paper: 'unknown', printer: 'absent' });
  t.like(paperAt({ kind: 'connecting', attempt: 3 }), { paper: 'unknown', printer: 'connecting#3' });
  // Out, then the roll is changed: the latest state wins.
  const f = fold([
    [live('kiosk/k/state', state('out-of-service', { kind: 'faulted', code: 'paper-out', reason: 'paper-out' })), T0],
    [live('kiosk/k/state', state('idle')), T0 + MIN],
  ]);
  t.like(row(f, 'k', T0 + MIN), { paper: 'ok', mode: 'idle' });
});

test('errors in the last hour: error/critical alerts and failed tickets, sliding out after an hour', (t) => {
  const failedTicket = event('ticket.failed', { ticket_id: 't-1', number: 'A001', department: 'kham-benh', reason: 'paper-out' }, T0 + 10 * MIN);
  const f = fold([
    [live('kiosk/k/event/alert', alert('error', T0)), T0],
    [live('kiosk/k/event/alert', alert('warning', T0 + MIN)), T0 + MIN],
    [live('kiosk/k/event/alert', alert('critical', T0 + 5 * MIN)), T0 + 5 * MIN],
    [live('kiosk/k/event/ticket.failed', failedTicket), T0 + 10 * MIN],
    // QoS 1 may deliver the same event twice: counted once.
    [live('kiosk/k/event/ticket.failed', failedTicket), T0 + 10 * MIN],
  ]);
  t.is(row(f, 'k', T0 + 10 * MIN).errors1h, 3);
  t.is(row(f, 'k', T0 + 61 * MIN).errors1h, 2, 'the first error is over an hour old');
  t.is(row(f, 'k', T0 + 66 * MIN).errors1h, 1);
  t.is(row(f, 'k', T0 + 71 * MIN).errors1h, 0);
  // An event replayed after an outage carries its own, old time: it may be out of the window already.
  const replayed = fold([[live('kiosk/k/event/alert', alert('error', T0)), T0 + 2 * 60 * MIN]], f);
  t.is(row(replayed, 'k', T0 + 2 * 60 * MIN).errors1h, 0);
});

test('the error window keeps bounded memory under an alert storm', (t) => {
  let f = emptyFleet();
  for (let i = 0; i < 5000; i++) f = reduceFleet(f, live('kiosk/k/event/alert', alert('error', T0 + i * 100)), T0 + i * 100);
  const k = f.kiosks.get('k')!;
  t.true(k.errors.length <= 1000, `kept ${k.errors.length} timestamps`);
  t.true(k.recentIds.length <= 64);
  t.is(row(f, 'k', T0 + 5000 * 100).errors1h, 1000);
});

test("check-ins today: the kiosk's own count when its health has it, plus tickets since; else counted since local midnight", (t) => {
  let f = fold([[retained('kiosk/k/health', health(T0, 7)), T0]]);
  t.is(row(f, 'k', T0).checkinsToday, 7);
  f = fold([[live('kiosk/k/event/checkin.completed', completed(T0 + MIN, 8)), T0 + MIN]], f);
  t.is(row(f, 'k', T0 + MIN).checkinsToday, 8, 'a ticket since the last health adds one');
  f = fold([[live('kiosk/k/health', health(T0 + 2 * MIN, 8)), T0 + 2 * MIN]], f);
  t.is(row(f, 'k', T0 + 2 * MIN).checkinsToday, 8, 'the next health already includes it');
  // After midnight yesterday's health no longer counts.
  const tomorrow = new Date(2025, 2, 11, 0, 5).getTime();
  t.is(row(f, 'k', tomorrow).checkinsToday, 0);
  // A kiosk whose health has no count (an older daemon): completions since midnight are counted.
  let g = fold([
    [live('kiosk/old/health', health(T0)), T0],
    [live('kiosk/old/event/checkin.completed', completed(new Date(2025, 2, 9, 23, 50).getTime(), 1)), T0],
    [live('kiosk/old/event/checkin.completed', completed(T0 + MIN, 2)), T0 + MIN],
    [live('kiosk/old/event/checkin.completed', completed(T0 + 2 * MIN, 3)), T0 + 2 * MIN],
  ]);
  t.is(row(g, 'old', T0 + 2 * MIN).checkinsToday, 2, 'the one before midnight is yesterday');
  g = fold([[live('kiosk/old/event/checkin.completed', completed(tomorrow, 4)), tomorrow]], g);
  t.is(row(g, 'old', tomorrow).checkinsToday, 1);
  // A failed check-in is not a check-in.
  const failed = event(
    'checkin.failed',
    { ...(JSON.parse(completed(T0, 9)) as EventEnvelope<EventTopics['checkin.failed']>).data, outcome: 'declined', ticket: null, number: null },
    T0,
  );
  t.is(row(fold([[live('kiosk/x/event/checkin.failed', failed), T0]]), 'x', T0).checkinsToday, 0);
});

test('check-ins after a broker outage: the health sent on reconnect already counts the replayed tickets older than it', (t) => {
  let f = fold([
    [retained('kiosk/k/status', 'online'), T0],
    [retained('kiosk/k/health', health(T0, 5)), T0],
  ]);
  t.is(row(f, 'k', T0).checkinsToday, 5);
  // The broker is away from T0+1m to T0+10m. Meanwhile the kiosk prints #6 and #7, takes its
  // health (7), prints #8. On reconnect it sends that health first, then the queued events.
  const back = T0 + 10 * MIN;
  f = fold(
    [
      [live('kiosk/k/status', 'online'), back],
      [live('kiosk/k/health', health(T0 + 4 * MIN, 7)), back],
      [live('kiosk/k/event/checkin.completed', completed(T0 + 2 * MIN, 6)), back],
      [live('kiosk/k/event/checkin.completed', completed(T0 + 3 * MIN, 7)), back],
      [live('kiosk/k/event/checkin.completed', completed(T0 + 5 * MIN, 8)), back],
    ],
    f,
  );
  t.is(row(f, 'k', back).checkinsToday, 8, 'the kiosk printed 8: 7 in its health, 1 after it (not 7 + 3)');
  f = fold([[live('kiosk/k/event/checkin.completed', completed(back + MIN, 9)), back + MIN]], f);
  t.is(row(f, 'k', back + MIN).checkinsToday, 9);
  f = fold([[live('kiosk/k/health', health(back + 2 * MIN, 9)), back + 2 * MIN]], f);
  t.is(row(f, 'k', back + 2 * MIN).checkinsToday, 9, 'the next health agrees');
});

test("a retained health from yesterday is not today's count: the check-ins since local midnight are", (t) => {
  const yesterdayEvening = new Date(2025, 2, 9, 18, 0).getTime();
  // The monitor starts this morning; the kiosk was switched off last night and its last health stays on the broker.
  let f = fold([
    [retained('kiosk/k/status', 'offline'), T0],
    [retained('kiosk/k/health', health(yesterdayEvening, 40)), T0],
  ]);
  t.is(row(f, 'k', T0).checkinsToday, 0, "yesterday's 40 are not today's");
  f = fold([[live('kiosk/k/event/checkin.completed', completed(T0 + MIN, 1)), T0 + MIN]], f);
  t.is(row(f, 'k', T0 + MIN).checkinsToday, 1);
  // A ticket of last night replayed late is yesterday's too.
  f = fold([[live('kiosk/k/event/checkin.completed', completed(yesterdayEvening + MIN, 41)), T0 + 2 * MIN]], f);
  t.is(row(f, 'k', T0 + 2 * MIN).checkinsToday, 1);
  // Today's first health takes over, and the tickets after it add to it.
  f = fold(
    [
      [live('kiosk/k/health', health(T0 + 3 * MIN, 1)), T0 + 3 * MIN],
      [live('kiosk/k/event/checkin.completed', completed(T0 + 4 * MIN, 2)), T0 + 4 * MIN],
    ],
    f,
  );
  t.is(row(f, 'k', T0 + 4 * MIN).checkinsToday, 2);
});

test('a flood of kiosk ids is folded in place and capped; copyFleet branches off an independent fleet', (t) => {
  const f = emptyFleet();
  for (let i = 0; i < MAX_KIOSKS + 50; i++) t.is(reduceFleet(f, retained(`kiosk/k${i}/status`, 'online'), T0), f);
  t.is(f.kiosks.size, MAX_KIOSKS, 'kiosks beyond the cap are not tracked');
  t.is(row(f, 'k0', T0).status, 'online');
  t.is(kioskRow(f, `k${MAX_KIOSKS}`, T0), null);
  // A known kiosk still updates at the cap.
  const branch = copyFleet(f);
  reduceFleet(branch, live('kiosk/k0/status', 'stopped'), T0 + S);
  t.is(row(branch, 'k0', T0 + S).status, 'stopped');
  t.is(row(f, 'k0', T0 + S).status, 'online', 'the fleet it was copied from is unchanged');
});

test('garbage never throws and makes no phantom kiosks beyond the one the topic names', (t) => {
  const before = fold([
    [retained('kiosk/k/status', 'online'), T0],
    [retained('kiosk/k/state', state('idle')), T0],
  ]);
  const junk: FleetMessage[] = [
    live('kiosk/k/state', '{not json'),
    live('kiosk/k/state', '[1,2,3]'),
    live('kiosk/k/state', 'null'),
    live('kiosk/k/state', JSON.stringify({ mode: 42, ports: 'x' })),
    live('kiosk/k/health', JSON.stringify({ checkins_today: 'many' })),
    live('kiosk/k/status', 'sleepy'),
    live('kiosk/k/event/alert', '\u0000\u00ff'),
    live('kiosk/k/event/alert', JSON.stringify({ id: 5, ts: 'yesterday', data: 'boom' })),
    { topic: 'kiosk/k/info', payload: Uint8Array.of(0xff, 0xfe, 0x00), retain: false },
    // Not topics a kiosk publishes: ignored entirely.
    live('kiosk/phantom/frobnicate', '{}'),
    live('kiosk/phantom2/cmd/ping', '{}'),
    live('kiosk/phantom3/event/a/b', '{}'),
    live('kiosk//status', 'online'),
    live('kiosk', 'online'),
    live('other/k9/status', 'online'),
  ];
  let f = before;
  for (const m of junk) t.notThrows(() => (f = reduceFleet(f, m, T0 + S)), m.topic);
  t.deepEqual([...f.kiosks.keys()], ['k']);
  t.like(row(f, 'k', T0 + S), { status: 'online', mode: 'idle', paper: 'ok', errors1h: 0, checkinsToday: 0 });
  // A garbage payload on a kiosk's own topic does show that kiosk (it is on the broker).
  t.deepEqual([...reduceFleet(emptyFleet(), live('kiosk/newbie/state', 'garbage'), T0).kiosks.keys()], ['newbie']);
});

test('the prefix is configurable, and clearing every retained topic removes a decommissioned kiosk', (t) => {
  const f = fold(
    [
      [retained('hospital-a/k1/status', 'online'), T0],
      [retained('kiosk/k2/status', 'online'), T0],
      [retained('hospital-a/k1/state', state('idle')), T0],
    ],
    emptyFleet('hospital-a'),
  );
  t.deepEqual([...f.kiosks.keys()], ['k1']);
  const cleared = fold(
    [
      [live('hospital-a/k1/status', ''), T0],
      [live('hospital-a/k1/state', ''), T0],
    ],
    f,
  );
  t.deepEqual([...cleared.kiosks.keys()], []);
});

/** What a hostile client retained for a made-up kiosk: "online", idle, paper ok. */
const ghost = (f: Fleet, id: string, now = T0): Fleet =>
  fold(
    [
      [retained(`kiosk/${id}/status`, 'online'), now],
      [retained(`kiosk/${id}/state`, state('idle')), now],
    ],
    f,
  );

test('the security review: 10,050 retained ghost ids fill the cap, and a real kiosk coming online later is still shown', (t) => {
  let f = emptyFleet();
  const started = performance.now();
  for (let i = 0; i < MAX_KIOSKS + 50; i++) f = ghost(f, `ghost-${i}`);
  t.is(f.kiosks.size, MAX_KIOSKS);
  t.like(kioskLimit(f), { max: MAX_KIOSKS, kiosks: MAX_KIOSKS, ignored: 50, ignoredExact: true, evicted: 0 }, 'the full cap is counted, not silent');
  // The real kiosk connects: its retained status reaches the subscribed monitor as a live message.
  f = fold(
    [
      [live('kiosk/lobby-1/status', 'online'), T0 + MIN],
      [live('kiosk/lobby-1/state', state('out-of-service', { kind: 'faulted', code: 'paper-out', reason: 'paper-out' })), T0 + MIN],
    ],
    f,
  );
  t.like(row(f, 'lobby-1', T0 + MIN), { status: 'online', mode: 'out-of-service', paper: 'out', lastSeen: T0 + MIN });
  t.is(f.kiosks.size, MAX_KIOSKS, 'still within the cap');
  t.is(kioskRow(f, 'ghost-0', T0 + MIN), null, 'the oldest retained-only ghost made room');
  // Its retained "online" moved SEEN (the broker holding a session would keep it), but never made it a kiosk heard live.
  t.like(row(f, 'ghost-1', T0 + MIN), { status: 'online', lastSeen: T0 });
  t.like(kioskLimit(f), { ignored: 50, evicted: 1 });
  t.log(`${MAX_KIOSKS + 50} ghosts and a live kiosk folded in ${(performance.now() - started).toFixed(0)} ms`);
});

test('at the cap: a kiosk heard live is never evicted for ghosts; a retained-only newcomer is turned away and counted once', (t) => {
  let f = fold([[live('kiosk/a-live/health', health(T0, 1)), T0]], emptyFleet('kiosk', { maxKiosks: 3 }));
  f = ghost(ghost(f, 'g1'), 'g2');
  t.is(kioskLimit(f), null, 'nothing turned away yet');
  // More ghosts (the broker replays them again on every reconnect): turned away, each id counted once.
  for (const id of ['g3', 'g4', 'g3', 'g4']) f = ghost(f, id);
  t.deepEqual([...f.kiosks.keys()].sort(), ['a-live', 'g1', 'g2']);
  t.like(kioskLimit(f), { max: 3, kiosks: 3, ignored: 2, evicted: 0 });
  // A ghost that speaks live is a kiosk like any other from then on.
  f = fold([[live('kiosk/g2/health', health(T0 + S, 4)), T0 + S]], f);
  // Live newcomers: the first evicts the only kiosk never heard live (g1); the next finds none to evict.
  f = fold(
    [
      [live('kiosk/b-live/status', 'online'), T0 + 2 * S],
      [live('kiosk/c-live/status', 'online'), T0 + 3 * S],
    ],
    f,
  );
  t.deepEqual([...f.kiosks.keys()].sort(), ['a-live', 'b-live', 'g2']);
  t.like(kioskLimit(f), { ignored: 3, evicted: 1 }, 'g3, g4 and c-live turned away; g1 evicted');
  for (let i = 5; i < 100; i++) f = ghost(f, `g${i}`);
  t.deepEqual([...f.kiosks.keys()].sort(), ['a-live', 'b-live', 'g2'], 'no number of ghosts evicts a kiosk heard live');
  t.like(kioskLimit(f), { ignored: 98, evicted: 1 });
  // Room again (a decommissioned kiosk cleared): a turned-away id that comes back is shown, and no longer counted.
  f = fold(
    [
      [live('kiosk/b-live/status', ''), T0 + 4 * S],
      [live('kiosk/c-live/status', 'online'), T0 + 5 * S],
    ],
    f,
  );
  t.deepEqual([...f.kiosks.keys()].sort(), ['a-live', 'c-live', 'g2']);
  t.like(kioskLimit(f), { ignored: 97, evicted: 1 });
});

test('at the cap, eviction takes the oldest ghost first, skips ghosts since heard live or removed, and stays cheap', (t) => {
  let f = emptyFleet('kiosk', { maxKiosks: 4 });
  for (const id of ['g1', 'g2', 'g3', 'g4']) f = ghost(f, id);
  // g1 speaks live, g2 is cleared and re-retained (now the newest ghost).
  f = fold(
    [
      [live('kiosk/g1/event/lifecycle', event('lifecycle', { phase: 'started' }, T0)), T0],
      [live('kiosk/g2/status', ''), T0],
      [live('kiosk/g2/state', ''), T0],
    ],
    f,
  );
  f = ghost(f, 'g2');
  const evictedBy = (id: string): string[] => {
    const before = new Set(f.kiosks.keys());
    f = fold([[live(`kiosk/${id}/status`, 'online'), T0 + S]], f);
    return [...before].filter((k) => !f.kiosks.has(k));
  };
  t.deepEqual(evictedBy('n1'), ['g3']);
  t.deepEqual(evictedBy('n2'), ['g4']);
  t.deepEqual(evictedBy('n3'), ['g2']);
  t.deepEqual(evictedBy('n4'), [], 'only kiosks heard live are left');
  t.like(kioskLimit(f), { ignored: 1, evicted: 3 });
  // A copy keeps its own books.
  const branch = copyFleet(f);
  reduceFleet(branch, retained('kiosk/zz/status', 'online'), T0 + 2 * S);
  t.like(kioskLimit(branch), { ignored: 2 });
  t.like(kioskLimit(f), { ignored: 1 });
  // A long churn of ghosts and live newcomers at a large cap: linear, not quadratic.
  let g = emptyFleet('kiosk', { maxKiosks: MAX_KIOSKS });
  for (let i = 0; i < MAX_KIOSKS; i++) g = reduceFleet(g, retained(`kiosk/g${i}/status`, 'online'), T0);
  const started = performance.now();
  for (let i = 0; i < MAX_KIOSKS; i++) g = reduceFleet(g, live(`kiosk/n${i}/status`, 'online'), T0 + S);
  const ms = performance.now() - started;
  t.like(kioskLimit(g), { evicted: MAX_KIOSKS, ignored: 0 });
  t.is(g.cap.ghosts.length - g.cap.head, 0);
  t.true(ms < 2000, `${MAX_KIOSKS} evictions took ${ms.toFixed(0)} ms`);
});

// ---------- the renderer ----------

const fleetOfThree = (): Fleet =>
  fold([
    [retained('kiosk/b-ward/status', 'online'), T0],
    [retained('kiosk/b-ward/state', state('out-of-service', { kind: 'faulted', code: 'paper-out', reason: 'paper-out' })), T0],
    [live('kiosk/b-ward/event/alert', alert('error', T0)), T0],
    [retained('kiosk/a-lobby/status', 'online'), T0],
    [retained('kiosk/a-lobby/info', info('1.4.0')), T0],
    [retained('kiosk/a-lobby/state', state('idle')), T0],
    [retained('kiosk/a-lobby/health', health(T0, 42)), T0],
    [retained('kiosk/c-er/status', 'offline'), T0],
  ]);

test('the table: header with broker, connection and time; fixed columns sorted by kiosk, within 100 columns', (t) => {
  const f = fleetOfThree();
  const lines = renderTable(fleetRows(f, T0 + 125 * S), { broker: 'mqtt://broker:1883/', connection: 'connected', prefix: 'kiosk' }, T0 + 125 * S, {
    colour: false,
  });
  t.regex(lines[0]!, /^kioskd monitor\s+2025-03-10 10:02:05\s+mqtt:\/\/broker:1883\/\s+connected$/);
  t.regex(lines[1]!, /3 kiosk\(s\) under kiosk\/\+, 0 online/); // 125 s of silence: both went stale
  const head = lines.findIndex((l) => l.startsWith('KIOSK'));
  t.regex(lines[head]!, /^KIOSK\s+STATUS\s+MODE\s+SEEN\s+PAPER\s+PRINTER\s+ERR\/1H\s+TODAY\s+VERSION$/);
  const body = lines.slice(head + 1);
  t.deepEqual(
    body.map((l) => l.split(' ')[0]),
    ['a-lobby', 'b-ward', 'c-er'],
  );
  t.regex(body[0]!, /^a-lobby\s+stale\s+idle\s+2m05s\s+ok\s+ready\s+0\s+42\s+1\.4\.0$/);
  t.regex(body[1]!, /^b-ward\s+stale\s+out-of-service\s+2m05s\s+out\s+paper-out\s+1\s+0\s+-$/);
  t.regex(body[2]!, /^c-er\s+offline\s+-\s+-\s+unknown\s+-\s+0\s+0\s+-$/);
  for (const l of lines) t.true(l.length <= 100, `too wide (${l.length}): ${l}`);
  // The columns line up: every row's STATUS starts where the heading's does.
  for (const l of body) t.is(l.indexOf(l.split(/\s+/)[1]!), lines[head]!.indexOf('STATUS'));
});

test('the table is coloured only when asked, and cut to a small terminal', (t) => {
  const f = fleetOfThree();
  const header = { broker: 'mqtt://b/', connection: 'unreachable: connect ECONNREFUSED; retrying', prefix: 'kiosk' };
  const plain = renderTable(fleetRows(f, T0), header, T0, { colour: false });
  t.false(plain.join('\n').includes('\x1b['));
  const coloured = renderTable(fleetRows(f, T0), header, T0, { colour: true });
  t.true(coloured.join('\n').includes('\x1b[31mout'), 'paper out in red');
  t.true(coloured.join('\n').includes('\x1b[32monline'), 'online in green');
  t.true(coloured[0]!.includes('\x1b[31munreachable'), 'an unreachable broker in red');
  const small = renderTable(fleetRows(f, T0), header, T0, { colour: false, width: 40, height: 7 });
  t.true(small.length <= 6, 'leaves the last terminal line free so nothing scrolls');
  for (const l of small) t.true(l.length <= 40, l);
  t.regex(small.at(-1)!, /… 2 more/);
  t.regex(renderTable([], header, T0, { colour: false }).join('\n'), /no kiosk seen yet under kiosk\/\+/);
});

test('JSON lines: the row as snake_case JSON; a change is anything but last_seen', (t) => {
  const f = fleetOfThree();
  const a = row(f, 'a-lobby', T0 + S);
  t.deepEqual(rowJson(a), {
    kiosk: 'a-lobby',
    status: 'online',
    mode: 'idle',
    step: null,
    last_seen: new Date(T0).toISOString(),
    paper: 'ok',
    printer: 'ready',
    errors_1h: 0,
    checkins_today: 42,
    version: '1.4.0',
  });
  const later = fold([[live('kiosk/a-lobby/health', health(T0 + 30 * S, 42)), T0 + 30 * S]], copyFleet(f));
  t.is(changeKey(row(later, 'a-lobby', T0 + 31 * S)), changeKey(a), 'a heartbeat alone is not a change');
  const paperOut = fold(
    [[live('kiosk/a-lobby/state', state('out-of-service', { kind: 'faulted', code: 'paper-out', reason: 'paper-out' })), T0 + 40 * S]],
    copyFleet(f),
  );
  t.not(changeKey(row(paperOut, 'a-lobby', T0 + 40 * S)), changeKey(a));
  t.is(age(59_999), '59s');
  t.is(age(61_000), '1m01s');
  t.is(age(3 * 3600_000 + 5 * 60_000), '3h05m');
  t.is(age(50 * 3600_000), '2d');
});

test('a full kiosk cap shows on the screen (even a small one) and as a JSON line of its own', (t) => {
  let f = fold([[live('kiosk/a-live/status', 'online'), T0]], emptyFleet('kiosk', { maxKiosks: 2 }));
  for (let i = 0; i < 12; i++) f = ghost(f, `g${i}`);
  f = fold([[live('kiosk/b-live/status', 'online'), T0 + S]], f);
  const limit = kioskLimit(f)!;
  t.like(limit, { ignored: 11, evicted: 1 });
  const header = { broker: 'mqtt://b/', connection: 'connected', prefix: 'kiosk', limit };
  const screen = renderTable(fleetRows(f, T0 + S), header, T0 + S, { colour: false });
  t.is(screen[2], 'kiosk limit 2 reached: 11 new id(s) ignored, 1 evicted (retained-only, never heard live)');
  t.true(renderTable(fleetRows(f, T0 + S), header, T0 + S, { colour: true })[2]!.startsWith('\x1b[31mkiosk limit 2 reached'), 'in red');
  const small = renderTable(fleetRows(f, T0 + S), header, T0 + S, { colour: false, width: 40, height: 7 });
  t.is(small[2], 'kiosk limit 2 reached: 11 new id(s) igno');
  t.true(small.length <= 6);
  t.regex(small.at(-1)!, /… 2 more/);
  t.true(
    limitText({ max: MAX_KIOSKS, kiosks: MAX_KIOSKS, ignored: MAX_KIOSKS, ignoredExact: false, evicted: MAX_KIOSKS }).length <= 100,
    'whole on a 100-column terminal',
  );
  // No line while the cap has turned nothing away: the screen is as it always was.
  const under = fleetOfThree();
  t.is(kioskLimit(under), null);
  t.is(renderTable(fleetRows(under, T0), { ...header, limit: kioskLimit(under) }, T0, { colour: false })[2], '');
  t.deepEqual(limitJson(limit), { notice: 'kiosk-limit', max_kiosks: 2, kiosks: 2, ignored: 11, ignored_exact: true, evicted: 1 });
  // Past the ids it tells apart (10,000 by default) the count is a lower bound, and says so.
  let g = emptyFleet('kiosk', { maxKiosks: 2, maxIgnoredIds: 2 });
  for (let i = 0; i < 10; i++) g = ghost(g, `g${i}`);
  t.like(kioskLimit(g), { ignored: 2, ignoredExact: false });
  t.like(limitJson(kioskLimit(g)!), { ignored: 2, ignored_exact: false });
  t.regex(renderTable([], { ...header, limit: kioskLimit(g) }, T0, { colour: false })[2]!, /: 2\+ new id\(s\) ignored/);
});

// ---------- the real command ----------

// The build when up to date, else the source (hw-sim/daemon.ts).
const kioskd = kioskdArgv();

test('--once against a dead port: exit 69 after the timeout, with the reason on stderr', async (t) => {
  const port = await freePort();
  const started = Date.now();
  const r = spawnSync(process.execPath, [...kioskd, 'monitor', '--broker', `mqtt://127.0.0.1:${port}`, '--once', '--timeout', '2'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.is(r.status, 69, r.stderr);
  t.regex(r.stderr, new RegExp(`cannot reach the broker mqtt://127\\.0\\.0\\.1:${port}.* within 2 s: connect ECONNREFUSED`));
  t.is(r.stdout, '');
  t.true(Date.now() - started >= 2000);
});

test('a dead broker is reported on stderr and retried until it comes up; Ctrl-C exits 0', async (t) => {
  const port = await freePort();
  const m = monitor(['--broker', `mqtt://127.0.0.1:${port}`]);
  let broker: EmbeddedBroker | undefined;
  try {
    await until(
      () => /cannot reach the broker mqtt:\/\/127\.0\.0\.1:\d+ \(connect ECONNREFUSED[^)]*\); retrying every 2 s/.test(m.stderr()),
      15_000,
      'the outage on stderr',
    );
    await new Promise((r) => setTimeout(r, 2500));
    t.is(m.child.exitCode, null, 'still running');
    t.is(m.stderr().match(/cannot reach/g)?.length, 1, 'said once per outage, not on every retry');
    broker = await startEmbeddedBroker({ port });
    await until(() => m.stderr().includes(`connected to mqtt://127.0.0.1:${port}`), 10_000, 'the reconnect on stderr');
  } finally {
    m.child.kill('SIGINT');
  }
  t.is(await m.exited, 0);
  await broker?.close();
});

test('usage errors exit 64 and say what is wrong', (t) => {
  const run = (...args: string[]) => spawnSync(process.execPath, [...kioskd, 'monitor', ...args], { encoding: 'utf8', timeout: 30_000 });
  const none = run();
  t.is(none.status, 64);
  t.regex(none.stderr, /--broker URL is required/);
  t.regex(none.stderr, /Usage: kioskd monitor/);
  t.regex(run('--broker', 'http://x:80').stderr, /must be mqtt:\/\/ or mqtts:\/\//);
  t.is(run('--broker', 'mqtt://x', '--bogus').status, 64);
  t.is(run('--broker', 'mqtt://x', '--ca', '/etc/hostname').status, 64, '--ca without TLS');
  t.is(run('--broker', 'mqtt://x', '--prefix', 'a/b').status, 64);
});

test('the security review end to end: 10,050 ghost ids retained on the broker, then a real kiosk connects: its row and the cap line are JSON lines', async (t) => {
  t.timeout(90_000);
  const broker = await startEmbeddedBroker({ port: 0 });
  const hostile = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
  const real = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
  let m: Lines | undefined;
  try {
    let started = Date.now();
    const ghosts = MAX_KIOSKS + 50;
    for (let i = 0; i < ghosts; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, ghosts - i) }, (_, j) =>
          hostile.publishAsync(`kiosk/ghost-${i + j}/status`, 'online', { qos: 1, retain: true }),
        ),
      );
    }
    t.log(`${ghosts} ghosts retained in ${Date.now() - started} ms`);
    started = Date.now();
    m = monitor(['--broker', broker.url]);
    const limitLines = () => m!.rows.filter((r) => r['notice'] === 'kiosk-limit');
    await until(() => limitLines().length > 0, 60_000, 'the kiosk-limit JSON line').catch((e: Error) => {
      throw new Error(`${e.message}\nrows: ${m!.rows.length}\nstderr: ${m!.stderr()}`);
    });
    t.log(`the cap line after ${Date.now() - started} ms`);
    t.deepEqual(limitLines()[0], { notice: 'kiosk-limit', max_kiosks: MAX_KIOSKS, kiosks: MAX_KIOSKS, ignored: 50, ignored_exact: true, evicted: 0 });
    t.is(m.rows.filter((r) => typeof r['kiosk'] === 'string').length, MAX_KIOSKS, 'the rows are as they always were');
    // The real kiosk publishes its retained status, as the daemon does.
    await real.publishAsync('kiosk/lobby-1/status', 'online', { qos: 1, retain: true });
    await until(() => m!.rows.some((r) => r['kiosk'] === 'lobby-1' && r['status'] === 'online'), 10_000, 'a row for the real kiosk');
    await until(() => limitLines().some((l) => l['evicted'] === 1), 10_000, 'the cap line counting the evicted ghost');
    await until(() => m!.rows.some((r) => r['kiosk'] === 'ghost-0' && r['removed'] === true), 10_000, 'the evicted ghost removed');
    t.like(limitLines().at(-1), { ignored: 50, evicted: 1, kiosks: MAX_KIOSKS });
    // --once: the rows, then the cap line. A fresh monitor hears lobby-1 only from the retained
    // replay, like the ghosts: whether it fits depends on the broker's replay order.
    const once = await runToEnd(['--broker', broker.url, '--once']);
    t.is(once.code, 0, once.stderr);
    const lines = once.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    t.is(lines.length, MAX_KIOSKS + 1);
    t.like(lines.at(-1), { notice: 'kiosk-limit', kiosks: MAX_KIOSKS, evicted: 0 });
    t.true([50, 51].includes(lines.at(-1)!['ignored'] as number));
  } finally {
    m?.child.kill('SIGINT');
    await hostile.endAsync();
    await real.endAsync();
  }
  t.is(await m.exited, 0);
  await broker.close();
});

interface Lines {
  readonly child: ChildProcess;
  readonly rows: Array<Record<string, unknown>>;
  stderr(): string;
  exited: Promise<number | null>;
}

function monitor(args: string[]): Lines {
  const child = spawn(process.execPath, [...kioskd, 'monitor', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const rows: Array<Record<string, unknown>> = [];
  let buf = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => {
    buf += b.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) rows.push(JSON.parse(l) as Record<string, unknown>);
  });
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, rows, stderr: () => err, exited };
}

const runToEnd = (args: string[]) => runKioskdCli(['monitor', ...args]);

/** Colours and cursor moves out, to read the screen as a person does. */
const stripAnsi = (s: string): string => s.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g'), '');

let k: KioskSim | undefined;
const kiosk = async (): Promise<KioskSim> => (k ??= await startKioskSim({ brokerPort: 0, faceid: false }));

test.after.always(async () => {
  await k?.stop();
});

test.serial('acceptance: the monitor shows the hw-sim kiosk and updates when the printer runs out of paper', async (t) => {
  t.timeout(120_000);
  const sim = await kiosk();
  const m = monitor(['--broker', sim.sim.broker.url]);
  try {
    const isOurs = (r: Record<string, unknown>) => r['kiosk'] === sim.sim.deviceId;
    await until(
      () => m.rows.some((r) => isOurs(r) && r['status'] === 'online' && r['mode'] === 'idle' && r['paper'] === 'ok'),
      20_000,
      'a JSON line for the kiosk: online, idle, paper ok',
    ).catch((e: Error) => {
      throw new Error(`${e.message}\nstdout rows: ${JSON.stringify(m.rows)}\nstderr: ${m.stderr()}`);
    });
    const first = m.rows.find(isOurs)!;
    t.like(first, { status: 'online', mode: 'idle', paper: 'ok', printer: 'ready', errors_1h: 0, checkins_today: 0 });
    t.regex(String(first['version']), /^\d+\.\d+\.\d+/);
    t.false(Number.isNaN(Date.parse(String(first['last_seen']))));
    const seenBefore = m.rows.length;
    const outAt = Date.now();
    sim.sim.printer.state.paper = 'out';
    await until(() => m.rows.slice(seenBefore).some((r) => isOurs(r) && r['paper'] === 'out'), 10_000, 'a JSON line with paper out within 10 s');
    const out = m.rows.slice(seenBefore).find((r) => isOurs(r) && r['paper'] === 'out')!;
    t.log(`paper out shown after ${Date.now() - outAt} ms`);
    t.like(out, { printer: 'faulted(paper-out)' });
    // The daemon's paper-out alert (level error) arrives too: the hour's error count moves.
    await until(() => m.rows.some((r) => isOurs(r) && (r['errors_1h'] as number) >= 1), 10_000, 'errors_1h counting the paper-out alert');
    sim.sim.printer.state.paper = 'ok';
    await until(() => m.rows.at(-1)?.['paper'] === 'ok', 10_000, 'paper ok again after the roll is changed');
    t.is(m.child.exitCode, null, 'still running');
  } finally {
    sim.sim.printer.state.paper = 'ok';
    m.child.kill('SIGINT');
  }
  t.is(await m.exited, 0, 'Ctrl-C ends the monitor with 0');
});

test.serial('--once prints the fleet as JSON lines after the retained values arrive, then exits 0', async (t) => {
  const sim = await kiosk();
  // Not spawnSync: the broker lives in this process and must keep answering.
  const r = await runToEnd(['--broker', sim.sim.broker.url, '--once']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(lines.length, 1);
  t.like(lines[0], { kiosk: sim.sim.deviceId, status: 'online', mode: 'idle', paper: 'ok' });
  // Another prefix sees nothing on this broker.
  const other = await runToEnd(['--broker', sim.sim.broker.url, '--once', '--prefix', 'elsewhere']);
  t.is(other.code, 0, other.stderr);
  t.is(other.stdout, '');
});

test.serial('on a terminal: the table is redrawn in place, the cursor comes back on Ctrl-C', async (t) => {
  const which = spawnSync('script', ['--version'], { encoding: 'utf8' });
  if (which.error) return t.fail('this test needs util-linux `script` to give the monitor a terminal: apt-get install util-linux (or bsdutils)');
  const sim = await kiosk();
  // `exec`: script runs the command through $SHELL, and a shell left waiting in between would
  // itself die of the Ctrl-C (dash does: exit 130) whatever the monitor does.
  const cmd = ['exec', process.execPath, ...kioskd, 'monitor', '--broker', sim.sim.broker.url].join(' ');
  // script gives the monitor a pty; Ctrl-C typed into it reaches the monitor as SIGINT.
  const env = { ...process.env, SHELL: '/bin/sh', NO_COLOR: '', TERM: 'xterm-256color', COLUMNS: '100', LINES: '30' };
  const child = spawn('script', ['-qefc', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await until(() => out.includes(sim.sim.deviceId) && /KIOSK\s+STATUS/.test(out), 20_000, 'the table with the kiosk').catch((e: Error) => {
      throw new Error(`${e.message}\noutput: ${JSON.stringify(out)}`);
    });
    const redraws = () => out.split('\x1b[H').length - 1;
    const before = redraws();
    await until(() => redraws() >= before + 2, 5000, 'a redraw every second');
    t.true(out.includes('\x1b[?25l'), 'the cursor is hidden while redrawing');
    const screen = stripAnsi(out.slice(out.lastIndexOf('\x1b[H')));
    t.regex(screen, /kioskd monitor\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+mqtt:\/\/127\.0\.0\.1:\d+\/?\s+connected/);
    t.regex(screen, /sim-kiosk-1\s+online\s+idle\s+\d+s\s+ok\s+ready/);
  } finally {
    child.stdin.write('\x03');
  }
  t.is(await exited, 0, `the monitor's output ends: ${JSON.stringify(stripAnsi(out).slice(-400))}`);
  t.true(out.lastIndexOf('\x1b[?25h') > out.lastIndexOf('\x1b[?25l'), 'the cursor is shown again on exit');
});
