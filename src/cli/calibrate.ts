import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Logger } from '../log/logger.js';
import { fitThreshold, type Calibration } from '../faceid/calibration.js';
import { FaceEngine } from '../faceid/engine.js';
import { euclidean } from '../faceid/geometry.js';
import { loadGroups } from '../faceid/groups.js';

export interface CalibrateOptions {
  /** Folders of <identity>/<n>.jpg: a hospital's own consented, labelled photos. */
  readonly data: readonly string[];
  readonly groups?: string | undefined;
  readonly far: number;
  readonly out: string;
}

/**
 * `kioskd calibrate`: embeds every photo, takes every same-identity pair as genuine and every
 * other pair as impostor, and writes the threshold that keeps the impostor rate at `far`, with
 * what it was fitted on and the FAR per group. Exit 0 written, 65 refused (too little data).
 */
export async function calibrate(o: CalibrateOptions, log: Logger, say: (line: string) => void): Promise<number> {
  const engine = new FaceEngine({ backend: 'wasm', threshold: 0, callTimeoutMs: 60_000, maxTensorGrowth: 50 }, log);
  try {
    const info = await engine.start();
    const faces: Array<{ id: string; e: readonly number[] | null }> = [];
    const fitted: Calibration['fitted_on'] = [];
    for (const dir of o.data) {
      const set = basename(resolve(dir));
      let images = 0;
      let missed = 0;
      for (const id of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory())) {
        for (const f of readdirSync(join(dir, id.name)).filter((x) => /\.jpe?g$/i.test(x))) {
          const a = await engine.analyze(readFileSync(join(dir, id.name, f)), 'reference', AbortSignal.timeout(60_000));
          faces.push({ id: `${set}/${id.name}`, e: a.embedding });
          images++;
          if (!a.embedding) missed++;
        }
      }
      fitted.push({ data: set, images, missed_faces: missed });
      say(`calibrate: ${set}: ${images} photos, no usable face in ${missed}`);
    }
    const group = loadGroups(o.groups);
    const genuine: number[] = [];
    const impostor: number[] = [];
    const byGroup = new Map<string, number[]>();
    const bySet = new Map<string, number[]>();
    const setOf = (id: string) => id.split('/')[0]!;
    for (let i = 0; i < faces.length; i++) {
      for (let j = i + 1; j < faces.length; j++) {
        const a = faces[i]!;
        const b = faces[j]!;
        if (a.id === b.id) genuine.push(a.e && b.e ? euclidean(a.e, b.e) : Infinity);
        else if (a.e && b.e) {
          const d = euclidean(a.e, b.e);
          impostor.push(d);
          if (setOf(a.id) === setOf(b.id)) bySet.set(setOf(a.id), [...(bySet.get(setOf(a.id)) ?? []), d]);
          const g = group(a.id);
          if (g && g === group(b.id)) byGroup.set(g, [...(byGroup.get(g) ?? []), d]);
        }
      }
    }
    const fit = fitThreshold(genuine, impostor, o.far);
    if (!fit.ok) {
      say(`calibrate: refused: ${fit.reason}`);
      return 65;
    }
    const rate = (xs: number[]) => xs.filter((x) => x < fit.threshold).length / xs.length;
    const calibration: Calibration = {
      schema: 1,
      model: "face-api faceRecognitionNet (dlib ResNet, 128-d), on a dlib chip from BlazeFace+FaceMesh landmarks",
      model_sha256: info.recognizerSha256,
      metric: 'l2',
      threshold: Number(fit.threshold.toFixed(4)),
      target_far: o.far,
      fitted_on: fitted,
      pairs: { genuine: genuine.length, impostor: impostor.length },
      measured: {
        far: fit.far,
        tar: fit.tar,
        far_by_set: Object.fromEntries([...bySet].map(([g, xs]) => [g, { far: rate(xs), pairs: xs.length }])),
        ...(byGroup.size > 0 ? { far_by_group: Object.fromEntries([...byGroup].map(([g, xs]) => [g, { far: rate(xs), pairs: xs.length }])) } : {}),
      },
      created: new Date().toISOString(),
    };
    writeFileSync(o.out, JSON.stringify(calibration, null, 2) + '\n');
    say(`calibrate: threshold ${calibration.threshold} (L2) for FAR ${o.far}: measured FAR ${(fit.far * 100).toFixed(3)}%, TAR ${(fit.tar * 100).toFixed(2)}% over ${genuine.length} genuine / ${impostor.length} impostor pairs`);
    for (const [g, v] of Object.entries(calibration.measured.far_by_set ?? {})) say(`calibrate:   FAR within ${g}: ${(v.far * 100).toFixed(2)}% of ${v.pairs} pairs`);
    for (const [g, v] of Object.entries(calibration.measured.far_by_group ?? {})) say(`calibrate:   FAR within ${g}: ${(v.far * 100).toFixed(2)}% of ${v.pairs} pairs`);
    say(`calibrate: written to ${o.out}`);
    return 0;
  } finally {
    await engine.stop();
  }
}
