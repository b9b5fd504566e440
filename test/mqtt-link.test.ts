import test from 'ava';
import pino from 'pino';
import { MqttLink } from '../src/mqtt/link.js';
import { createPublisher, dropReportEvent } from '../src/mqtt/publisher.js';
import { serveCommands } from '../src/mqtt/commands.js';
import { kioskTopics } from '../src/mqtt/topics.js';
import { systemClock } from '../src/util/clock.js';
import { brokerFactories } from './helpers/brokers.js';
import { brokerBehindGate } from './helpers/gate.js';
import { Watcher } from './helpers/watch.js';

const silent = pino({ level: 'silent' });
const wall = () => new Date();

function makeLink(url: string, id: string, ringSize = 200) {
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
    serveCommands(link, topics, { ping: () => ({ pong: true }) }, silent);
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
