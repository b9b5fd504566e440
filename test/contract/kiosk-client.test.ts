// Both sides of the MQTT contract over a real broker: the daemon's link, publisher and command
// server on one side, the consumer's kiosk client (src/mqtt/kiosk-client.ts) on the other.
import test from 'ava';
import { pino } from 'pino';
import { serveCommands } from '../../src/mqtt/commands.js';
import { KioskClient, KioskCommandError } from '../../src/mqtt/kiosk-client.js';
import { MqttLink } from '../../src/mqtt/link.js';
import { createPublisher, dropReportEvent } from '../../src/mqtt/publisher.js';
import { kioskTopics } from '../../src/mqtt/topics.js';
import { systemClock } from '../../src/util/clock.js';
import { embeddedBroker } from '../helpers/brokers.js';

const silent = pino({ level: 'silent' });
const wall = (): Date => new Date();

async function kiosk(t: import('ava').ExecutionContext, url: string, id: string) {
  const topics = kioskTopics('kiosk', id);
  const link = new MqttLink({
    url,
    clientId: `kiosk-${id}`,
    protocol: 4,
    keepaliveSec: 10,
    reconnectPeriodMs: 300,
    will: { topic: topics.retained('status'), payload: 'offline' },
    ringSize: 50,
    subscriptions: [topics.commandFilter],
    dropReport: dropReportEvent(topics, 60, wall),
    clock: systemClock(),
    log: silent,
  });
  let enabled = false;
  t.teardown(
    serveCommands({
      link,
      topics,
      handlers: {
        ping: () => ({ pong: true, uptime_s: 1 }),
        maintenance: (args) => ((enabled = args.enabled), { mode: enabled ? 'maintenance' : 'idle' }),
      },
      limits: { maxPayloadBytes: 16_384, ratePerMinute: 100 },
      clock: systemClock(),
      log: silent,
      overflow: () => {},
    }),
  );
  const publish = createPublisher(link, topics, 60, wall);
  publish.retained('status', 'online');
  link.start();
  t.teardown(() => link.stop({ topic: topics.retained('status'), payload: 'stopped' }, 1000));
  return publish;
}

test('record, waitFor and command: typed payloads of one kiosk or all, answers matched by transaction', async (t) => {
  const broker = await embeddedBroker();
  t.teardown(() => broker.stop());
  const one = await kiosk(t, broker.url, 'k1');
  const two = await kiosk(t, broker.url, 'k2');
  const all = await KioskClient.connect({ url: broker.url, clientId: 'test-all', record: true });
  t.teardown(() => all.end());
  const k1 = await KioskClient.connect({ url: broker.url, clientId: 'test-k1', deviceId: 'k1' });
  t.teardown(() => k1.end());

  await all.recording!.waitFor('status', (s) => s === 'online', 5000, { kiosk: 'k2' });
  const alert = k1.waitFor('alert', (e) => e.data.level === 'error', 5000);
  two.event('alert', { level: 'error', code: 'printer.paper-out', message: 'not this kiosk' });
  one.event('alert', { level: 'warning', code: 'printer.paper-near-end', message: 'not this level' });
  one.event('alert', { level: 'error', code: 'printer.paper-out', message: 'this one' });
  const got = await alert;
  t.is(got.kiosk, 'k1');
  t.is(got.payload.data.message, 'this one');
  await all.recording!.waitFor('alert', (e) => e.data.message === 'this one', 5000);
  t.deepEqual(
    all.recording!.messages('alert').map((m) => [m.kiosk, m.payload.data.code]),
    [
      ['k2', 'printer.paper-out'],
      ['k1', 'printer.paper-near-end'],
      ['k1', 'printer.paper-out'],
    ],
  );

  t.deepEqual(await k1.command('maintenance', { enabled: true }), { mode: 'maintenance' });
  t.like(await all.command('ping', {}, { kiosk: 'k2' }), { pong: true });
  const refused = await t.throwsAsync(k1.command('maintenance', { enabled: 'yes' } as never), { instanceOf: KioskCommandError });
  t.is(refused?.message, 'maintenance needs {"enabled": true|false}');
  t.is(refused?.reason, 'refused');
  const silentKiosk = await t.throwsAsync(all.command('ping', {}, { kiosk: 'nobody', timeoutMs: 300 }), { instanceOf: KioskCommandError });
  t.is(silentKiosk?.message, 'kioskd did not answer "ping" within 0.3 s (is it running?)');
  await t.throwsAsync(all.command('ping', {}), { message: /needs a kiosk/ });
});
