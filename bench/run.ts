/**
 * Benchmarks, run by hand or on a bench rig, never in CI:
 *   npm run bench idle [-- --seconds 60]   startup time to "online" and idle RSS of the built daemon
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { startSim } from '../hw-sim/sim.js';

async function idle(seconds: number): Promise<void> {
  const entry = 'dist/src/main.js';
  if (!existsSync(entry)) throw new Error('run `npm run build` first: the benchmark measures the built daemon');
  const sim = await startSim({ brokerPort: 0, deviceId: 'bench' });
  const watcher = await mqtt.connectAsync(sim.broker.url, { protocolVersion: 4 });
  await watcher.subscribeAsync('kiosk/bench/status');
  const t0 = performance.now();
  let onlineMs = NaN;
  watcher.on('message', (_t, p) => {
    if (p.toString() === 'online' && Number.isNaN(onlineMs)) onlineMs = performance.now() - t0;
  });
  const daemon = spawn(process.execPath, [entry, '--config', sim.configPath], { stdio: 'ignore' });
  const rss: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const status = readFileSync(`/proc/${daemon.pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
    rss.push(kb / 1024);
  }
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.on('exit', r));
  await watcher.endAsync();
  await sim.stop();
  const settled = rss.slice(Math.floor(rss.length / 2)).sort((a, b) => a - b);
  const med = settled[Math.floor(settled.length / 2)] ?? NaN;
  console.log(`idle benchmark (${seconds} s, node ${process.version}, ${process.arch})`);
  console.log(`  start to retained "online": ${onlineMs.toFixed(0)} ms`);
  console.log(`  RSS after settling: median ${med.toFixed(1)} MiB, min ${settled[0]?.toFixed(1)} MiB, max ${settled.at(-1)?.toFixed(1)} MiB`);
  const every = Math.max(1, Math.floor(seconds / 12));
  console.log(`  RSS every ${every} s (MiB): ${rss.filter((_, i) => (i + 1) % every === 0).map((v) => v.toFixed(0)).join(' ')}`);
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { seconds: { type: 'string', default: '30' } } });
const which = positionals[0] ?? 'idle';
if (which === 'idle') await idle(Number(values.seconds));
else {
  console.error(`unknown benchmark "${which}"; available: idle`);
  process.exit(64);
}
