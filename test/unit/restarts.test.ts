/**
 * Crash loops: kioskd is restarted by systemd for ever, each quick restart after a failure waiting
 * longer (5 s, 10 s, 20 s … at most 5 min), and it tells central monitoring how often it restarted.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootId, crashLoopDelayMs, MAX_DELAY_MS, noteCleanStop, noteStart, QUICK_MS } from '../../src/lifecycle/restarts.js';
import { brokerFactories } from '../helpers/brokers.js';
import { killQuietly, runDaemon } from '../helpers/daemon.js';
import { fakeNotifySocket } from '../helpers/notify-socket.js';
import { until } from '../helpers/wait.js';
import { Watcher } from '../helpers/watch.js';

const dir = () => mkdtempSync(join(tmpdir(), 'kioskd-restarts-'));

test("the wait grows with each quick restart after a failure, counting systemd's own 5 s, and stops at 5 min", (t) => {
  const total = [1, 2, 3, 4, 5, 6, 7, 8, 20].map((q) => crashLoopDelayMs(q) + 5000);
  t.deepEqual(total, [5000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  t.is(crashLoopDelayMs(0), 0);
  t.true(crashLoopDelayMs(50) + 5000 <= MAX_DELAY_MS);
});

test('starts since boot are counted; a crash loop is starts in quick succession without a clean stop; a clean stop, a slow restart or a new boot ends it', (t) => {
  const d = dir();
  let now = 1_000_000;
  t.deepEqual(noteStart(d, 'boot-1', now), { restartsSinceBoot: 0, afterFailure: false, quickRestarts: 0, delayMs: 0 });
  // Crashed: systemd starts it again 5 s later, again and again.
  const loop = [1, 2, 3].map(() => noteStart(d, 'boot-1', (now += 5000)));
  t.deepEqual(
    loop.map((r) => [r.restartsSinceBoot, r.quickRestarts, r.delayMs]),
    [
      [1, 1, 0],
      [2, 2, 5000],
      [3, 3, 15_000],
    ],
  );
  // A clean stop (systemctl restart): the next start waits for nothing.
  noteCleanStop(d);
  t.like(noteStart(d, 'boot-1', (now += 5000)), { restartsSinceBoot: 4, afterFailure: false, quickRestarts: 0, delayMs: 0 });
  // A crash long after the last start is not a loop, but still a restart after a failure (alerted).
  t.like(noteStart(d, 'boot-1', (now += QUICK_MS + 1)), { restartsSinceBoot: 5, afterFailure: true, quickRestarts: 0, delayMs: 0 });
  // A new boot starts the count again.
  t.deepEqual(noteStart(d, 'boot-2', (now += 5000)), { restartsSinceBoot: 0, afterFailure: false, quickRestarts: 0, delayMs: 0 });
  // A torn or foreign file is a first start, never a crash.
  writeFileSync(join(d, 'restarts.json'), '{"boot": "boot-2", "sta');
  t.deepEqual(noteStart(d, 'boot-2', (now += 5000)), { restartsSinceBoot: 0, afterFailure: false, quickRestarts: 0, delayMs: 0 });
  // A directory that cannot be written (a full or read-only disk) still lets the kiosk start, undelayed.
  t.deepEqual(noteStart('/dev/null/kioskd', 'boot-2', now), { restartsSinceBoot: 0, afterFailure: false, quickRestarts: 0, delayMs: 0 });
});

test('the daemon, restarted twice in a row after failures: waits 5 s more before READY (and tells systemd), says so, reports its restarts in info and an alert; a clean stop ends the loop', async (t) => {
  const b = await brokerFactories[0].start();
  t.teardown(() => b.stop());
  const sock = await fakeNotifySocket();
  t.teardown(() => sock.stop());
  const stateDir = dir();
  const now = Date.now();
  // What the two crashed starts before this one left behind.
  writeFileSync(join(stateDir, 'restarts.json'), JSON.stringify({ boot: bootId(), starts: 2, lastStartMs: now - 5000, quick: 1, clean: false }));
  const w = await Watcher.start(b.url, 'kiosk/looping/#');
  t.teardown(() => w.stop());
  const started = Date.now();
  const d = runDaemon({ device: { id: 'looping' }, mqtt: { url: b.url }, hal: { mode: 'sim' }, kiosk: { stateDir } }, { NOTIFY_SOCKET: sock.path });
  t.teardown(() => killQuietly(d));
  await d.waitForOutput(/waiting 5 s before starting \(crash-loop backoff\)/);
  await until(() => sock.received().includes('EXTEND_TIMEOUT_USEC=155000000'), 10_000, 'EXTEND_TIMEOUT_USEC');
  t.false(sock.received().includes('READY=1'), 'not ready while it waits');
  await until(() => sock.received().includes('READY=1'), 30_000, 'READY=1');
  t.true(Date.now() - started >= 5000, `ready after ${Date.now() - started} ms`);
  const info = await w.waitFor((m) => m.topic === 'kiosk/looping/info', 15_000);
  t.is(JSON.parse(info.payload).restarts_since_boot, 2);
  const alert = await w.waitFor((m) => m.topic === 'kiosk/looping/event/alert' && JSON.parse(m.payload).data.code === 'daemon.restarted', 15_000);
  t.like(JSON.parse(alert.payload).data, { level: 'warning', count: 2 });
  d.proc.kill('SIGTERM');
  t.is((await d.exited).code, 0);
  t.like(JSON.parse(readFileSync(join(stateDir, 'restarts.json'), 'utf8')), { clean: true, quick: 0, starts: 3 });
});
