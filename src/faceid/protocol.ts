import type { DetectedFace } from './geometry.js';

/** Messages between the engine (main thread) and the inference worker. */
export type WorkerRequest = { readonly id: number; readonly type: 'analyze'; readonly jpeg: Uint8Array; readonly role: 'probe' | 'reference' };

export interface Analysis {
  readonly width: number;
  readonly height: number;
  readonly faces: readonly DetectedFace[];
  /** Laplacian variance of the chosen face's crop; null when no face. */
  readonly sharpness: number | null;
  /** 128 numbers; null when no usable face. Lives only for this check-in. */
  readonly embedding: readonly number[] | null;
  /** Index of the face the embedding is of. */
  readonly chosen: number | null;
  readonly timings: { readonly decodeMs: number; readonly detectMs: number; readonly embedMs: number };
  /** tf.memory().numTensors after the call: must stay flat. */
  readonly tensors: number;
}

export type WorkerMessage =
  | { readonly type: 'ready'; readonly backend: string; readonly loadMs: number; readonly warmupMs: number; readonly tensors: number; readonly recognizerSha256: string }
  | { readonly type: 'failed'; readonly error: string }
  | { readonly id: number; readonly type: 'result'; readonly analysis: Analysis }
  | { readonly id: number; readonly type: 'error'; readonly error: string };

export interface WorkerConfig {
  /** 'wasm' (default), or 'cpu' (slow; for machines where wasm will not load). */
  readonly backend: 'wasm' | 'cpu';
}
