/**
 * `npm run bench -- checkin --n 200 [--json OUT] [--sample-every 100] [--heap]`: back-to-back
 * check-ins on hw-sim with no simulated device delay, against the built daemon with its face
 * models. End to end is from the scan's first byte written to the scanner to the printer cutting
 * the ticket.
 *
 * Memory: the daemon's RSS is sampled every `--sample-every` check-ins, and the growth is the
 * least-squares slope over the second half of the run (end minus start is one noisy pair: a GC,
 * a grown wasm heap or the SQLite cache filling moves it by megabytes). `--heap` starts the
 * daemon with V8's `--trace-gc` (a flag, so no change to the daemon) and adds each isolate's
 * live heap after its latest full collection (main thread, face worker, ticket encoder); an
 * isolate's figure moves only when it next runs a full collection, so an early one can be stale.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { startSim, TOPIC_PREFIX } from '../hw-sim/sim.js';
import { DAEMON_MALLOC_ENV } from '../hw-sim/daemon.js';
import { KioskClient } from '../src/mqtt/kiosk-client.js';
import { kioskTopics } from '../src/mqtt/topics.js';
import { SAMPLE_IDENTITIES } from '../hw-sim/identities.js';
import { fitLine, GcTrace, readRss } from './memory.js';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const mb = (x: number): number => Number(x.toFixed(1));

export interface CheckinBenchOptions {
  readonly n: number;
  readonly json?: string | undefined;
  readonly warmup?: number;
  /** Check-ins between memory samples. */
  readonly sampleEvery?: number;
  /** Trace the daemon's V8 heaps (--trace-gc). */
  readonly heap?: boolean;
}

interface MemSample {
  readonly checkins: number;
  readonly rss_mb: number;
  readonly anon_mb: number;
  readonly file_mb: number;
  readonly heaps_mb?: number[];
}

export async function checkinBench({ n, json, warmup = 20, sampleEvery = 100, heap = false }: CheckinBenchOptions): Promise<void> {
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
  const topics = kioskTopics(TOPIC_PREFIX, sim.deviceId);
  // Compared as whole strings: the watcher sees every message of the run.
  const [stateTopic, healthTopic, completedTopic, failedTopic] = [
    topics.retained('state'),
    topics.retained('health'),
    topics.event('checkin.completed'),
    topics.event('checkin.failed'),
  ];
  let mode = '';
  const health: Array<{ loop_lag_p99_ms: number; tensors: number | null; at: number }> = [];
  let ended: ((d: Record<string, unknown>) => void) | null = null;
  const watcher = await KioskClient.connect({ url: sim.broker.url, clientId: 'bench-checkin', deviceId: sim.deviceId }, (client) =>
    client.onMessage(({ topic, payload: text }) => {
      if (topic === stateTopic) mode = (JSON.parse(text) as { mode: string }).mode;
      else if (topic === healthTopic)
        health.push({ ...(JSON.parse(text) as { loop_lag_p99_ms: number; tensors: number | null }), at: performance.now() });
      else if (topic === completedTopic || topic === failedTopic) {
        // Forgotten here, in order, not after the awaits: the kiosk's "idle" can arrive in the same
        // packet batch as the event, and clearing it later would wait for an idle already seen.
        mode = '';
        ended?.((JSON.parse(text) as { data: Record<string, unknown> }).data);
      }
    }),
  );
  const gc = new GcTrace();
  const daemon = spawn(process.execPath, [...(heap ? ['--trace-gc'] : []), entry, '--config', sim.configPath, '--exit-with-parent'], {
    stdio: ['ignore', heap ? 'pipe' : 'ignore', 'inherit'],
    env: { ...sim.daemonEnv, ...DAEMON_MALLOC_ENV },
  });
  // A daemon that dies mid-run ends the run with that reason, rather than a wait that never ends.
  const died = new Promise<never>((_, reject) =>
    daemon.once('exit', (code, signal) => reject(new Error(`the daemon exited (${signal ?? code}) during the run`))),
  );
  died.catch(() => {});
  // The daemon's own log lines (warn and up) still reach the terminal.
  daemon.stdout?.on('data', (c: Buffer) => gc.feed(c, (line) => process.stderr.write(line + '\n')));
  const samples: MemSample[] = [];
  const sample = (checkins: number): MemSample => {
    const r = readRss(daemon.pid!);
    const s: MemSample = { checkins, rss_mb: mb(r.rss), anon_mb: mb(r.anon), file_mb: mb(r.file), ...(heap ? { heaps_mb: gc.heaps() } : {}) };
    samples.push(s);
    return s;
  };
  // Once, whether the run ends or fails: a failed run must not leave a daemon behind.
  let stopping: Promise<void> | null = null;
  const stopAll = (): Promise<void> =>
    (stopping ??= (async () => {
      if (daemon.exitCode === null && daemon.signalCode === null) {
        const exited = new Promise((r) => daemon.once('exit', r));
        daemon.kill('SIGTERM');
        await exited;
      }
      await watcher.end();
      await sim.stop();
    })());
  try {
    return await run();
  } finally {
    await stopAll();
  }

  async function run(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = (ms: number, what: string): Promise<never> => {
      clearTimeout(timer);
      // Unref'd: the last one must not keep the finished bench alive.
      return new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms).unref()));
    };
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

    const rssBoot = readRss(daemon.pid!).rss;
    const e2e: number[] = [];
    const face: number[] = [];
    const outcomes = new Map<string, number>();
    let rssStart = NaN;
    let tensorsStart: number | null = null;
    let startedAt = NaN;
    const total = warmup + n;
    for (let i = 0; i < total; i++) {
      if (i === warmup) {
        rssStart = sample(0).rss_mb;
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
      const [t1, data] = await Promise.race([Promise.all([printed, end]), died, timeout(30_000, 'the ticket and the end of the check-in')]);
      const outcome = String(data['outcome']);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (i < warmup) continue;
      e2e.push(t1 - t0);
      const steps = data['steps_ms'] as Record<string, number>;
      face.push((steps['capture'] ?? 0) + (steps['verify'] ?? 0));
      const done = i + 1 - warmup;
      if (done % sampleEvery === 0 && done < n) {
        const s = sample(done);
        const heaps = s.heaps_mb ? `; V8 live heaps ${s.heaps_mb.join(' / ')} MiB` : '';
        console.log(`  ${String(done).padStart(5)}: RSS ${s.rss_mb} MiB (anon ${s.anon_mb}, file ${s.file_mb})${heaps}`);
      } else if (process.stdout.isTTY) process.stdout.write(`\r  ${done}/${n}\r`);
    }
    const minutes = (performance.now() - startedAt) / 60_000;
    // One more health report covers the end of the run.
    const reports = health.length;
    await waitFor(() => health.length > reports, 15_000, 'a health report');
    const last = sample(n);
    const rssEnd = last.rss_mb;
    const gcCounts = gc.fullCollections();
    const runHealth = health.filter((h) => h.at >= startedAt);
    await stopAll();

    const rssFit = secondHalfSlope(samples, (s) => s.rss_mb);
    const result = {
      n,
      e2e_p50_ms: Math.round(pct(e2e, 50)),
      e2e_p95_ms: Math.round(pct(e2e, 95)),
      face_p50_ms: Math.round(pct(face, 50)),
      e2e_over_face: Number((pct(e2e, 50) / pct(face, 50)).toFixed(2)),
      checkins_per_min: Number((n / minutes).toFixed(1)),
      loop_lag_p99_ms: Math.max(...runHealth.map((h) => h.loop_lag_p99_ms)),
      /** The typical window, beside the worst one: tells a one-off stall from a slow loop. */
      loop_lag_p99_ms_median: pct(
        runHealth.map((h) => h.loop_lag_p99_ms),
        50,
      ),
      rss_boot_mb: Number(rssBoot.toFixed(1)),
      rss_start_mb: Number(rssStart.toFixed(1)),
      rss_end_mb: Number(rssEnd.toFixed(1)),
      rss_growth_mb_per_1000: Number((((rssEnd - rssStart) / n) * 1000).toFixed(1)),
      rss_max_mb: Math.max(...samples.map((s) => s.rss_mb)),
      rss_samples_mb: samples.map((s) => s.rss_mb),
      rss_slope_mb_per_1000: rssFit.slope,
      rss_slope_se_mb_per_1000: rssFit.se,
      anon_slope_mb_per_1000: secondHalfSlope(samples, (s) => s.anon_mb).slope,
      ...(heap
        ? { heap_slopes_mb_per_1000: (last.heaps_mb ?? []).map((_, k) => secondHalfSlope(samples, (s) => s.heaps_mb?.[k] ?? NaN).slope) }
        : {}),
      samples,
      ...(heap ? { heap_full_gcs: gcCounts } : {}),
      tensors_start: tensorsStart,
      tensors_end: runHealth.at(-1)?.tensors ?? null,
      outcomes: Object.fromEntries(outcomes),
    };
    if (process.stdout.isTTY) process.stdout.write('\n');
    console.log(`check-in benchmark: ${n} back-to-back check-ins after ${warmup} warm-up (node ${process.version}, ${process.arch})`);
    console.log(`  end to end (card frame in -> ticket cut): p50 ${result.e2e_p50_ms} ms, p95 ${result.e2e_p95_ms} ms`);
    console.log(`  face step (capture + verify): p50 ${result.face_p50_ms} ms; end to end / face = ${result.e2e_over_face}`);
    console.log(`  throughput: ${result.checkins_per_min} check-ins per minute`);
    console.log(`  daemon event-loop lag p99: worst ${5}-s window ${result.loop_lag_p99_ms} ms, median window ${result.loop_lag_p99_ms_median} ms`);
    console.log(
      `  daemon RSS: boot ${result.rss_boot_mb} MiB, after warm-up ${result.rss_start_mb} MiB, end ${result.rss_end_mb} MiB${n >= 500 ? ` (end - start: ${result.rss_growth_mb_per_1000} MiB per 1,000)` : ''}`,
    );
    console.log(`  RSS every ${sampleEvery} check-ins (MiB): ${result.rss_samples_mb.join(' ')}; peak ${result.rss_max_mb}`);
    console.log(
      result.rss_slope_mb_per_1000 === null
        ? `  RSS slope: too few samples in the second half (judge growth with --n 2000 --heap)`
        : `  RSS slope over the second half: ${result.rss_slope_mb_per_1000} ± ${result.rss_slope_se_mb_per_1000 ?? 'n/a'} MiB per 1,000 (anonymous memory: ${result.anon_slope_mb_per_1000})`,
    );
    if (heap) {
      console.log(`  V8 live heaps at the end (MiB, per isolate): ${last.heaps_mb?.join(' / ')}; full collections: ${gcCounts.join(' / ')}`);
      console.log(`  V8 live heap slopes over the second half (MiB per 1,000, per isolate): ${result.heap_slopes_mb_per_1000?.join(' / ')}`);
    }
    console.log(`  tensors: ${result.tensors_start} -> ${result.tensors_end}`);
    console.log(`  outcomes: ${JSON.stringify(result.outcomes)}`);
    if (json) writeFileSync(json, JSON.stringify(result, null, 2) + '\n');
  }
}

/** MiB per 1,000 check-ins (± its standard error), fitted to the samples of the second half of the run. */
function secondHalfSlope(samples: readonly MemSample[], y: (s: MemSample) => number): { slope: number | null; se: number | null } {
  const end = samples.at(-1)?.checkins ?? 0;
  const half = samples.filter((s) => s.checkins >= end / 2 && Number.isFinite(y(s)));
  // Two points make a line through noise, not a trend: a short run has no slope to report.
  if (half.length < 3) return { slope: null, se: null };
  const f = fitLine(
    half.map((s) => s.checkins),
    half.map(y),
  );
  const round = (k: number): number | null => (Number.isFinite(k) ? Number((k * 1000).toFixed(1)) : null);
  return { slope: round(f.slope), se: round(f.se) };
}
