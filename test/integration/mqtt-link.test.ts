import test from 'ava';
import pino from 'pino';
import { MqttLink } from '../../src/mqtt/link.js';
import { createPublisher, dropReportEvent } from '../../src/mqtt/publisher.js';
import { serveCommands } from '../../src/mqtt/commands.js';
import { kioskTopics } from '../../src/mqtt/topics.js';
import { systemClock } from '../../src/util/clock.js';
import { brokerFactories } from '../helpers/brokers.js';
import { brokerBehindGate } from '../helpers/gate.js';
import { Watcher } from '../helpers/watch.js';

const silent = pino({ level: 'silent' });
const LIMITS = { maxPayloadBytes: 16_384, ratePerMinute: 30 };

/** A clock the test moves by hand; its timers (the once-a-minute summary) fire when told. */
function handClock() {
  let now = 0;
  const timers = new Map<object, { due: number; fn: () => void }>();
  return {
    clock: {
      now: () => now,
      setTimeout: (fn: () => void, ms: number) => {
        const h = {};
        timers.set(h, { due: now + ms, fn });
        return h;
      },
      clearTimeout: (h: unknown) => void timers.delete(h as object),
    },
    advance(ms: number) {
      now += ms;
      for (const [h, x] of [...timers]) {
        if (x.due <= now) {
          timers.delete(h);
          x.fn();
        }
      }
    },
  };
}
const wall = () => new Date();

function makeLink(url: string, id: string, ringSize = 200, maxIncomingBytes?: number) {
  const topics = kioskTopics('kiosk', id);
  const link = new MqttLink({
    url,
    clientId: `test-${id}`,
    protocol: 'auto',
    keepaliveSec: 10,
    reconnectPeriodMs: 300,
    will: { topic: topics.retained('status'), payload: 'offline' },
    ringSize,
    subscriptions: [topics.commandFilter],
    ...(maxIncomingBytes ? { maxIncomingBytes } : {}),
    dropReport: dropReportEvent(topics, 60, wall),
    clock: systemClock(),
    log: silent,
  });
  const publish = createPublisher(link, topics, 60, wall);
  return { link, topics, publish };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const broker of brokerFactories) {
  test(`[${broker.name}] a monitor that subscribes later sees online, info and state; commands are answered`, async (t) => {
    const b = await broker.start();
    t.teardown(() => b.stop());
    const { link, publish, topics } = makeLink(b.url, `late-${broker.name}`);
    t.teardown(
      serveCommands({
        link,
        topics,
        handlers: { ping: () => ({ pong: true }) },
        limits: LIMITS,
        clock: systemClock(),
        log: silent,
        overflow: () => {},
      }),
    );
    publish.retained('status', 'online');
    publish.retained('state', { mode: 'idle', step: null, session_id: null, ports: {} as never, since: 'x' });
    link.start();
    t.teardown(() => link.stop({ topic: topics.retained('status'), payload: 'stopped' }, 1000));
    await until(() => link.connected());
    // MQTT 5 where the broker speaks it, 3.1.1 against aedes.
    t.is(link.protocol(), broker.name === 'mosquitto' ? 5 : 4);

    const w = await Watcher.start(b.url, `${topics.base}/#`);
    t.teardown(() => w.stop());
    const status = await w.waitFor((m) => m.topic === topics.retained('status'));
    t.is(status.payload, 'online');
    t.true(status.retain);
    t.is(JSON.parse((await w.waitFor((m) => m.topic === topics.retained('state'))).payload).mode, 'idle');

    await w.client.publishAsync(`${topics.base}/cmd/ping`, JSON.stringify({ transaction: 'abc' }), { qos: 1 });
    const resp = await w.waitFor((m) => m.topic === topics.response('ping'));
    t.deepEqual(JSON.parse(resp.payload), { transaction: 'abc', status: 'ok', data: { pong: true } });

    await w.client.publishAsync(`${topics.base}/cmd/reboot`, '{"transaction":7}', { qos: 1 });
    const unknown = JSON.parse((await w.waitFor((m) => m.topic === topics.response('reboot'))).payload);
    t.is(unknown.status, 'error');
    t.is(unknown.transaction, 7);
    await w.client.publishAsync(`${topics.base}/cmd/ping`, 'not json', { qos: 1 });
    const bad = await w.waitFor((m) => m.topic === topics.response('ping') && m.payload.includes('error'), 5000);
    t.regex(JSON.parse(bad.payload).error, /not valid JSON/);
  });

  test(`[${broker.name}] hostile commands: an oversized payload is refused unread and not echoed, a long transaction is not echoed, a flood is cut at the rate limit and reported`, async (t) => {
    const b = await broker.start();
    t.teardown(() => b.stop());
    const { link, topics } = makeLink(b.url, `hostile-${broker.name}`);
    const hand = handClock();
    let pings = 0;
    const overflows: Array<Record<string, number>> = [];
    const lines: Array<{ msg: string; handled?: unknown; rate_limited?: unknown }> = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    t.teardown(
      serveCommands({
        link,
        topics,
        handlers: { ping: () => ({ pong: ++pings }) },
        limits: { maxPayloadBytes: 16_384, ratePerMinute: 5 },
        clock: hand.clock,
        log,
        overflow: (c) => overflows.push({ ...c }),
      }),
    );
    link.start();
    t.teardown(() => link.stop({ topic: topics.retained('status'), payload: 'stopped' }, 1000));
    await until(() => link.connected());
    const w = await Watcher.start(b.url, `${topics.base}/cmd/+/response`);
    t.teardown(() => w.stop());
    const answer = async (payload: string, transaction: unknown) => {
      const from = w.mark();
      await w.client.publishAsync(`${topics.base}/cmd/ping`, payload, { qos: 1 });
      return JSON.parse((await w.waitFor((m) => JSON.parse(m.payload).transaction === transaction, 10_000, from)).payload);
    };

    // 20 KB: over the kiosk's 16 KB limit (and under the 64 KB it asks an MQTT 5 broker for).
    const big = JSON.stringify({ transaction: 'big-1', junk: 'x'.repeat(20_000) });
    const refused = await answer(big, 'big-1');
    t.deepEqual(refused, { transaction: 'big-1', status: 'error', error: `payload too large: ${big.length} bytes, the limit is 16384` });
    t.is(pings, 0, 'the handler never ran');
    // A transaction too long to echo comes back as null; the answer stays small.
    const long = await answer(JSON.stringify({ transaction: 'y'.repeat(5000) }), null);
    t.like(long, { status: 'ok' });
    t.true(JSON.stringify(long).length < 200);

    // A flood of 40 pings within one minute: 5 minus the two above = 3 answered, one refusal, the rest dropped.
    const from = w.mark();
    for (let i = 0; i < 40; i++) await w.client.publishAsync(`${topics.base}/cmd/ping`, JSON.stringify({ transaction: i }), { qos: 1 });
    await w.waitFor((m) => JSON.parse(m.payload).status === 'error', 10_000, from);
    await new Promise((r) => setTimeout(r, 500));
    const got = w.seen.slice(from).map((m) => JSON.parse(m.payload));
    t.is(got.filter((r) => r.status === 'ok').length, 3, JSON.stringify(got));
    t.is(got.filter((r) => r.status === 'error').length, 1);
    t.regex(got.find((r) => r.status === 'error').error, /at most 5 a minute/);
    t.is(pings, 4);
    // One info line a minute, counts only; "command handled" is debug.
    t.false(lines.some((l) => l.msg === 'commands in the last minute'));
    hand.advance(60_000);
    t.deepEqual(overflows, [{ ping: 37 }], 'the answered refusal and the 36 dropped');
    const summary = lines.find((l) => l.msg === 'commands in the last minute');
    t.like(summary, { handled: { ping: 4 }, rate_limited: { ping: 37 }, refused: { ping: 1 } });
    t.is(lines.filter((l) => l.msg === 'command handled').length, 4);
    t.true(lines.filter((l) => l.msg === 'command handled').every((l) => (l as { level?: number }).level === 20));
    // Refilled: the next minute's commands are answered again.
    t.like(await answer(JSON.stringify({ transaction: 'again' }), 'again'), { status: 'ok' });
  });

  if (broker.name === 'mosquitto') {
    test('[mosquitto] MQTT 5: the kiosk tells the broker its largest packet, so a 1 MB command never reaches it (and it stays connected)', async (t) => {
      const b = await broker.start();
      t.teardown(() => b.stop());
      const { link, topics } = makeLink(b.url, 'maxpacket', 200, 65_536);
      let pings = 0;
      t.teardown(
        serveCommands({
          link,
          topics,
          handlers: { ping: () => ({ pong: ++pings }) },
          limits: LIMITS,
          clock: systemClock(),
          log: silent,
          overflow: () => {},
        }),
      );
      link.start();
      t.teardown(() => link.stop({ topic: topics.retained('status'), payload: 'stopped' }, 1000));
      await until(() => link.connected());
      t.is(link.protocol(), 5);
      const w = await Watcher.start(b.url, `${topics.base}/cmd/+/response`);
      t.teardown(() => w.stop());
      const from = w.mark();
      await w.client.publishAsync(`${topics.base}/cmd/ping`, JSON.stringify({ transaction: 'huge', pad: 'x'.repeat(1_000_000) }), { qos: 1 });
      await w.client.publishAsync(`${topics.base}/cmd/ping`, JSON.stringify({ transaction: 'after' }), { qos: 1 });
      await w.waitFor((m) => JSON.parse(m.payload).transaction === 'after', 10_000, from);
      t.false(
        w.seen.slice(from).some((m) => JSON.parse(m.payload).transaction === 'huge'),
        'the broker dropped it instead of sending it',
      );
      t.is(pings, 1);
      t.true(link.connected());
    });
  }

  test(`[${broker.name}] broker killed and restarted: the link republishes retained topics and delivers queued events, reporting overflow`, async (t) => {
    const { broker: b, gate } = await brokerBehindGate(t, broker.start);
    const ring = 3;
    const { link, publish, topics } = makeLink(gate.url, `restart-${broker.name}`, ring);
    publish.retained('status', 'online');
    publish.retained('state', { mode: 'idle', step: null, session_id: null, ports: {} as never, since: 'v1' });
    link.start();
    t.teardown(() => link.stop({ topic: topics.retained('status'), payload: 'stopped' }, 1000));
    await until(() => link.connected());

    await b.kill();
    gate.setOpen(false);
    await until(() => !link.connected());
    publish.retained('state', { mode: 'out-of-service', step: null, session_id: null, ports: {} as never, since: 'v2' });
    for (let i = 1; i <= 5; i++) publish.event('lifecycle', { phase: 'started', reason: `e${i}` });
    t.deepEqual(link.stats(), { queued: ring, dropped: 2 });

    await b.restart(); // a fresh broker: it remembers nothing retained
    const w = await Watcher.start(b.url, `${topics.base}/#`);
    t.teardown(() => w.stop());
    gate.setOpen(true);

    t.is((await w.waitFor((m) => m.topic === topics.retained('status'))).payload, 'online');
    await w.waitFor((m) => m.topic === topics.retained('state') && JSON.parse(m.payload).since === 'v2');
    const alert = await w.waitFor((m) => m.topic === topics.event('alert'));
    t.like(JSON.parse(alert.payload).data, { code: 'mqtt.events_dropped', count: 2 });
    await until(() => w.seen.filter((m) => m.topic === topics.event('lifecycle')).length === ring);
    const reasons = w.seen.filter((m) => m.topic === topics.event('lifecycle')).map((m) => JSON.parse(m.payload).data.reason);
    t.deepEqual(reasons, ['e3', 'e4', 'e5']);
    const ids = new Set(w.seen.filter((m) => m.topic.includes('/event/')).map((m) => JSON.parse(m.payload).id));
    t.is(ids.size, ring + 1, 'every event carries its own id');
    t.deepEqual(link.stats(), { queued: 0, dropped: 2 });
    // What the broker now retains is the latest state, whatever mqtt.js resent from before the kill.
    const late = await Watcher.start(b.url, topics.retained('state'));
    t.teardown(() => late.stop());
    t.is(JSON.parse((await late.waitFor(() => true)).payload).since, 'v2');
  });

  test(`[${broker.name}] a clean stop leaves "stopped" retained, not the last will`, async (t) => {
    const b = await broker.start();
    t.teardown(() => b.stop());
    const { link, publish, topics } = makeLink(b.url, `stop-${broker.name}`);
    publish.retained('status', 'online');
    link.start();
    await until(() => link.connected());
    await link.stop({ topic: topics.retained('status'), payload: 'stopped' }, 2000);
    await new Promise((r) => setTimeout(r, 300)); // a will, if wrongly sent, would land now
    const w = await Watcher.start(b.url, topics.retained('status'));
    t.teardown(() => w.stop());
    const m = await w.waitFor(() => true);
    t.is(m.payload, 'stopped');
    t.true(m.retain);
  });
}
