import test from 'ava';
import { brokerFactories } from '../helpers/brokers.js';
import { killQuietly, runDaemon } from '../helpers/daemon.js';
import { fakeNotifySocket } from '../helpers/notify-socket.js';
import { until } from '../helpers/wait.js';
import { freePort } from '../helpers/ports.js';

const config = (id: string, url: string, maxLoopLagMs = 2000) => ({
  device: { id },
  mqtt: { url },
  hal: { mode: 'sim' as const },
  kiosk: { heartbeatMs: 200 },
  watchdog: { maxLoopLagMs },
});

test('under systemd: READY=1 with a one-line STATUS before the broker answers, WATCHDOG=1 at half WATCHDOG_USEC, STOPPING=1 on SIGTERM', async (t) => {
  const sock = await fakeNotifySocket();
  t.teardown(() => sock.stop());
  // No broker listens here: READY must not wait for it.
  const d = runDaemon(config('notify', `mqtt://127.0.0.1:${await freePort()}`), { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '600000' });
  t.teardown(() => killQuietly(d));
  await until(() => sock.received().includes('READY=1'), 15_000, 'READY=1');
  t.regex(
    sock.received(),
    /STATUS=out-of-service; card=absent camera=absent printer=absent indicators=absent storage=ready chip=absent; mqtt=connecting/,
  );
  t.regex(d.output(), /sd_notify=(native|systemd-notify-cli)/);
  const pingsAt = (): number => sock.received().split('WATCHDOG=1').length - 1;
  const start = pingsAt();
  await new Promise((r) => setTimeout(r, 1600));
  const pings = pingsAt() - start;
  // Half of 600 ms is a 300 ms period: about 5 in 1.6 s. Wide bounds: a loaded CI machine is slow,
  // but pinging at the full WATCHDOG_USEC (2) or spinning (dozens) would still fail.
  t.true(pings >= 3 && pings <= 12, `expected about 5 pings in 1.6 s at a 300 ms period, got ${pings}`);
  d.proc.kill('SIGTERM');
  t.is((await d.exited).code, 0);
  t.regex(sock.received(), /STOPPING=1/);
});

test('the watchdog is fed only while liveness passes: a stalled event loop stops the pings and says why', async (t) => {
  const sock = await fakeNotifySocket();
  t.teardown(() => sock.stop());
  const b = await brokerFactories[0].start();
  t.teardown(() => b.stop());
  const d = runDaemon(config('stalled', b.url, 100), {
    NOTIFY_SOCKET: sock.path,
    WATCHDOG_USEC: '600000',
    NODE_OPTIONS: `--import=${new URL('../fixtures/block-event-loop.mjs', import.meta.url).pathname}`,
  });
  t.teardown(() => killQuietly(d));
  await until(() => sock.received().includes('READY=1'), 15_000, 'READY=1');
  await d.waitForOutput(/liveness check failed; withholding watchdog pings/);
  t.regex(d.output(), /event-loop delay p99 \d+(\.\d+)? ms exceeds 100 ms/);
  const before = sock.received().split('WATCHDOG=1').length;
  await new Promise((r) => setTimeout(r, 2000));
  t.is(sock.received().split('WATCHDOG=1').length, before, 'no WATCHDOG=1 while the loop is stalled');
  d.proc.kill('SIGKILL');
});
