import { writeFileSync } from 'node:fs';
import type { Logger } from '../log/logger.js';
import { fitThreshold, type Calibration } from '../faceid/calibration.js';
import { FaceEngine, type FaceEngineOptions } from '../faceid/engine.js';
import { scoreOf } from '../faceid/metric.js';
import { acceptRate, allPairs, embedAll, listPhotos, pairDistances } from '../faceid/evaluate.js';
import { loadGroups } from '../faceid/groups.js';

export interface CalibrateOptions {
  /** Folders of <identity>/<n>.jpg: a hospital's own consented, labelled photos. */
  readonly data: readonly string[];
  readonly groups?: string | undefined;
  readonly far: number;
  readonly out: string;
  /** The recogniser to fit (the configured one, or --recognizer). */
  readonly engine: FaceEngineOptions;
}

/**
 * `kioskd calibrate`: the threshold that keeps the impostor rate at `far` on these photos, with
 * what it was fitted on and the FAR per folder and per group. Exit 0 written, 65 refused.
 */
export async function calibrate(o: CalibrateOptions, log: Logger, say: (line: string) => void): Promise<number> {
  const engine = new FaceEngine({ ...o.engine, calibration: 'none', callTimeoutMs: Math.max(o.engine.callTimeoutMs, 60_000) }, log);
  try {
    const info = await engine.start();
    const photos = listPhotos(o.data);
    const embedded = await embedAll(engine, photos, 'reference');
    const embeddings = embedded.map((e) => e.embedding);
    const fitted: Calibration['fitted_on'] = [...new Set(photos.map((p) => p.set))].map((set) => {
      const mine = photos.map((p, i) => ({ p, e: embeddings[i] })).filter((x) => x.p.set === set);
      return { data: set, images: mine.length, missed_faces: mine.filter((x) => !x.e).length };
    });
    for (const f of fitted) say(`calibrate: ${f.data}: ${f.images} photos, no usable face in ${f.missed_faces}`);
    const metric = info.recognizer.metric;
    const pairs = pairDistances(photos, allPairs(photos), embeddings, embeddings, metric, loadGroups(o.groups));
    const fit = fitThreshold(pairs.genuine, pairs.impostor, o.far, pairs.bySet);
    if (!fit.ok) {
      say(`calibrate: refused: ${fit.reason}`);
      return 65;
    }
    const byKey = (m: Map<string, number[]>) =>
      Object.fromEntries([...m].map(([k, xs]) => [k, { far: acceptRate(xs, fit.threshold), pairs: xs.length }]));
    const calibration: Calibration = {
      schema: 1,
      model: `${info.recognizer.name}, after BlazeFace+FaceMesh`,
      model_sha256: info.recognizer.sha256,
      metric,
      // Rounded to 4 places on the strict side, so rounding never admits an extra impostor.
      threshold: metric === 'l2' ? Math.floor(scoreOf(metric, fit.threshold) * 1e4) / 1e4 : Math.ceil(scoreOf(metric, fit.threshold) * 1e4) / 1e4,
      target_far: o.far,
      fitted_on: fitted,
      pairs: { genuine: pairs.genuine.length, impostor: pairs.impostor.length },
      measured: {
        far: fit.far,
        tar: fit.tar,
        far_by_set: byKey(pairs.bySet),
        ...(pairs.byGroup.size > 0 ? { far_by_group: byKey(pairs.byGroup) } : {}),
      },
      created: new Date().toISOString(),
      fit: `FAR ≤ ${o.far} over all impostor pairs and within each data folder with at least ${Math.ceil(10 / o.far)} pairs; set by ${fit.limitedBy}`,
    };
    writeFileSync(o.out, JSON.stringify(calibration, null, 2) + '\n');
    say(
      `calibrate: threshold ${calibration.threshold} (${metric === 'l2' ? 'L2 distance, same person below' : 'cosine similarity, same person above'}) for FAR ${o.far}: measured FAR ${(fit.far * 100).toFixed(3)}%, TAR ${(fit.tar * 100).toFixed(2)}% over ${pairs.genuine.length} genuine / ${pairs.impostor.length} impostor pairs (set by ${fit.limitedBy})`,
    );
    for (const [g, v] of Object.entries({ ...calibration.measured.far_by_set, ...calibration.measured.far_by_group }))
      say(`calibrate:   FAR within ${g}: ${(v.far * 100).toFixed(2)}% of ${v.pairs} pairs`);
    say(`calibrate: written to ${o.out}`);
    return 0;
  } finally {
    await engine.stop();
  }
}
