import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerFactories, mosquittoBroker } from '../helpers/brokers.js';
import { until } from '../helpers/wait.js';
import { brokerBehindGate } from '../helpers/gate.js';
import { killQuietly, runDaemon } from '../helpers/daemon.js';
import { Watcher } from '../helpers/watch.js';

const base = (id: string, url: string) => ({
  device: { id },
  mqtt: { url, reconnectBaseMs: 300, healthIntervalSec: 1 },
  hal: { mode: 'sim' as const },
});

for (const broker of brokerFactories) {
  test(`[${broker.name}] the daemon goes online, survives a broker restart by republishing, and leaves "offline" when killed -9`, async (t) => {
    const b = await broker.start();
    t.teardown(() => b.stop());
    const id = `proc-${broker.name}`;
    const w = await Watcher.start(b.url, `kiosk/${id}/#`);
    t.teardown(() => w.stop());
    const d = runDaemon(base(id, b.url));
    t.teardown(() => killQuietly(d));

    await w.waitFor((m) => m.topic === `kiosk/${id}/status` && m.payload === 'online', 30_000);
    const info = JSON.parse((await w.waitFor((m) => m.topic === `kiosk/${id}/info`)).payload);
    t.like(info, { schema: 1, hal_mode: 'sim', mqtt_protocol: broker.name === 'mosquitto' ? 5 : 4 });
    t.like(info.drivers, { card: 'none', printer: 'none' });
    // The first state may be `booting` when the broker answers before the boot ends (a loaded CI machine): wait past it.
    const state = JSON.parse((await w.waitFor((m) => m.topic === `kiosk/${id}/state` && JSON.parse(m.payload).mode !== 'booting')).payload);
    t.is(state.mode, 'out-of-service'); // no ports are built: the kiosk must not claim to serve
    t.deepEqual(state.ports.card, { kind: 'absent', reason: 'no driver configured' });
    const health = JSON.parse((await w.waitFor((m) => m.topic === `kiosk/${id}/health`)).payload);
    t.true(health.rss_mb > 0);
    t.deepEqual(health.mqtt, { queued: 0, dropped: 0 });
    t.true(health.liveness.ok);
    t.regex(d.output(), /drivers loaded: card=none camera=none printer=none indicators=none storage=statfs chip=none sd_notify=off/);

    await w.stop();
    await b.kill();
    await b.restart(); // remembers nothing: everything retained must come from the daemon again
    const w2 = await Watcher.start(b.url, `kiosk/${id}/#`);
    t.teardown(() => w2.stop());
    for (const topic of ['status', 'info', 'state']) await w2.waitFor((m) => m.topic === `kiosk/${id}/${topic}`, 30_000);
    t.is(w2.seen.find((m) => m.topic === `kiosk/${id}/status`)?.payload, 'online');

    const mark = w2.mark();
    d.proc.kill('SIGKILL');
    const will = await w2.waitFor((m) => m.topic === `kiosk/${id}/status` && m.payload === 'offline', 30_000, mark);
    t.truthy(will);
  });
}

test('SIGTERM: the daemon publishes "stopped" and exits 0; SIGINT behaves the same', async (t) => {
  const b = await brokerFactories[0].start();
  t.teardown(() => b.stop());
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const id = `sig-${signal.toLowerCase()}`;
    const w = await Watcher.start(b.url, `kiosk/${id}/status`);
    const d = runDaemon(base(id, b.url));
    t.teardown(() => killQuietly(d));
    await w.waitFor((m) => m.payload === 'online');
    d.proc.kill(signal);
    t.deepEqual(await d.exited, { code: 0, signal: null });
    await w.waitFor((m) => m.payload === 'stopped');
    t.false(w.seen.some((m) => m.payload === 'offline'));
    await w.stop();
  }
});

test('a second signal while stopping forces exit 1', async (t) => {
  const { broker: b, gate } = await brokerBehindGate(t, brokerFactories[0].start);
  const w = await Watcher.start(b.url, 'kiosk/double/status');
  t.teardown(() => w.stop());
  const d = runDaemon(base('double', gate.url));
  t.teardown(() => killQuietly(d));
  await w.waitFor((m) => m.payload === 'online');
  gate.frozen = true; // the goodbye is never acknowledged, so stopping takes a while
  d.proc.kill('SIGTERM');
  await d.waitForOutput(/stopping: no new patients/);
  d.proc.kill('SIGTERM');
  t.is((await d.exited).code, 1);
  t.regex(d.output(), /second signal: exiting now/);
});

test('with the broker unreachable the daemon starts, retries with the same message said once, and its events arrive later with their expiry', async (t) => {
  const { broker: b, gate } = await brokerBehindGate(t, mosquittoBroker);
  gate.setOpen(false);
  const d = runDaemon({ ...base('lonely', gate.url), mqtt: { url: gate.url, reconnectBaseMs: 200 } });
  t.teardown(() => killQuietly(d));
  await d.waitForOutput(/drivers loaded/);
  await until(() => gate.attempts >= 3, 30_000, 'three connection attempts');
  t.is(d.output().match(/MQTT broker not reachable yet/g)?.length, 1);

  const w = await Watcher.start(b.url, 'kiosk/lonely/#', 5);
  t.teardown(() => w.stop());
  gate.setOpen(true);
  await w.waitFor((m) => m.topic === 'kiosk/lonely/status' && m.payload === 'online', 30_000);
  const started = await w.waitFor((m) => m.topic === 'kiosk/lonely/event/lifecycle');
  t.like(JSON.parse(started.payload), { data: { phase: 'started' } });
  t.false(started.retain);
  t.true(started.expirySec !== undefined && started.expirySec > 0 && started.expirySec <= 300, `expiry ${started.expirySec}`);
  t.regex(JSON.parse(started.payload).id, /^[0-9a-f-]{36}$/);
  d.proc.kill('SIGTERM');
  t.is((await d.exited).code, 0);
  t.like(JSON.parse((await w.waitFor((m) => m.topic === 'kiosk/lonely/event/lifecycle' && m.payload.includes('stopping'))).payload), {
    data: { phase: 'stopping', reason: 'SIGTERM' },
  });
});

test('commands through the real daemon: maintenance on and off; a retained command is not replayed after a network blip', async (t) => {
  const { broker: b, gate } = await brokerBehindGate(t, brokerFactories[0].start);
  const w = await Watcher.start(b.url, 'kiosk/cmds/#');
  t.teardown(() => w.stop());
  const d = runDaemon(base('cmds', gate.url));
  t.teardown(() => killQuietly(d));
  await w.waitFor((m) => m.topic === 'kiosk/cmds/status' && m.payload === 'online', 30_000);
  const mode = async (transaction: string): Promise<string> => {
    const mark = w.mark();
    await w.client.publishAsync('kiosk/cmds/cmd/state', JSON.stringify({ transaction }), { qos: 1 });
    const r = await w.waitFor((m) => m.topic === 'kiosk/cmds/cmd/state/response' && m.payload.includes(`"${transaction}"`), 30_000, mark);
    return JSON.parse(r.payload).data.mode;
  };

  await w.client.publishAsync('kiosk/cmds/cmd/maintenance', '{"enabled":true,"transaction":"m1"}', { qos: 1 });
  const on = await w.waitFor((m) => m.topic === 'kiosk/cmds/cmd/maintenance/response');
  t.deepEqual(JSON.parse(on.payload), { transaction: 'm1', status: 'ok', data: { mode: 'maintenance' } });
  await w.waitFor((m) => m.topic === 'kiosk/cmds/state' && JSON.parse(m.payload).mode === 'maintenance');

  // Someone publishes a command with the retain flag: it runs once, live, as a command should…
  await w.client.publishAsync('kiosk/cmds/cmd/maintenance', '{"enabled":false,"transaction":"r1"}', { qos: 1, retain: true });
  t.teardown(() => w.client.publishAsync('kiosk/cmds/cmd/maintenance', '', { qos: 1, retain: true }));
  await w.waitFor((m) => m.topic === 'kiosk/cmds/cmd/maintenance/response' && m.payload.includes('"r1"'));
  t.is(await mode('s1'), 'out-of-service');
  // …then a technician puts the kiosk back into maintenance, and the network blips.
  await w.client.publishAsync('kiosk/cmds/cmd/maintenance', '{"enabled":true,"transaction":"m2"}', { qos: 1 });
  await w.waitFor((m) => m.topic === 'kiosk/cmds/cmd/maintenance/response' && m.payload.includes('"m2"'));
  gate.dropAll();
  await d.waitForOutput(/ignoring a retained command/, 30_000);
  t.is(await mode('s2'), 'maintenance', 'the stale retained command was not replayed');

  await w.client.publishAsync('kiosk/cmds/cmd/maintenance', '{"enabled":"yes"}', { qos: 1 });
  const bad = await w.waitFor((m) => m.topic === 'kiosk/cmds/cmd/maintenance/response' && m.payload.includes('error'));
  t.regex(JSON.parse(bad.payload).error, /maintenance needs \{"enabled": true\|false\}/);
});

test('an uncaught error is logged, alerted best-effort, and exits 70', async (t) => {
  const b = await brokerFactories[0].start();
  t.teardown(() => b.stop());
  const w = await Watcher.start(b.url, 'kiosk/crashy/#');
  t.teardown(() => w.stop());
  const d = runDaemon(base('crashy', b.url), { NODE_OPTIONS: `--import=${new URL('../fixtures/throw-on-sigusr2.mjs', import.meta.url).pathname}` });
  t.teardown(() => killQuietly(d));
  await w.waitFor((m) => m.topic === 'kiosk/crashy/status' && m.payload === 'online', 30_000);
  d.proc.kill('SIGUSR2');
  t.is((await d.exited).code, 70);
  t.regex(d.output(), /uncaught error/);
  const alert = await w.waitFor((m) => m.topic === 'kiosk/crashy/event/alert');
  t.like(JSON.parse(alert.payload).data, { level: 'critical', code: 'daemon.crashed' });
  await w.waitFor((m) => m.topic === 'kiosk/crashy/status' && m.payload === 'offline');
});

test('[mosquitto] the MQTT password comes from the systemd credential, authenticates, and is never logged', async (t) => {
  const password = 'Kiosk-Secret-9f3a';
  const b = await mosquittoBroker({ user: { name: 'kiosk', password } });
  t.teardown(() => b.stop());
  const creds = mkdtempSync(join(tmpdir(), 'kioskd-creds-'));
  writeFileSync(join(creds, 'mqtt-password'), password + '\n');
  const w = await Watcher.start(b.url, 'kiosk/authed/status', 5, { username: 'kiosk', password });
  t.teardown(() => w.stop());
  const d = runDaemon(
    { ...base('authed', b.url), mqtt: { url: b.url, username: 'kiosk' }, log: { level: 'debug' } },
    { CREDENTIALS_DIRECTORY: creds },
  );
  t.teardown(() => killQuietly(d));
  await w.waitFor((m) => m.payload === 'online', 30_000);
  d.proc.kill('SIGTERM');
  t.is((await d.exited).code, 0);
  t.false(d.output().includes(password));
});

test('[mosquitto] a wrong password keeps the kiosk running and retrying, and says why once', async (t) => {
  const { gate } = await brokerBehindGate(t, () => mosquittoBroker({ user: { name: 'kiosk', password: 'right' } }));
  const creds = mkdtempSync(join(tmpdir(), 'kioskd-creds-'));
  writeFileSync(join(creds, 'mqtt-password'), 'wrong');
  const d = runDaemon(
    { ...base('denied', gate.url), mqtt: { url: gate.url, username: 'kiosk', reconnectBaseMs: 200 } },
    { CREDENTIALS_DIRECTORY: creds },
  );
  t.teardown(() => killQuietly(d));
  await d.waitForOutput(/MQTT broker refused the connection; retrying/, 30_000);
  t.regex(d.output(), /"reason":"Connection refused: Not authorized"/);
  await until(() => gate.attempts >= 3, 30_000, 'three connection attempts');
  t.is(d.output().match(/refused the connection/g)?.length, 1, 'said once, not on every retry');
  t.is(d.proc.exitCode, null);
  d.proc.kill('SIGTERM');
  t.is((await d.exited).code, 0);
});
