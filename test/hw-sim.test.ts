import test from 'ava';
import { spawn } from 'node:child_process';
import { freePort } from './helpers/ports.js';
import { until } from './helpers/wait.js';
import { Watcher } from './helpers/watch.js';

test('hw-sim start: prints where things are, the kiosk is online within 10 s, Ctrl-C leaves "stopped"', async (t) => {
  const port = await freePort();
  const sim = spawn(process.execPath, ['--import', 'tsx', 'hw-sim/main.ts', 'start', '--port', String(port), '--device-id', 'cli-sim'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => sim.exitCode === null && sim.kill('SIGKILL'));
  let out = '';
  sim.stdout.on('data', (d: Buffer) => (out += d.toString()));
  sim.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => sim.on('exit', (code) => r(code)));
  await until(() => out.includes('Ctrl-C stops'), 10_000, 'the banner');
  t.regex(out, new RegExp(`MQTT broker \\(embedded, MQTT 3\\.1\\.1\\): mqtt://127\\.0\\.0\\.1:${port}`));
  t.regex(out, /topics: +kiosk\/cli-sim\/status/);
  t.regex(out, /scan a test card: not available yet/);

  const w = await Watcher.start(`mqtt://127.0.0.1:${port}`, 'kiosk/cli-sim/#');
  t.teardown(() => w.stop());
  await w.waitFor((m) => m.topic === 'kiosk/cli-sim/status' && m.payload === 'online', 10_000);
  const state = JSON.parse((await w.waitFor((m) => m.topic === 'kiosk/cli-sim/state')).payload);
  t.is(state.mode, 'out-of-service');

  sim.kill('SIGINT');
  await w.waitFor((m) => m.topic === 'kiosk/cli-sim/status' && m.payload === 'stopped', 10_000);
  t.is(await exited, 0);
  t.regex(out, /hw-sim: stopped/);
});
