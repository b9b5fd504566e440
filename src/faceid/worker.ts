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
import { burstAnalyzer } from './burst.js';
import { detectFaces } from './detect.js';
import type { Backend, WorkerConfig, WorkerMessage, WorkerRequest } from './protocol.js';
import { loadRecognizer, readTfjsModel } from './recognizers.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- the libraries' node-wasm builds ship loose types */
const require = createRequire(import.meta.url);
const port = parentPort!;
const config = workerData as WorkerConfig;
const post = (m: WorkerMessage): void => port.postMessage(m);

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
  const analyze = burstAnalyzer({
    detect: (img) => detectFaces(tf, human, img),
    recognizer,
    tensors: () => tf.memory().numTensors,
    examine: config.burstExamine ?? 1,
  });

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
    // Every image is judged on its own: Human's video cache (reusing the last frame's face boxes
    // for a similar-looking input within 2.5 s) would let one frame's detection stand for another's.
    cacheSensitivity: 0,
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
