/**
 * `npm run bench -- checkin --n 200 [--json OUT]`: back-to-back check-ins on hw-sim with no
 * simulated device delay, against the built daemon with its face models. End to end is from
 * the scan's first byte written to the scanner to the printer cutting the ticket.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { startSim } from '../hw-sim/sim.js';
import { SAMPLE_IDENTITIES } from '../hw-sim/identities.js';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

export async function checkinBench(n: number, json: string | undefined, warmup = 20): Promise<void> {
  const entry = 'dist/src/main.js';
  if (!existsSync(entry)) throw new Error('run `npm run build` first: the benchmark measures the built daemon');
  const sim = await startSim({
    brokerPort: 0,
    deviceId: 'bench-checkin',
    faceid: true,
    configOverrides: {
      kiosk: { resultHoldMs: 0 },
      hal: { card: { duplicateWindowSec: 0 } },
      mqtt: { healthIntervalSec: 5 },
      log: { level: 'warn' },
    },
  });
  sim.printer.render = false;
  const base = `kiosk/${sim.deviceId}`;
  const watcher = await mqtt.connectAsync(sim.broker.url, { protocolVersion: 4 });
  await watcher.subscribeAsync(`${base}/#`);
  let mode = '';
  const health: Array<{ loop_lag_p99_ms: number; tensors: number | null; at: number }> = [];
  let ended: ((d: Record<string, unknown>) => void) | null = null;
  watcher.on('message', (topic, payload) => {
    const text = payload.toString();
    if (topic === `${base}/state`) mode = (JSON.parse(text) as { mode: string }).mode;
    else if (topic === `${base}/health`) health.push({ ...(JSON.parse(text) as { loop_lag_p99_ms: number; tensors: number | null }), at: performance.now() });
    else if (topic === `${base}/event/checkin.completed` || topic === `${base}/event/checkin.failed`) ended?.((JSON.parse(text) as { data: Record<string, unknown> }).data);
  });
  const daemon = spawn(process.execPath, [entry, '--config', sim.configPath], { stdio: ['ignore', 'ignore', 'inherit'], env: sim.daemonEnv });
  const waitFor = async (pred: () => boolean, ms: number, what: string): Promise<void> => {
    const end = performance.now() + ms;
    while (!pred()) {
      if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  await waitFor(() => mode === 'idle' && health.some((h) => h.tensors !== null), 60_000, 'the kiosk to be idle with its face models');
  // The patient answers the consent question the instant the lamps ask.
  sim.panel.onLeds((l) => l.ready === 'blink' && sim.panel.press('consent-yes'));
  let cut: ((at: number) => void) | null = null;
  sim.printer.onCut((c) => c.complete && cut?.(c.at));

  const rssBoot = rssMb(daemon.pid!);
  const e2e: number[] = [];
  const face: number[] = [];
  const outcomes = new Map<string, number>();
  let rssStart = NaN;
  let tensorsStart: number | null = null;
  let startedAt = NaN;
  const total = warmup + n;
  for (let i = 0; i < total; i++) {
    if (i === warmup) {
      rssStart = rssMb(daemon.pid!);
      tensorsStart = health.at(-1)?.tensors ?? null;
      startedAt = performance.now();
    }
    const who = (i % SAMPLE_IDENTITIES.length) + 1;
    await sim.showFace(who);
    await waitFor(() => mode === 'idle', 10_000, 'idle');
    const printed = new Promise<number>((r) => (cut = r));
    const end = new Promise<Record<string, unknown>>((r) => (ended = r));
    const t0 = performance.now();
    await sim.scanner.scan(SAMPLE_IDENTITIES[who - 1]!);
    const [t1, data] = await Promise.all([printed, end]);
    mode = ''; // the next state message says when it is idle again
    const outcome = String(data['outcome']);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    if (i < warmup) continue;
    e2e.push(t1 - t0);
    const steps = data['steps_ms'] as Record<string, number>;
    face.push((steps['capture'] ?? 0) + (steps['verify'] ?? 0));
    if (process.stdout.isTTY) process.stdout.write(`\r  ${i + 1 - warmup}/${n}`);
  }
  const minutes = (performance.now() - startedAt) / 60_000;
  // One more health report covers the end of the run.
  const reports = health.length;
  await waitFor(() => health.length > reports, 15_000, 'a health report');
  const rssEnd = rssMb(daemon.pid!);
  const runHealth = health.filter((h) => h.at >= startedAt);
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.on('exit', r));
  await watcher.endAsync();
  await sim.stop();

  const result = {
    n,
    e2e_p50_ms: Math.round(pct(e2e, 50)),
    e2e_p95_ms: Math.round(pct(e2e, 95)),
    face_p50_ms: Math.round(pct(face, 50)),
    e2e_over_face: Number((pct(e2e, 50) / pct(face, 50)).toFixed(2)),
    checkins_per_min: Number((n / minutes).toFixed(1)),
    loop_lag_p99_ms: Math.max(...runHealth.map((h) => h.loop_lag_p99_ms)),
    rss_boot_mb: Number(rssBoot.toFixed(1)),
    rss_start_mb: Number(rssStart.toFixed(1)),
    rss_end_mb: Number(rssEnd.toFixed(1)),
    rss_growth_mb_per_1000: Number((((rssEnd - rssStart) / n) * 1000).toFixed(1)),
    tensors_start: tensorsStart,
    tensors_end: runHealth.at(-1)?.tensors ?? null,
    outcomes: Object.fromEntries(outcomes),
  };
  if (process.stdout.isTTY) process.stdout.write('\n');
  console.log(`check-in benchmark: ${n} back-to-back check-ins after ${warmup} warm-up (node ${process.version}, ${process.arch})`);
  console.log(`  end to end (card frame in -> ticket cut): p50 ${result.e2e_p50_ms} ms, p95 ${result.e2e_p95_ms} ms`);
  console.log(`  face step (capture + verify): p50 ${result.face_p50_ms} ms; end to end / face = ${result.e2e_over_face}`);
  console.log(`  throughput: ${result.checkins_per_min} check-ins per minute`);
  console.log(`  daemon event-loop lag p99 (worst ${5}-s window): ${result.loop_lag_p99_ms} ms`);
  console.log(`  daemon RSS: boot ${result.rss_boot_mb} MiB, after warm-up ${result.rss_start_mb} MiB, end ${result.rss_end_mb} MiB (${result.rss_growth_mb_per_1000} MiB per 1,000)`);
  console.log(`  tensors: ${result.tensors_start} -> ${result.tensors_end}`);
  console.log(`  outcomes: ${JSON.stringify(result.outcomes)}`);
  if (json) writeFileSync(json, JSON.stringify(result, null, 2) + '\n');
}
