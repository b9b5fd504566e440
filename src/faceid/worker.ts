/**
 * The inference worker: every tensor lives here, never on the main thread (a 100 ms
 * synchronous wasm call there would starve MQTT keepalives and the systemd watchdog).
 * Detection: Human's BlazeFace + FaceMesh (robust on close and webcam faces). Embedding:
 * face-api's 128-d recogniser on a dlib-style chip cut from the full-resolution frame
 * (faceid-baseline.md round 2: 95.6% TAR at FAR 1e-3, ~110 ms). Both share one tfjs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { assess, dlibChip, pickCentral, PROBE_RULES, REFERENCE_RULES, type DetectedFace, type Point } from './geometry.js';
import type { Analysis, WorkerConfig, WorkerMessage, WorkerRequest } from './protocol.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- the libraries' node-wasm builds ship loose types */
const require = createRequire(import.meta.url);
const port = parentPort!;
const config = workerData as WorkerConfig;
const post = (m: WorkerMessage): void => port.postMessage(m);

async function main(): Promise<void> {
  const started = performance.now();
  const tf: any = require('@tensorflow/tfjs');
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend(config.backend);
  await tf.ready();
  // Model files are read from the installed packages with fs: never from the network.
  tf.io.registerLoadRouter((url: unknown) => {
    const s = String(url);
    if (!s.startsWith('file://')) return null;
    return { load: async () => loadModel(s.slice('file://'.length)) };
  });
  const faceapi: any = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  // Human's exports map refuses deep paths: load its wasm build by file path.
  const humanDir = dirname(dirname(require.resolve('@vladmandic/human')));
  const { Human } = require(join(humanDir, 'dist', 'human.node-wasm.js'));
  const human = new Human({
    backend: config.backend,
    modelBasePath: `file://${join(humanDir, 'models')}/`,
    debug: false,
    face: {
      enabled: true,
      detector: { rotation: false, maxDetected: 10, minConfidence: 0.5, return: false },
      mesh: { enabled: true },
      iris: { enabled: false },
      description: { enabled: false },
      emotion: { enabled: false },
      antispoof: { enabled: false },
      liveness: { enabled: false },
    },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    gesture: { enabled: false },
    segmentation: { enabled: false },
  });
  if (human.tf.Tensor !== tf.Tensor) throw new Error('Human and face-api loaded different tfjs instances');
  await human.load();
  const faceapiModels = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.faceRecognitionNet.loadFromDisk(faceapiModels);
  const recognizerSha256 = createHash('sha256').update(readFileSync(join(faceapiModels, 'face_recognition_model.bin'))).digest('hex');
  const loadMs = performance.now() - started;

  const jpeg: any = require('jpeg-js');

  const analyze = async (req: WorkerRequest): Promise<Analysis> => {
    const t0 = performance.now();
    let img: any;
    try {
      img = jpeg.decode(req.jpeg, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 256 });
    } finally {
      req.jpeg.fill(0); // the photo's bytes do not outlive the call
    }
    let frame: any;
    try {
      frame = tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
    } catch (err) {
      img.data.fill(0);
      throw err;
    }
    try {
      const t1 = performance.now();
      const res = await human.detect(frame);
      const faces: DetectedFace[] = res.face.map((f: any) => toFace(f));
      const t2 = performance.now();
      const rules = req.role === 'probe' ? PROBE_RULES : REFERENCE_RULES;
      const q = assess(faces, img.width, img.height, rules);
      let embedding: number[] | null = null;
      let sharpness: number | null = null;
      const chosen = pickCentral(faces, img.width, img.height);
      if (chosen) {
        const c = dlibChip(chosen);
        const crop = tf.tidy(() =>
          tf.image.cropAndResize(frame.toFloat().expandDims(0), [[c.y / img.height, c.x / img.width, (c.y + c.size) / img.height, (c.x + c.size) / img.width]], [0], [150, 150]),
        );
        try {
          sharpness = tf.tidy(() => laplacianVariance(tf, crop)) as number;
          if (q.ok) {
            const d = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(crop);
            embedding = Array.from(d as Float32Array);
          }
        } finally {
          crop.dispose();
        }
      }
      const t3 = performance.now();
      return {
        width: img.width,
        height: img.height,
        faces,
        sharpness,
        embedding,
        chosen: chosen ? faces.indexOf(chosen) : null,
        timings: { decodeMs: t1 - t0, detectMs: t2 - t1, embedMs: t3 - t2 },
        tensors: tf.memory().numTensors,
      };
    } finally {
      frame.dispose();
      img.data.fill(0); // the frame's pixels do not outlive the call
    }
  };

  // Warm-up: the first inference compiles kernels; do it at boot, not on a patient.
  const w0 = performance.now();
  const blank = tf.zeros([256, 256, 3], 'int32');
  await human.detect(blank);
  blank.dispose();
  const warm = tf.zeros([1, 150, 150, 3]);
  (await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(warm)) as unknown;
  warm.dispose();
  post({ type: 'ready', backend: tf.getBackend(), loadMs, warmupMs: performance.now() - w0, tensors: tf.memory().numTensors, recognizerSha256 });

  port.on('message', (req: WorkerRequest) => {
    analyze(req).then(
      (analysis) => post({ id: req.id, type: 'result', analysis }),
      (err: unknown) => post({ id: req.id, type: 'error', error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

function toFace(f: any): DetectedFace {
  const a = f.annotations as Record<string, Array<[number, number]>>;
  const mean = (...groups: string[]): Point => {
    const pts = groups.flatMap((g) => a[g] ?? []);
    return [pts.reduce((s, p) => s + p[0], 0) / Math.max(1, pts.length), pts.reduce((s, p) => s + p[1], 0) / Math.max(1, pts.length)];
  };
  return {
    box: { x: f.box[0], y: f.box[1], width: f.box[2], height: f.box[3] },
    score: f.faceScore ?? f.score ?? 0,
    leftEye: mean('leftEyeUpper0', 'leftEyeLower0'),
    rightEye: mean('rightEyeUpper0', 'rightEyeLower0'),
    mouth: mean('lipsUpperOuter', 'lipsLowerOuter'),
    nose: mean('noseTip'),
  };
}

/** Sharpness: variance of the Laplacian of the grey face chip. Blur removes high frequencies. */
function laplacianVariance(tf: any, crop: any): number {
  const grey = crop.mean(3, true); // [1,150,150,1]
  const kernel = tf.tensor4d([0, 1, 0, 1, -4, 1, 0, 1, 0], [3, 3, 1, 1]);
  const lap = tf.conv2d(grey, kernel, 1, 'valid');
  const { variance } = tf.moments(lap);
  return variance.dataSync()[0] as number;
}

function loadModel(path: string): unknown {
  const json = JSON.parse(readFileSync(path, 'utf8'));
  const dir = dirname(path);
  const weights = Buffer.concat(json.weightsManifest.flatMap((g: any) => g.paths.map((f: string) => readFileSync(join(dir, f)))));
  return {
    modelTopology: json.modelTopology,
    format: json.format,
    weightSpecs: json.weightsManifest.flatMap((g: any) => g.weights),
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  };
}

main().catch((err: unknown) => post({ type: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
