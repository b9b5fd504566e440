import type { CameraFrame } from './frames.js';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { FaceEngine } from './engine.js';
import { distance, type Metric } from './metric.js';

/**
 * What `kioskd calibrate` and `npm run bench faceid` both do: embed labelled photos and compare
 * pairs of them. By default every same-identity pair is genuine and every other pair impostor;
 * a pairs list can name the pairs instead.
 */
export interface LabelledPhoto {
  /** `<folder>/<identity>`: identities of different folders never match by name. */
  readonly id: string;
  readonly set: string;
  readonly path: string;
}

/** `<dir>/<identity>/<n>.jpg` for each dir. */
export function listPhotos(dirs: readonly string[]): LabelledPhoto[] {
  return dirs.flatMap((dir) => {
    const set = basename(resolve(dir));
    const photos = readdirSync(dir)
      .filter((name) => statSync(join(dir, name)).isDirectory()) // symlinked folders count
      .sort()
      .flatMap((name) =>
        readdirSync(join(dir, name))
          .filter((f) => /\.jpe?g$/i.test(f))
          .sort()
          .map((f) => ({ set, id: `${set}/${name}`, path: join(dir, name, f) })),
      );
    if (photos.length === 0) throw new Error(`${dir}: no photos found; expected ${dir}/<identity>/<n>.jpg`);
    return photos;
  });
}

export interface Pair {
  readonly a: number;
  readonly b: number;
  readonly same: boolean;
}

/**
 * A pairs file: tab-separated `fold same left right`, paths relative to `dir`, `same` 1/0 (or
 * true/false); a header line is allowed. The identity of a photo is its folder's name.
 */
export function readPairs(file: string, dir: string): { photos: LabelledPhoto[]; pairs: Pair[] } {
  const set = basename(resolve(dir));
  const photos: LabelledPhoto[] = [];
  const index = new Map<string, number>();
  const at = (rel: string): number => {
    let i = index.get(rel);
    if (i === undefined) {
      i = photos.push({ set, id: `${set}/${basename(dirname(rel))}`, path: join(dir, rel) }) - 1;
      index.set(rel, i);
    }
    return i;
  };
  const pairs: Pair[] = [];
  readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .forEach((line, n) => {
      if (!line.trim() || /^fold\t/i.test(line)) return;
      const cols = line.split('\t');
      if (cols.length !== 4 || !/^(1|0|true|false)$/i.test(cols[1]!))
        throw new Error(`${file}:${n + 1}: expected "fold<TAB>same<TAB>left<TAB>right" with same 1 or 0`);
      pairs.push({ a: at(cols[2]!), b: at(cols[3]!), same: /^(1|true)$/i.test(cols[1]!) });
    });
  return { photos, pairs };
}

/** Every pair of photos; same identity = genuine. */
export function* allPairs(photos: readonly LabelledPhoto[]): Generator<Pair> {
  for (let a = 0; a < photos.length; a++) for (let b = a + 1; b < photos.length; b++) yield { a, b, same: photos[a]!.id === photos[b]!.id };
}

export interface Embedded {
  readonly embedding: readonly number[] | null;
  readonly ms: number;
}

/** Each photo through the engine, in order; `load` may degrade the bytes (bench --mode kiosk). */
export async function embedAll(
  engine: FaceEngine,
  photos: readonly LabelledPhoto[],
  role: 'probe' | 'reference',
  load: (p: LabelledPhoto) => Uint8Array | readonly CameraFrame[] = (p) => readFileSync(p.path),
  progress?: (done: number, total: number) => void,
): Promise<Embedded[]> {
  const out: Embedded[] = [];
  for (const p of photos) {
    const bytes = load(p);
    const t0 = performance.now();
    const a = await engine.analyze(bytes, role, AbortSignal.timeout(60_000));
    out.push({ embedding: a.embedding, ms: performance.now() - t0 });
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

/**
 * Distances of the pairs (lower = more alike, whatever the metric; see metric.ts). `left` holds
 * each pair's first photo's embedding and `right` its second's: the same list normally; in kiosk
 * mode the chip portrait's and the camera frame's.
 */
export function pairDistances(
  photos: readonly LabelledPhoto[],
  pairs: Iterable<Pair>,
  left: readonly (readonly number[] | null)[],
  right: readonly (readonly number[] | null)[],
  metric: Metric,
  group: (id: string) => string | null,
): PairDistances {
  const r: PairDistances = { genuine: [], impostor: [], bySet: new Map(), byGroup: new Map() };
  const add = (m: Map<string, number[]>, k: string, d: number): void => {
    const list = m.get(k);
    if (list) list.push(d);
    else m.set(k, [d]);
  };
  for (const { a, b, same } of pairs) {
    const ea = left[a];
    const eb = right[b];
    if (same) r.genuine.push(ea && eb ? distance(metric, ea, eb) : Infinity);
    else if (ea && eb) {
      const d = distance(metric, ea, eb);
      r.impostor.push(d);
      const pa = photos[a]!;
      const pb = photos[b]!;
      if (pa.set === pb.set) add(r.bySet, pa.set, d);
      const g = group(pa.id);
      if (g && g === group(pb.id)) add(r.byGroup, g, d);
    }
  }
  return r;
}

/** Share of `distances` below `threshold` (accepted as the same person). */
export const acceptRate = (distances: readonly number[], threshold: number): number =>
  distances.filter((x) => x < threshold).length / Math.max(1, distances.length);

/** Equal error rate, by one sweep over both lists sorted. */
export function equalErrorRate(genuine: readonly number[], impostor: readonly number[]): number {
  const g = genuine.filter(Number.isFinite).sort((a, b) => a - b);
  const im = [...impostor].sort((a, b) => a - b);
  if (g.length === 0 || im.length === 0) return NaN;
  // Missed faces are rejects at every threshold: they count in the genuine total.
  const total = genuine.length;
  let best = 1;
  let gi = 0;
  let ii = 0;
  for (const t of [...g, ...im].sort((a, b) => a - b)) {
    while (gi < g.length && g[gi]! < t) gi++;
    while (ii < im.length && im[ii]! < t) ii++;
    best = Math.min(best, Math.max(1 - gi / total, ii / im.length));
  }
  return best;
}

/** The smallest threshold at which `far` of the impostor pairs would be accepted. */
export function thresholdAtFar(impostor: readonly number[], far: number): number {
  const sorted = [...impostor].sort((a, b) => a - b);
  return sorted[Math.floor(far * sorted.length)] ?? Infinity;
}
