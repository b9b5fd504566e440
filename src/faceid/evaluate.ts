import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { FaceEngine } from './engine.js';
import { euclidean } from './geometry.js';

/**
 * What `kioskd calibrate` and `npm run bench faceid` both do: embed folders of labelled photos
 * (`<dir>/<identity>/<n>.jpg`) and compare every pair. Same identity = genuine, else impostor.
 */
export interface EmbeddedPhoto {
  /** `<folder>/<identity>`: identities of different folders never match by name. */
  readonly id: string;
  readonly set: string;
  readonly embedding: readonly number[] | null;
  readonly ms: number;
}

export async function embedFolders(engine: FaceEngine, dirs: readonly string[], progress?: (done: number, total: number) => void): Promise<EmbeddedPhoto[]> {
  const photos = dirs.flatMap((dir) => {
    const set = basename(resolve(dir));
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .flatMap((d) => readdirSync(join(dir, d.name)).filter((f) => /\.jpe?g$/i.test(f)).map((f) => ({ set, id: `${set}/${d.name}`, path: join(dir, d.name, f) })));
  });
  const out: EmbeddedPhoto[] = [];
  for (const p of photos) {
    const t0 = performance.now();
    const a = await engine.analyze(readFileSync(p.path), 'reference', AbortSignal.timeout(60_000));
    out.push({ id: p.id, set: p.set, embedding: a.embedding, ms: performance.now() - t0 });
    progress?.(out.length, photos.length);
  }
  return out;
}

export interface PairDistances {
  /** A genuine pair with a missed face is Infinity: a patient turned away. */
  readonly genuine: number[];
  /** Impostor pairs where both faces were found (a missed face cannot be falsely accepted). */
  readonly impostor: number[];
  /** Impostor pairs within each folder, and within each group the caller names. */
  readonly bySet: Map<string, number[]>;
  readonly byGroup: Map<string, number[]>;
}

export function pairDistances(photos: readonly EmbeddedPhoto[], group: (id: string) => string | null): PairDistances {
  const r: PairDistances = { genuine: [], impostor: [], bySet: new Map(), byGroup: new Map() };
  const add = (m: Map<string, number[]>, k: string, d: number): void => {
    const list = m.get(k);
    if (list) list.push(d);
    else m.set(k, [d]);
  };
  for (let i = 0; i < photos.length; i++) {
    for (let j = i + 1; j < photos.length; j++) {
      const a = photos[i]!;
      const b = photos[j]!;
      if (a.id === b.id) r.genuine.push(a.embedding && b.embedding ? euclidean(a.embedding, b.embedding) : Infinity);
      else if (a.embedding && b.embedding) {
        const d = euclidean(a.embedding, b.embedding);
        r.impostor.push(d);
        if (a.set === b.set) add(r.bySet, a.set, d);
        const g = group(a.id);
        if (g && g === group(b.id)) add(r.byGroup, g, d);
      }
    }
  }
  return r;
}

/** Share of `distances` below `threshold` (accepted as the same person). */
export const acceptRate = (distances: readonly number[], threshold: number): number => distances.filter((x) => x < threshold).length / Math.max(1, distances.length);

/** Equal error rate, by one sweep over both lists sorted. */
export function equalErrorRate(genuine: readonly number[], impostor: readonly number[]): number {
  const g = genuine.filter(Number.isFinite).sort((a, b) => a - b);
  const im = [...impostor].sort((a, b) => a - b);
  if (g.length === 0 || im.length === 0) return NaN;
  let best = 1;
  let gi = 0;
  let ii = 0;
  for (const t of [...g, ...im].sort((a, b) => a - b)) {
    while (gi < g.length && g[gi]! < t) gi++;
    while (ii < im.length && im[ii]! < t) ii++;
    best = Math.min(best, Math.max(1 - gi / g.length, ii / im.length));
  }
  return best;
}

/** The smallest threshold at which `far` of the impostor pairs would be accepted. */
export function thresholdAtFar(impostor: readonly number[], far: number): number {
  const sorted = [...impostor].sort((a, b) => a - b);
  return sorted[Math.floor(far * sorted.length)] ?? Infinity;
}
