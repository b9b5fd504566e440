import type { CameraFrame } from './frames.js';
import type { DetectedFace, Verdict } from './geometry.js';
import type { Metric } from './metric.js';

/** Messages between the engine (main thread) and the inference worker. */
export type WorkerRequest = {
  readonly id: number;
  readonly type: 'analyze';
  /** One image, or a camera burst: the worker picks the best usable frame. It wipes them all. */
  readonly frames: readonly CameraFrame[];
  readonly role: 'probe' | 'reference';
};

export interface Analysis {
  readonly width: number;
  readonly height: number;
  readonly faces: readonly DetectedFace[];
  /** Laplacian variance of the chosen face's crop; null when no face. */
  readonly sharpness: number | null;
  /** The worker's quality verdict under the rules of the image's role (probe or reference). */
  readonly verdict: Verdict;
  /** 128 numbers; null when the verdict is no. Lives only for this check-in. */
  readonly embedding: readonly number[] | null;
  /** Index of the face the embedding is of. */
  readonly chosen: number | null;
  /** Which frame of the burst these figures are of, and how many frames were looked at for a face. */
  readonly frame: { readonly index: number; readonly examined: number; readonly of: number };
  /** decodeMs: JPEG decode or I420 conversion, summed over the frames examined; detectMs likewise. */
  readonly timings: { readonly decodeMs: number; readonly detectMs: number; readonly embedMs: number; readonly totalMs: number };
  /** tf.memory().numTensors after the call: must stay flat. */
  readonly tensors: number;
}

export type WorkerMessage =
  | {
      readonly type: 'ready';
      readonly backend: string;
      readonly loadMs: number;
      readonly warmupMs: number;
      readonly tensors: number;
      readonly recognizer: { readonly name: string; readonly sha256: string; readonly metric: Metric };
      /** Why the backend asked for was not used, if it was not. */
      readonly backendNote?: string;
    }
  | { readonly type: 'failed'; readonly error: string }
  | { readonly id: number; readonly type: 'result'; readonly analysis: Analysis }
  | { readonly id: number; readonly type: 'error'; readonly error: string };

export interface RecognizerSpec {
  /** 'fr_feature' or 'faceapi' (bundled), or the path of a .onnx model or a TFJS graph model.json. */
  readonly model: string;
  /** Colour order the model was trained on (ONNX default bgr, TFJS default rgb). */
  readonly channels?: 'rgb' | 'bgr' | undefined;
  /** Pixel scaling: symmetric (v − 127.5) / 127.5 (default), or unit v / 255. */
  readonly range?: 'symmetric' | 'unit' | undefined;
  /** Side of the aligned square crop (default: the model's input, else 112). */
  readonly size?: number | undefined;
  /** How V8 compiles onnxruntime's wasm: baseline (default; ~70 MB less memory) or optimizing (~25% faster embedding). */
  readonly onnxCompiler?: 'baseline' | 'optimizing' | undefined;
}

export type Backend = 'tensorflow' | 'wasm' | 'cpu';

export interface WorkerConfig {
  /** 'wasm' (default); 'tensorflow' when @tensorflow/tfjs-node is installed (falls back to wasm); 'cpu' last. */
  readonly backend: Backend;
  readonly recognizer: RecognizerSpec;
  /**
   * Usable frames of a burst compared before the best is embedded. Default 1: the sharpest frame
   * that passes the rules (measured: the same accuracy as 2 on ../shared/faces in kiosk mode, one
   * detection less).
   */
  readonly burstExamine?: number | undefined;
}
