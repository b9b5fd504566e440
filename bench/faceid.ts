/**
 * npm run bench faceid -- --data DIR [--data DIR…] [--groups CSV] [--json OUT] [--threshold T]
 * Every same-identity pair is genuine, every other pair impostor; missed faces count as rejects
 * in TAR. The threshold defaults to the recogniser's shipped calibration.
 */
import { writeFileSync } from 'node:fs';
import pino from 'pino';
import { findCalibration } from '../src/faceid/calibration.js';
import { FaceEngine } from '../src/faceid/engine.js';
import { acceptRate, embedFolders, equalErrorRate, pairDistances, thresholdAtFar } from '../src/faceid/evaluate.js';
import { loadGroups } from '../src/faceid/groups.js';

export interface FaceBenchOptions {
  readonly data: readonly string[];
  readonly groups?: string | undefined;
  readonly json?: string | undefined;
  readonly threshold?: number | undefined;
}

export async function faceBench(o: FaceBenchOptions): Promise<void> {
  const engine = new FaceEngine({ backend: 'wasm', threshold: 0, callTimeoutMs: 60_000, maxTensorGrowth: 50 }, pino({ level: 'warn' }));
  const info = await engine.start();
  const threshold = o.threshold ?? findCalibration(info.recognizerSha256).threshold;
  const tty = process.stdout.isTTY;
  const photos = await embedFolders(engine, o.data, tty ? (done, total) => process.stdout.write(`\r  ${bar(done, total)}`) : undefined);
  if (tty) process.stdout.write('\n');
  await engine.stop();
  const { genuine, impostor, byGroup } = pairDistances(photos, loadGroups(o.groups));
  const ms = photos.map((p) => p.ms).sort((a, b) => a - b);
  const far = acceptRate(impostor, threshold);
  const tar = acceptRate(genuine, threshold);
  const result = {
    model_sha256: info.recognizerSha256,
    backend: info.backend,
    load_ms: Math.round(info.loadMs),
    images: photos.length,
    missed_faces: photos.filter((p) => !p.embedding).length,
    pairs: { genuine: genuine.length, impostor: impostor.length },
    eer: equalErrorRate(genuine, impostor),
    'tar_at_far_1e-2': acceptRate(genuine, thresholdAtFar(impostor, 1e-2)),
    'tar_at_far_1e-3': acceptRate(genuine, thresholdAtFar(impostor, 1e-3)),
    threshold,
    accuracy: (tar * genuine.length + (1 - far) * impostor.length) / Math.max(1, genuine.length + impostor.length),
    far_at_threshold: far,
    'threshold_at_far_1e-3': thresholdAtFar(impostor, 1e-3),
    median_ms: ms[Math.floor(ms.length / 2)] ?? NaN,
    p90_ms: ms[Math.floor(ms.length * 0.9)] ?? NaN,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    ...(o.groups ? { far_by_group: Object.fromEntries([...byGroup].map(([g, xs]) => [g, { far: acceptRate(xs, threshold), pairs: xs.length }])) } : {}),
  };
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  console.log(`faceid benchmark: ${o.data.join(' + ')} (${photos.length} images, ${genuine.length} genuine / ${impostor.length} impostor pairs), ${info.backend}, models loaded in ${result.load_ms} ms`);
  console.log(`  missed faces ${result.missed_faces}; EER ${pct(result.eer)}; TAR@FAR 1e-2 ${pct(result['tar_at_far_1e-2'])}; TAR@FAR 1e-3 ${pct(result['tar_at_far_1e-3'])} (missed faces count as rejects)`);
  console.log(`  at threshold ${threshold}: accuracy ${pct(result.accuracy)}, FAR ${pct(far)}, TAR ${pct(tar)}; the FAR 1e-3 threshold here would be ${result['threshold_at_far_1e-3'].toFixed(3)}`);
  for (const [g, v] of Object.entries(result.far_by_group ?? {})) console.log(`  FAR within ${g}: ${pct(v.far)} of ${v.pairs} pairs`);
  console.log(`  per image: median ${result.median_ms.toFixed(0)} ms, p90 ${result.p90_ms.toFixed(0)} ms; peak RSS ${result.peak_rss_mb} MB (process, worker included)`);
  if (o.json) writeFileSync(o.json, JSON.stringify(result, null, 2) + '\n');
}

function bar(done: number, total: number): string {
  const n = Math.round((done / total) * 30);
  return `[${'#'.repeat(n)}${'.'.repeat(30 - n)}] ${done}/${total}`;
}
