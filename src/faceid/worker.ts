/**
 * The inference worker: every tensor lives here, never on the main thread (a 100 ms
 * synchronous wasm call there would starve MQTT keepalives and the systemd watchdog).
 * Detection: Human's BlazeFace + FaceMesh (robust on close and webcam faces), on the frame
 * Human downscales to its detector's input. Embedding: the configured recogniser
 * (recognizers.ts) on a crop cut from the full-resolution frame.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { dlibChip, judge, pickCentral, PROBE_RULES, REFERENCE_RULES, type DetectedFace, type Point } from './geometry.js';
import type { Analysis, Backend, WorkerConfig, WorkerMessage, WorkerRequest } from './protocol.js';
import { loadRecognizer, readTfjsModel, type Recognizer } from './recognizers.js';
import { downscale, laplacianVariance, squareCrop } from './align.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- the libraries' node-wasm builds ship loose types */
const require = createRequire(import.meta.url);
const port = parentPort!;
const config = workerData as WorkerConfig;
const post = (m: WorkerMessage): void => port.postMessage(m);
/** FRAME_LIMIT's 4608×3496 is 16.1 MP: nothing larger is decoded. */
const MAX_DECODE_MP = 17;
/** Longest side of the frame the detector is given. */
const DETECT_MAX_SIDE = 640;

async function main(): Promise<void> {
  const started = performance.now();
  const tf: any = require('@tensorflow/tfjs');
  const backend = await chooseBackend(tf, config.backend);
  // Model files are read from the installed packages with fs: never from the network.
  tf.io.registerLoadRouter((url: unknown) => {
    const s = String(url);
    if (!s.startsWith('file://')) return null;
    return { load: async () => readTfjsModel(s.slice('file://'.length)).artifacts };
  });
  const human = await loadHuman(tf, backend.name);
  const recognizer = await loadRecognizer(config.recognizer, tf);
  const loadMs = performance.now() - started;
  const analyze = analyzer(tf, human, recognizer);

  // Warm-up: the first inference compiles kernels; do it at boot, not on a patient.
  const w0 = performance.now();
  const blank = tf.zeros([256, 256, 3], 'int32');
  await human.detect(blank);
  blank.dispose();
  await recognizer.warm();
  post({
    type: 'ready',
    backend: tf.getBackend(),
    loadMs,
    warmupMs: performance.now() - w0,
    tensors: tf.memory().numTensors,
    recognizer: { name: recognizer.name, sha256: recognizer.sha256, metric: recognizer.metric },
    ...(backend.note ? { backendNote: backend.note } : {}),
  });

  port.on('message', (req: WorkerRequest) => {
    analyze(req).then(
      (analysis) => post({ id: req.id, type: 'result', analysis }),
      (err: unknown) => post({ id: req.id, type: 'error', error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

/** Human with only face detection and the mesh (for the landmarks), on the chosen backend. */
async function loadHuman(tf: any, backend: string): Promise<any> {
  // Human's exports map refuses deep paths: load its wasm build by file path.
  const humanDir = dirname(dirname(require.resolve('@vladmandic/human')));
  const { Human } = require(join(humanDir, 'dist', 'human.node-wasm.js'));
  const human = new Human({
    backend,
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
  if (human.tf.Tensor !== tf.Tensor) throw new Error('Human and the recogniser loaded different tfjs instances');
  await human.load();
  return human;
}

/** One request: decode, detect, judge the quality (the only place it is judged), and embed a usable face. */
function analyzer(tf: any, human: any, recognizer: Recognizer): (req: WorkerRequest) => Promise<Analysis> {
  const jpeg: any = require('jpeg-js');
  return async (req) => {
    const t0 = performance.now();
    let img: any;
    try {
      // The engine has already refused anything larger than FRAME_LIMIT by its header; these
      // are the decoder's own nets, in case a header ever slips past that check.
      img = jpeg.decode(req.jpeg, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 256, maxResolutionInMP: MAX_DECODE_MP });
    } finally {
      req.jpeg.fill(0); // the photo's bytes do not outlive the call
    }
    try {
      const t1 = performance.now();
      const faces = await detectFaces(tf, human, img);
      const t2 = performance.now();
      const rules = req.role === 'probe' ? PROBE_RULES : REFERENCE_RULES;
      let sharpness: number | null = null;
      const chosen = pickCentral(faces, img.width, img.height);
      if (chosen) {
        const chip = squareCrop(img.data, img.width, img.height, dlibChip(chosen), 150);
        sharpness = laplacianVariance(chip, 150);
        chip.fill(0);
      }
      const verdict = judge(faces, img.width, img.height, sharpness, rules);
      // A refused frame (most often blurred) skips the costly step, on the retries a kiosk sees most.
      const embedding = verdict.ok && chosen ? await recognizer.embed({ rgb: img.data, width: img.width, height: img.height }, chosen) : null;
      const t3 = performance.now();
      return {
        width: img.width,
        height: img.height,
        faces,
        sharpness,
        verdict,
        embedding,
        chosen: chosen ? faces.indexOf(chosen) : null,
        timings: { decodeMs: t1 - t0, detectMs: t2 - t1, embedMs: t3 - t2 },
        tensors: tf.memory().numTensors,
      };
    } finally {
      img.data.fill(0); // the frame's pixels do not outlive the call
    }
  };
}

/**
 * Faces in the full frame's coordinates. Detection runs on a copy no larger than DETECT_MAX_SIDE
 * (BlazeFace sees 256 px anyway, and a full 1280×960 tensor would only grow the wasm heap).
 */
async function detectFaces(tf: any, human: any, img: { data: Uint8Array; width: number; height: number }): Promise<DetectedFace[]> {
  const small = downscale(img.data, img.width, img.height, DETECT_MAX_SIDE);
  const detect = async (rgb: Uint8Array | Float32Array, width: number, height: number): Promise<DetectedFace[]> => {
    const input = tf.tensor3d(rgb, [height, width, 3], rgb instanceof Float32Array ? 'float32' : 'int32');
    try {
      return (await human.detect(input)).face.map((f: any) => toFace(f));
    } finally {
      input.dispose();
    }
  };
  try {
    let faces = await detect(small.rgb, small.width, small.height);
    if (faces.length === 0) {
      // A face that fills the whole frame (a patient leaning in, a tight portrait) is missed
      // by the detector; with a border around it, it is found. Costs a second pass only here.
      const padded = pad(small.rgb, small.width, small.height, 0.3);
      try {
        faces = (await detect(padded.rgb, padded.width, padded.height)).map((f) => shiftFace(f, -padded.dx, -padded.dy));
      } finally {
        padded.rgb.fill(0);
      }
    }
    return faces.map((f) => scaleFace(f, 1 / small.scale));
  } finally {
    if (small.rgb !== img.data) small.rgb.fill(0);
  }
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
    // FaceMesh points 61 and 291 are the mouth corners.
    mouthCorners: [meshPoint(f, 61), meshPoint(f, 291)],
  };
}

function meshPoint(f: any, i: number): Point {
  const p = f.mesh?.[i] as number[] | undefined;
  return p ? [p[0]!, p[1]!] : [NaN, NaN];
}

/** The frame with a mid-grey border of `ratio` of its size on every side. */
function pad(
  rgb: Uint8Array | Float32Array,
  width: number,
  height: number,
  ratio: number,
): { rgb: Float32Array; width: number; height: number; dx: number; dy: number } {
  const dx = Math.round(width * ratio);
  const dy = Math.round(height * ratio);
  const w = width + 2 * dx;
  const h = height + 2 * dy;
  const out = new Float32Array(w * h * 3).fill(128);
  for (let y = 0; y < height; y++) out.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), ((y + dy) * w + dx) * 3);
  return { rgb: out, width: w, height: h, dx, dy };
}

function shiftFace(f: DetectedFace, dx: number, dy: number): DetectedFace {
  const p = (q: Point): Point => [q[0] + dx, q[1] + dy];
  return {
    ...f,
    box: { ...f.box, x: f.box.x + dx, y: f.box.y + dy },
    leftEye: p(f.leftEye),
    rightEye: p(f.rightEye),
    mouth: p(f.mouth),
    nose: p(f.nose),
    mouthCorners: [p(f.mouthCorners[0]), p(f.mouthCorners[1])],
  };
}

function scaleFace(f: DetectedFace, k: number): DetectedFace {
  const p = (q: Point): Point => [q[0] * k, q[1] * k];
  return {
    box: { x: f.box.x * k, y: f.box.y * k, width: f.box.width * k, height: f.box.height * k },
    score: f.score,
    leftEye: p(f.leftEye),
    rightEye: p(f.rightEye),
    mouth: p(f.mouth),
    nose: p(f.nose),
    mouthCorners: [p(f.mouthCorners[0]), p(f.mouthCorners[1])],
  };
}

/** The backend asked for, else the next one that loads: tensorflow → wasm → cpu. */
async function chooseBackend(tf: any, wanted: Backend): Promise<{ name: string; note?: string }> {
  const notes: string[] = [];
  const order: Backend[] = wanted === 'tensorflow' ? ['tensorflow', 'wasm', 'cpu'] : wanted === 'wasm' ? ['wasm', 'cpu'] : ['cpu'];
  for (const name of order) {
    try {
      if (name === 'tensorflow') require('@tensorflow/tfjs-node');
      if (name === 'wasm') require('@tensorflow/tfjs-backend-wasm');
      if (!(await tf.setBackend(name))) throw new Error('did not initialise');
      await tf.ready();
      return notes.length ? { name, note: notes.join('; ') } : { name };
    } catch (err) {
      notes.push(`${name}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
  }
  throw new Error(`no tfjs backend would load (${notes.join('; ')})`);
}

main().catch((err: unknown) => post({ type: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
