/**
 * npm run bench -- faceid --data DIR [--groups CSV] [--json OUT] [--threshold T]
 * Every same-identity pair of DIR/<identity>/<n>.jpg is genuine, every other pair impostor.
 * Missed faces count as rejects in TAR. Runs the real engine (worker, wasm) on this machine.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { FaceEngine } from '../src/faceid/engine.js';
import { euclidean } from '../src/faceid/geometry.js';
import { loadGroups } from '../src/faceid/groups.js';

export interface FaceBenchOptions {
  readonly data: string;
  readonly groups?: string | undefined;
  readonly json?: string | undefined;
  readonly threshold: number;
}

export async function faceBench(o: FaceBenchOptions): Promise<void> {
  const engine = new FaceEngine({ backend: 'wasm', threshold: o.threshold, callTimeoutMs: 60_000, maxTensorGrowth: 50 }, pino({ level: 'warn' }));
  const info = await engine.start();
  const images = readdirSync(o.data, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => readdirSync(join(o.data, d.name)).filter((f) => /\.jpe?g$/i.test(f)).map((f) => ({ id: d.name, path: join(o.data, d.name, f) })));
  const group = loadGroups(o.groups);
  const emb: Array<{ id: string; e: readonly number[] | null }> = [];
  const ms: number[] = [];
  const tty = process.stdout.isTTY;
  for (const [i, img] of images.entries()) {
    const t0 = performance.now();
    const a = await engine.analyze(readFileSync(img.path), 'reference', AbortSignal.timeout(60_000));
    ms.push(performance.now() - t0);
    emb.push({ id: img.id, e: a.embedding });
    if (tty) process.stdout.write(`\r  ${progress(i + 1, images.length)}`);
  }
  if (tty) process.stdout.write('\n');
  const genuine: number[] = [];
  const impostor: number[] = [];
  const impostorByGroup = new Map<string, number[]>();
  for (let i = 0; i < emb.length; i++) {
    for (let j = i + 1; j < emb.length; j++) {
      const a = emb[i]!;
      const b = emb[j]!;
      const d = a.e && b.e ? euclidean(a.e, b.e) : Infinity; // a missed face is a reject
      if (a.id === b.id) genuine.push(d);
      else {
        impostor.push(d);
        const ga = group(a.id);
        if (ga && ga === group(b.id)) impostorByGroup.set(ga, [...(impostorByGroup.get(ga) ?? []), d]);
      }
    }
  }
  const thrAtFar = (far: number): number => {
    const sorted = [...impostor].sort((x, y) => x - y);
    const k = Math.floor(far * sorted.length);
    return sorted[k] ?? Infinity; // fewer than k impostors below it
  };
  const rate = (xs: number[], t: number): number => xs.filter((x) => x < t).length / Math.max(1, xs.length);
  const found = (xs: number[]): number[] => xs.filter(Number.isFinite);
  const eer = equalErrorRate(found(genuine), found(impostor));
  const sortedMs = [...ms].sort((x, y) => x - y);
  const result = {
    model_sha256: info.recognizerSha256,
    backend: info.backend,
    load_ms: Math.round(info.loadMs),
    images: images.length,
    missed_faces: emb.filter((x) => !x.e).length,
    pairs: { genuine: genuine.length, impostor: impostor.length },
    eer,
    'tar_at_far_1e-2': rate(genuine, thrAtFar(1e-2)),
    'tar_at_far_1e-3': rate(genuine, thrAtFar(1e-3)),
    threshold: o.threshold,
    accuracy: (rate(genuine, o.threshold) * genuine.length + (1 - rate(impostor, o.threshold)) * impostor.length) / Math.max(1, genuine.length + impostor.length),
    far_at_threshold: rate(impostor, o.threshold),
    'threshold_at_far_1e-3': thrAtFar(1e-3),
    median_ms: sortedMs[Math.floor(sortedMs.length / 2)] ?? NaN,
    p90_ms: sortedMs[Math.floor(sortedMs.length * 0.9)] ?? NaN,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    ...(o.groups ? { far_by_group: Object.fromEntries([...impostorByGroup].map(([g, xs]) => [g, { far: rate(xs, o.threshold), pairs: xs.length }])) } : {}),
  };
  await engine.stop();
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  console.log(`faceid benchmark: ${o.data} (${images.length} images, ${result.pairs.genuine} genuine / ${result.pairs.impostor} impostor pairs), ${info.backend}, models loaded in ${result.load_ms} ms`);
  console.log(`  missed faces ${result.missed_faces}; EER ${pct(eer)}; TAR@FAR 1e-2 ${pct(result['tar_at_far_1e-2'])}; TAR@FAR 1e-3 ${pct(result['tar_at_far_1e-3'])} (missed faces count as rejects)`);
  console.log(`  at threshold ${o.threshold}: accuracy ${pct(result.accuracy)}, FAR ${pct(result.far_at_threshold)}; the FAR 1e-3 threshold here would be ${result['threshold_at_far_1e-3'].toFixed(3)}`);
  if (result.far_by_group) for (const [g, v] of Object.entries(result.far_by_group)) console.log(`  FAR within ${g}: ${pct(v.far)} of ${v.pairs} pairs`);
  console.log(`  per image: median ${result.median_ms.toFixed(0)} ms, p90 ${result.p90_ms.toFixed(0)} ms; peak RSS ${result.peak_rss_mb} MB (process, worker included)`);
  if (o.json) writeFileSync(o.json, JSON.stringify(result, null, 2) + '\n');
}

function equalErrorRate(genuine: number[], impostor: number[]): number {
  const ts = [...genuine, ...impostor].sort((a, b) => a - b);
  let best = 1;
  for (const t of ts) {
    const frr = genuine.filter((g) => g >= t).length / Math.max(1, genuine.length);
    const far = impostor.filter((i) => i < t).length / Math.max(1, impostor.length);
    best = Math.min(best, Math.max(frr, far));
  }
  return best;
}


function progress(done: number, total: number): string {
  const w = 30;
  const n = Math.round((done / total) * w);
  return `[${'#'.repeat(n)}${'.'.repeat(w - n)}] ${done}/${total}`;
}
