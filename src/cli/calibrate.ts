import { writeFileSync } from 'node:fs';
import type { Logger } from '../log/logger.js';
import { fitThreshold, type Calibration } from '../faceid/calibration.js';
import { FaceEngine } from '../faceid/engine.js';
import { acceptRate, embedFolders, pairDistances } from '../faceid/evaluate.js';
import { loadGroups } from '../faceid/groups.js';

export interface CalibrateOptions {
  /** Folders of <identity>/<n>.jpg: a hospital's own consented, labelled photos. */
  readonly data: readonly string[];
  readonly groups?: string | undefined;
  readonly far: number;
  readonly out: string;
}

/**
 * `kioskd calibrate`: the threshold that keeps the impostor rate at `far` on these photos, with
 * what it was fitted on and the FAR per folder and per group. Exit 0 written, 65 refused.
 */
export async function calibrate(o: CalibrateOptions, log: Logger, say: (line: string) => void): Promise<number> {
  const engine = new FaceEngine({ backend: 'wasm', threshold: 0, callTimeoutMs: 60_000, maxTensorGrowth: 50 }, log);
  try {
    const info = await engine.start();
    const photos = await embedFolders(engine, o.data);
    const fitted: Calibration['fitted_on'] = [...new Set(photos.map((p) => p.set))].map((set) => {
      const mine = photos.filter((p) => p.set === set);
      return { data: set, images: mine.length, missed_faces: mine.filter((p) => !p.embedding).length };
    });
    for (const f of fitted) say(`calibrate: ${f.data}: ${f.images} photos, no usable face in ${f.missed_faces}`);
    const pairs = pairDistances(photos, loadGroups(o.groups));
    const fit = fitThreshold(pairs.genuine, pairs.impostor, o.far);
    if (!fit.ok) {
      say(`calibrate: refused: ${fit.reason}`);
      return 65;
    }
    const byKey = (m: Map<string, number[]>) => Object.fromEntries([...m].map(([k, xs]) => [k, { far: acceptRate(xs, fit.threshold), pairs: xs.length }]));
    const calibration: Calibration = {
      schema: 1,
      model: 'face-api faceRecognitionNet (dlib ResNet, 128-d), on a dlib chip from BlazeFace+FaceMesh landmarks',
      model_sha256: info.recognizerSha256,
      metric: 'l2',
      threshold: Number(fit.threshold.toFixed(4)),
      target_far: o.far,
      fitted_on: fitted,
      pairs: { genuine: pairs.genuine.length, impostor: pairs.impostor.length },
      measured: { far: fit.far, tar: fit.tar, far_by_set: byKey(pairs.bySet), ...(pairs.byGroup.size > 0 ? { far_by_group: byKey(pairs.byGroup) } : {}) },
      created: new Date().toISOString(),
    };
    writeFileSync(o.out, JSON.stringify(calibration, null, 2) + '\n');
    say(`calibrate: threshold ${calibration.threshold} (L2) for FAR ${o.far}: measured FAR ${(fit.far * 100).toFixed(3)}%, TAR ${(fit.tar * 100).toFixed(2)}% over ${pairs.genuine.length} genuine / ${pairs.impostor.length} impostor pairs`);
    for (const [g, v] of Object.entries({ ...calibration.measured.far_by_set, ...calibration.measured.far_by_group })) say(`calibrate:   FAR within ${g}: ${(v.far * 100).toFixed(2)}% of ${v.pairs} pairs`);
    say(`calibrate: written to ${o.out}`);
    return 0;
  } finally {
    await engine.stop();
  }
}
