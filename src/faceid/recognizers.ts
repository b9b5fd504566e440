/**
 * The recognisers the worker can run (worker side only: this module loads model runtimes).
 * - `fr_feature` (default): the bundled MobileFaceNet in models/fr_feature/ (PROVENANCE.md), an
 *   ONNX model like the next, on an RGB crop.
 * - `faceapi`: face-api's dlib ResNet (bundled, licence allows shipping), on a dlib chip; L2.
 * - a `.onnx` file: through onnxruntime-web on wasm (an optional dependency, no native code),
 *   on an ArcFace 5-point-aligned crop; cosine.
 * - a TFJS graph `model.json`: through tfjs, on the same aligned crop; cosine.
 * Each reports the sha256 of its model file(s), which selects its calibration.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alignedCrop, squareCrop, type ModelInput } from './align.js';
import { dlibChip, fivePoints, type DetectedFace } from './geometry.js';
import type { Metric } from './metric.js';
import type { RecognizerSpec } from './protocol.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- the runtimes ship loose types */
const require = createRequire(import.meta.url);

/** The full-resolution frame: the recogniser cuts its own crop from it. */
export interface Frame {
  /** RGB bytes, row-major. */
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export interface Recognizer {
  readonly name: string;
  readonly sha256: string;
  readonly metric: Metric;
  embed(frame: Frame, face: DetectedFace): Promise<number[]>;
  /** One inference on a blank input, so the first patient does not pay for kernel set-up. */
  warm(): Promise<void>;
}

const sha256 = (...parts: Uint8Array[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

/**
 * A TFJS model (model.json and its weight files) read with fs, never fetched: the artifacts
 * tfjs loads, and the files' bytes in order (model.json first) for the model's sha256.
 */
export function readTfjsModel(path: string): { artifacts: unknown; files: Buffer[] } {
  const json = readFileSync(path);
  const manifest = JSON.parse(json.toString('utf8'));
  const dir = dirname(path);
  const weightFiles: Buffer[] = manifest.weightsManifest.flatMap((g: any) => g.paths.map((f: string) => readFileSync(join(dir, f))));
  const weights = Buffer.concat(weightFiles);
  return {
    artifacts: {
      modelTopology: manifest.modelTopology,
      format: manifest.format,
      signature: manifest.signature,
      userDefinedMetadata: manifest.userDefinedMetadata,
      weightSpecs: manifest.weightsManifest.flatMap((g: any) => g.weights),
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    },
    files: [json, ...weightFiles],
  };
}

/** The bundled ONNX recogniser, found the same way from src/faceid (tsx) and dist/src/faceid (models/ is copied to dist/). */
export const BUNDLED_FR_FEATURE = fileURLToPath(new URL('../../models/fr_feature/fr_feature.onnx', import.meta.url));

export async function loadRecognizer(spec: RecognizerSpec, tf: any): Promise<Recognizer> {
  if (spec.model === 'faceapi') return await faceApi(tf);
  if (spec.model === 'fr_feature')
    return onnx({ ...spec, model: BUNDLED_FR_FEATURE, channels: spec.channels ?? 'rgb' }, 'fr_feature.onnx (bundled MobileFaceNet, 512-d)');
  if (spec.model.endsWith('.onnx')) return onnx(spec);
  if (spec.model.endsWith('.json')) return tfjsGraph(spec, tf);
  throw new Error(`recogniser "${spec.model}": expected "fr_feature", "faceapi", a .onnx file or a TFJS graph model.json`);
}

async function faceApi(tf: any): Promise<Recognizer> {
  const faceapi: any = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  const dir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  const net = faceapi.nets.faceRecognitionNet;
  await net.loadFromDisk(dir);
  return {
    name: 'face-api faceRecognitionNet (dlib ResNet, 128-d) on a dlib chip',
    sha256: sha256(readFileSync(join(dir, 'face_recognition_model.bin'))),
    metric: 'l2',
    async embed(frame, face) {
      const chip = squareCrop(frame.rgb, frame.width, frame.height, dlibChip(face), 150);
      const crop = tf.tensor4d(chip, [1, 150, 150, 3]);
      try {
        return Array.from((await net.computeFaceDescriptor(crop)) as Float32Array);
      } finally {
        chip.fill(0); // the face does not outlive the call
        crop.dispose();
      }
    },
    async warm() {
      const blank = tf.zeros([1, 150, 150, 3]);
      try {
        await net.computeFaceDescriptor(blank);
      } finally {
        blank.dispose();
      }
    },
  };
}

async function onnx(spec: RecognizerSpec, label = spec.model.split('/').pop()): Promise<Recognizer> {
  let ort: any;
  try {
    ort = require('onnxruntime-web');
  } catch {
    throw new Error('onnxruntime-web is not installed: run "npm install" (it runs every ONNX recogniser, the bundled fr_feature too)');
  }
  // Two wasm threads (worker_threads under Node) cut the embedding from ~100 to ~55 ms on this
  // 2-core machine for ~16 MiB: the daemon's main thread only waits for the answer meanwhile.
  ort.env.wasm.numThreads = Math.min(2, availableParallelism());
  const bytes = readFileSync(spec.model);
  // onnxruntime's 14 MB wasm module, optimised by TurboFan while the session is built, costs
  // ~110 MB of machine code; V8's baseline compiler needs a third of that and the embedding
  // runs ~25% slower (measured: 45 against 36 ms). Memory is the scarcer on a kiosk board.
  const v8 = require('node:v8') as typeof import('node:v8');
  const baseline = (spec.onnxCompiler ?? 'baseline') === 'baseline';
  if (baseline) v8.setFlagsFromString('--liftoff-only');
  let session: any;
  try {
    session = await ort.InferenceSession.create(bytes);
  } finally {
    if (baseline) v8.setFlagsFromString('--no-liftoff-only');
  }
  const input = session.inputNames[0] as string;
  const output = session.outputNames[0] as string;
  const size = spec.size ?? 112;
  const run = async (pixels: Float32Array): Promise<number[]> => {
    const x = new ort.Tensor('float32', pixels, [1, 3, size, size]);
    const r = await session.run({ [input]: x });
    const y = r[output];
    try {
      return Array.from(y.data as Float32Array);
    } finally {
      pixels.fill(0); // the aligned face does not outlive the call
      x.dispose?.();
      y.dispose?.();
    }
  };
  return arcFace(
    { name: `ONNX ${label} on an ArcFace 5-point crop`, sha256: sha256(bytes) },
    { size, channels: spec.channels ?? 'bgr', layout: 'nchw', range: spec.range ?? 'symmetric' },
    run,
  );
}

async function tfjsGraph(spec: RecognizerSpec, tf: any): Promise<Recognizer> {
  const { artifacts, files } = readTfjsModel(spec.model);
  const model = await tf.loadGraphModel({ load: async () => artifacts });
  const shape: number[] = model.inputs[0].shape;
  const layout = shape[1] === 3 ? 'nchw' : 'nhwc';
  const size = spec.size ?? (layout === 'nchw' ? shape[2] : shape[1]) ?? 112;
  // Several outputs (an age head, say): the embedding is the widest one, found by running once.
  const names: string[] = model.outputNodes;
  const probe = tf.zeros(layout === 'nchw' ? [1, 3, size, size] : [1, size, size, 3]);
  const outs = [model.execute(probe, names)].flat();
  const embeddingOutput = names[outs.reduce((best: number, y: any, i: number) => (y.size > outs[best].size ? i : best), 0)]!;
  for (const y of outs) y.dispose();
  probe.dispose();
  const run = async (pixels: Float32Array): Promise<number[]> => {
    const x = tf.tensor(pixels, layout === 'nchw' ? [1, 3, size, size] : [1, size, size, 3]);
    try {
      const y = model.execute(x, embeddingOutput);
      try {
        return Array.from((await y.data()) as Float32Array);
      } finally {
        y.dispose();
      }
    } finally {
      pixels.fill(0);
      x.dispose();
    }
  };
  return arcFace(
    { name: `TFJS graph ${spec.model.split('/').slice(-2).join('/')} on an ArcFace 5-point crop`, sha256: sha256(...files) },
    { size, channels: spec.channels ?? 'rgb', layout, range: spec.range ?? 'symmetric' },
    run,
  );
}

/**
 * A cosine recogniser on the ArcFace 5-point-aligned crop `input` describes; `run` infers on the
 * crop's pixels (and zeroes them when done). Warming runs it once on a blank crop.
 */
function arcFace(about: Pick<Recognizer, 'name' | 'sha256'>, input: ModelInput, run: (pixels: Float32Array) => Promise<number[]>): Recognizer {
  return {
    ...about,
    metric: 'cosine',
    embed: (frame, face) => run(alignedCrop(frame.rgb, frame.width, frame.height, fivePoints(face), input)),
    warm: async () => void (await run(new Float32Array(3 * input.size * input.size))),
  };
}
