/**
 * npm run bench faceid -- --data DIR [--data DIR…] [--pairs FILE] [--groups CSV]
 *     [--recognizer MODEL_FILE] [--config FILE] [--reference faceapi-ssd] [--mode kiosk [--camera stream [--burst N]]]
 *     [--threshold T] [--json OUT]
 * Every same-identity pair is genuine, every other pair impostor (or the pairs a --pairs TSV
 * names); missed faces count as rejects. The threshold is the recogniser's calibration.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino from 'pino';
import { loadConfigFile } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';
import { findCalibration } from '../src/faceid/calibration.js';
import { FaceEngine } from '../src/faceid/engine.js';
import {
  acceptRate,
  allPairs,
  embedAll,
  equalErrorRate,
  listPhotos,
  pairDistances,
  readPairs,
  thresholdAtFar,
  type Embedded,
  type LabelledPhoto,
  type Pair,
} from '../src/faceid/evaluate.js';
import { loadGroups } from '../src/faceid/groups.js';
import { distanceOf, scoreOf, type Metric } from '../src/faceid/metric.js';
import { faceEngineOptions } from '../src/faceid/options.js';
import { FACEAPI_THRESHOLD, faceApiReference } from './faceapi-reference.js';
import { chipPortrait, kioskBurst, kioskFrame } from './kiosk-mode.js';

export interface FaceBenchOptions {
  readonly data: readonly string[];
  readonly pairs?: string | undefined;
  readonly groups?: string | undefined;
  readonly json?: string | undefined;
  readonly threshold?: number | undefined;
  readonly recognizer?: string | undefined;
  readonly config?: string | undefined;
  readonly reference?: 'faceapi-ssd' | undefined;
  readonly mode: 'photo' | 'kiosk';
  /** Kiosk mode's probe: one JPEG still (default), or a burst of raw frames from hw-sim's camera model. */
  readonly camera?: 'still' | 'stream' | undefined;
  /** Frames per burst with --camera stream (the driver's default, 3). */
  readonly burst?: number | undefined;
  /** Usable frames of a burst compared before the best is embedded (the engine's default, 1). */
  readonly examine?: number | undefined;
}

interface Inputs {
  readonly photos: readonly LabelledPhoto[];
  readonly pairs: () => Iterable<Pair>;
  /** Each pair's first photo as the reference, and its second as the probe. */
  readonly reference: readonly Uint8Array[];
  readonly probe: readonly Uint8Array[];
}

export async function faceBench(o: FaceBenchOptions): Promise<void> {
  const listed = o.pairs ? readPairs(o.pairs, o.data[0]!) : { photos: listPhotos(o.data), pairs: null };
  const photos = listed.photos;
  const originals = photos.map((p) => readFileSync(p.path));
  // The same bytes go to both pipelines; kiosk mode degrades them once, deterministically.
  const inputs: Inputs = {
    photos,
    pairs: () => listed.pairs ?? allPairs(photos),
    reference: o.mode === 'kiosk' ? originals.map(chipPortrait) : originals,
    probe: o.mode === 'kiosk' ? originals.map((b, i) => kioskFrame(b, i + 1)) : originals,
  };
  const group = loadGroups(o.groups);
  const tty = process.stdout.isTTY === true;
  const progress = (label: string) =>
    tty ? (done: number, total: number) => process.stdout.write(`\r  ${label} ${bar(done, total)}${done === total ? '\n' : ''}`) : undefined;

  // Ours: the engine as the daemon configures it (or --recognizer), in its worker thread.
  const faceid = o.config ? loadConfigFile(o.config).config.faceid : configSchema.shape.faceid.parse(undefined);
  const options = faceEngineOptions(faceid, {
    calibration: 'none',
    callTimeoutMs: 60_000,
    ...(o.examine ? { burstExamine: o.examine } : {}),
    ...(o.recognizer
      ? {
          recognizer: {
            ...faceEngineOptions(faceid).recognizer,
            model: ['fr_feature', 'faceapi'].includes(o.recognizer) ? o.recognizer : resolve(o.recognizer),
          },
        }
      : {}),
  });
  const rssBefore = process.memoryUsage().rss;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const engine = new FaceEngine(options, pino({ level: 'warn' }));
  const info = await engine.start();
  const byIndex = (list: readonly Uint8Array[]) => (p: LabelledPhoto) => list[photos.indexOf(p)]!;
  const refs = await embedAll(engine, photos, 'reference', byIndex(inputs.reference), progress('ours, references'));
  // A burst is made when it is needed (551 bursts of 3 raw 1280×960 frames would be 3 GB).
  const stream = o.mode === 'kiosk' && o.camera === 'stream';
  const probeOf = stream
    ? (p: LabelledPhoto) => kioskBurst(originals[photos.indexOf(p)]!, photos.indexOf(p) + 1, o.burst ?? 3)
    : byIndex(inputs.probe);
  const probes =
    o.mode === 'kiosk' ? await embedAll(engine, photos, 'probe', probeOf, progress(stream ? 'ours, camera bursts' : 'ours, camera frames')) : refs;
  await engine.stop();
  lag.disable();
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const calibration = (() => {
    try {
      return findCalibration(info.recognizer.sha256, faceid.calibrationDir);
    } catch {
      return null;
    }
  })();
  const threshold = o.threshold ?? calibration?.threshold ?? null;
  const ours = summarize(inputs, refs, probes, info.recognizer.metric, threshold, group, o.groups !== undefined);
  const result: Record<string, unknown> = {
    recognizer: info.recognizer.name,
    model_sha256: info.recognizer.sha256,
    metric: info.recognizer.metric,
    calibration: calibration
      ? { threshold: calibration.threshold, target_far: calibration.target_far, fitted_on: calibration.fitted_on.map((f) => f.data) }
      : null,
    backend: info.backend,
    mode: o.mode,
    camera: o.mode === 'kiosk' ? (o.camera ?? 'still') : null,
    load_ms: Math.round(info.loadMs),
    warmup_ms: Math.round(info.warmupMs),
    images: photos.length,
    ...ours,
    peak_rss_mb: Math.round(peakRss / 2 ** 20),
    worker_rss_mb: Math.round((peakRss - rssBefore) / 2 ** 20),
    main_loop_lag_ms: { p50: lag.percentile(50) / 1e6, p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 },
  };
  print(
    `faceid benchmark: ${o.data.join(' + ')}${o.pairs ? ` (pairs from ${o.pairs})` : ''}, mode ${o.mode}, ${photos.length} images, ${info.backend}`,
    info.recognizer.name,
    result,
  );
  console.log(
    `  models loaded in ${result['load_ms']} ms, warmed up in ${result['warmup_ms']} ms; peak RSS ${result['peak_rss_mb']} MB (process), of which the worker's growth ${result['worker_rss_mb']} MB; main-thread event-loop lag p99 ${lag.percentile(99) / 1e6} ms, max ${(lag.max / 1e6).toFixed(0)} ms`,
  );

  if (o.reference === 'faceapi-ssd') {
    const ref = await faceApiReference();
    const time =
      (fn: (b: Uint8Array) => Promise<number[] | null>) =>
      async (list: readonly Uint8Array[], label: string): Promise<Embedded[]> => {
        const out: Embedded[] = [];
        const tick = progress(label);
        for (const b of list) {
          const t0 = performance.now();
          out.push({ embedding: await fn(b), ms: performance.now() - t0 });
          tick?.(out.length, list.length);
        }
        return out;
      };
    const run = time(ref.embed);
    const rRefs = await run(inputs.reference, 'face-api SSD, references');
    const rProbes = o.mode === 'kiosk' ? await run(inputs.probe, 'face-api SSD, camera frames') : rRefs;
    ref.close();
    const theirs = summarize(inputs, rRefs, rProbes, 'l2', FACEAPI_THRESHOLD, group, o.groups !== undefined);
    const reference = {
      pipeline: 'face-api ssdMobilenetv1 + faceLandmark68Net + faceRecognitionNet, default options, threshold 0.6',
      ...theirs,
      time_ratio: ours.median_ms / theirs.median_ms,
      probe_time_ratio: ours.probe_median_ms === null || theirs.probe_median_ms === null ? null : ours.probe_median_ms / theirs.probe_median_ms,
    };
    result['reference'] = reference;
    print('reference, same images, same run', reference.pipeline, reference);
    console.log(`  time ratio (ours ÷ reference, median per image): ${reference.time_ratio.toFixed(3)}`);
    if (reference.probe_time_ratio !== null)
      console.log(
        `  face step (camera frame or burst → embedding), ours ÷ reference, median: ${ours.probe_median_ms?.toFixed(0)} ÷ ${theirs.probe_median_ms?.toFixed(0)} ms = ${reference.probe_time_ratio.toFixed(3)}`,
      );
  }
  if (o.json) writeFileSync(o.json, JSON.stringify(result, null, 2) + '\n');
}

function summarize(
  inputs: Inputs,
  refs: readonly Embedded[],
  probes: readonly Embedded[],
  metric: Metric,
  threshold: number | null,
  group: (id: string) => string | null,
  withGroups: boolean,
) {
  const d = pairDistances(
    inputs.photos,
    inputs.pairs(),
    refs.map((e) => e.embedding),
    probes.map((e) => e.embedding),
    metric,
    group,
  );
  const ms = [...refs, ...(probes === refs ? [] : probes)].map((e) => e.ms).sort((a, b) => a - b);
  const probeMs = probes.map((e) => e.ms).sort((a, b) => a - b);
  const t = threshold === null ? null : distanceOf(metric, threshold);
  const far = t === null ? null : acceptRate(d.impostor, t);
  const tar = t === null ? null : acceptRate(d.genuine, t);
  const rates = (m: Map<string, number[]>) =>
    t === null ? null : Object.fromEntries([...m].map(([k, xs]) => [k, { far: acceptRate(xs, t), pairs: xs.length }]));
  const byGroup = rates(d.byGroup);
  const worst = byGroup ? Object.entries(byGroup).sort((a, b) => b[1].far - a[1].far)[0] : undefined;
  return {
    missed_faces: refs.filter((e) => !e.embedding).length + (probes === refs ? 0 : probes.filter((e) => !e.embedding).length),
    pairs: { genuine: d.genuine.length, impostor: d.impostor.length },
    eer: equalErrorRate(d.genuine, d.impostor),
    'tar_at_far_1e-2': acceptRate(d.genuine, thresholdAtFar(d.impostor, 1e-2)),
    'tar_at_far_1e-3': acceptRate(d.genuine, thresholdAtFar(d.impostor, 1e-3)),
    'threshold_at_far_1e-3': scoreOf(metric, thresholdAtFar(d.impostor, 1e-3)),
    threshold,
    accuracy:
      far === null || tar === null
        ? null
        : (tar * d.genuine.length + (1 - far) * d.impostor.length) / Math.max(1, d.genuine.length + d.impostor.length),
    far_at_threshold: far,
    tar_at_threshold: tar,
    far_by_set: rates(d.bySet),
    ...(withGroups ? { far_by_group: byGroup, worst_group: worst ? { group: worst[0], ...worst[1] } : null } : {}),
    median_ms: ms[Math.floor(ms.length / 2)] ?? NaN,
    p90_ms: ms[Math.floor(ms.length * 0.9)] ?? NaN,
    // Kiosk mode: the camera frames (or bursts) alone, what the face step costs a patient.
    probe_median_ms: probes === refs ? null : (probeMs[Math.floor(probeMs.length / 2)] ?? NaN),
  };
}

function print(title: string, pipeline: string, r: Record<string, unknown>): void {
  const pct = (x: unknown) => (typeof x === 'number' ? `${(x * 100).toFixed(2)}%` : 'n/a');
  const pairs = r['pairs'] as { genuine: number; impostor: number };
  console.log(`${title}\n  ${pipeline}`);
  console.log(`  ${pairs.genuine} genuine / ${pairs.impostor} impostor pairs; missed faces ${r['missed_faces']}`);
  console.log(
    `  EER ${pct(r['eer'])}; TAR@FAR 1e-2 ${pct(r['tar_at_far_1e-2'])}; TAR@FAR 1e-3 ${pct(r['tar_at_far_1e-3'])} (missed faces count as rejects; the FAR 1e-3 threshold here is ${(r['threshold_at_far_1e-3'] as number).toFixed(4)})`,
  );
  if (r['threshold'] === null) console.log('  no calibration for this model: fit one with kioskd calibrate (or pass --threshold)');
  else
    console.log(
      `  at threshold ${r['threshold']}: accuracy ${pct(r['accuracy'])}, FAR ${pct(r['far_at_threshold'])}, TAR ${pct(r['tar_at_threshold'])}`,
    );
  for (const [k, v] of Object.entries((r['far_by_set'] ?? {}) as Record<string, { far: number; pairs: number }>))
    console.log(`    FAR within ${k}: ${pct(v.far)} of ${v.pairs} pairs`);
  for (const [k, v] of Object.entries((r['far_by_group'] ?? {}) as Record<string, { far: number; pairs: number }>))
    console.log(`    FAR within group ${k}: ${pct(v.far)} of ${v.pairs} pairs`);
  const worst = r['worst_group'] as { group: string; far: number } | null | undefined;
  if (worst) console.log(`    worst group: ${worst.group} (${pct(worst.far)})`);
  console.log(
    `  per image: median ${(r['median_ms'] as number).toFixed(0)} ms, p90 ${(r['p90_ms'] as number).toFixed(0)} ms${r['probe_median_ms'] != null ? `; camera frames / bursts alone: median ${(r['probe_median_ms'] as number).toFixed(0)} ms` : ''}`,
  );
}

function bar(done: number, total: number): string {
  const n = Math.round((done / total) * 30);
  return `[${'#'.repeat(n)}${'.'.repeat(30 - n)}] ${done}/${total}`;
}
