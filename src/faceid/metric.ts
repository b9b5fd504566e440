/**
 * How two embeddings are compared. Internally everything is a distance (lower = more alike) so
 * one evaluation serves both kinds of model; calibration files and results state the score in
 * the model's own terms: L2 distance (same person below the threshold) or cosine similarity
 * (same person above it).
 */
import { euclidean } from './geometry.js';

export type Metric = 'l2' | 'cosine';

export function distance(metric: Metric, a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (metric === 'l2') return euclidean(a, b);
  if (a.length !== b.length) throw new Error(`embeddings of different sizes (${a.length}, ${b.length})`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! ** 2;
    nb += b[i]! ** 2;
  }
  return 1 - dot / Math.max(1e-12, Math.sqrt(na * nb));
}

/** A distance as the model's score (cosine: the similarity). */
export const scoreOf = (metric: Metric, d: number): number => (metric === 'cosine' ? 1 - d : d);
/** A threshold in the model's terms as a distance threshold. */
export const distanceOf = (metric: Metric, score: number): number => (metric === 'cosine' ? 1 - score : score);
