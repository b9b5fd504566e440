import type { Worker } from 'node:worker_threads';
import { startWorker } from '../util/worker.js';
import { PendingCalls, retireWorker } from '../util/worker-rpc.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { Logger } from '../log/logger.js';
import { findCalibration, type Calibration } from './calibration.js';
import type { QualityReason } from './geometry.js';
import { distance, distanceOf, scoreOf, type Metric } from './metric.js';
import { checkJpeg, FRAME_LIMIT, type ImageLimit } from './jpeg-header.js';
import { checkFrames, type CameraFrame } from './frames.js';
import type { Analysis, WorkerConfig, WorkerMessage, WorkerRequest } from './protocol.js';

export interface FaceEngineOptions extends WorkerConfig {
  /**
   * Where the match threshold comes from: the calibration for this recogniser's sha256 (shipped,
   * or an operator's in `dir`), so a threshold never applies to a model it was not fitted for;
   * `none` for tools that fit one (kioskd calibrate, the benchmark) and cannot verify.
   */
  readonly calibration: { readonly dir?: string | undefined } | 'none';
  /** One analysis (decode + detect + embed) longer than this is abandoned and the worker restarted. */
  readonly callTimeoutMs: number;
  /** Tensors above the post-warm-up count that mean a leak: the worker is restarted. */
  readonly maxTensorGrowth: number;
  /**
   * The largest camera frame `verify` accepts (default FRAME_LIMIT, the largest `hal.camera`
   * allows). The daemon may pass its configured camera size; the driver checks that too.
   */
  readonly maxFrame?: ImageLimit | undefined;
  /**
   * The largest reference portrait `verify` accepts. Default FRAME_LIMIT (tests and tools compare
   * photos); the daemon's options (faceEngineOptions) give PORTRAIT_LIMIT, a chip portrait's size.
   */
  readonly maxReference?: ImageLimit | undefined;
}

export type Verification =
  | {
      readonly ok: true;
      readonly match: boolean;
      /** In the model's terms: L2 distance (same person below the threshold) or cosine similarity (above). */
      readonly score: number;
      readonly threshold: number;
      readonly metric: Metric;
      readonly quality: { readonly eyeDistancePx: number; readonly rollDeg: number; readonly yawRatio: number; readonly sharpness: number };
      /** The burst frame compared, and how many were looked at for a face. */
      readonly frame: { readonly index: number; readonly examined: number; readonly of: number };
      readonly timings: { readonly probeMs: number; readonly referenceMs: number };
    }
  | { readonly ok: false; readonly which: 'probe' | 'reference'; readonly reason: QualityReason | 'error'; readonly detail: string };

export interface FaceEngineInfo {
  readonly backend: string;
  /** Why the configured backend was not used, when it was not. */
  readonly backendNote?: string | undefined;
  readonly loadMs: number;
  readonly warmupMs: number;
  readonly recognizer: { readonly name: string; readonly sha256: string; readonly metric: Metric };
  readonly calibration: Calibration | null;
}

/**
 * 1:1 face verification, with all inference in a worker thread. A call that runs past its
 * timeout is abandoned and the worker restarted; so is a worker whose tensor count grows.
 * Frames and embeddings are never logged or stored. The worker judges each image's quality
 * (its `verdict`); the engine only compares embeddings against the calibrated threshold.
 */
export class FaceEngine {
  private worker: Worker | null = null;
  private info: FaceEngineInfo | null = null;
  private baseTensors = 0;
  private readonly calls: PendingCalls<Analysis>;
  private starting: Promise<FaceEngineInfo> | null = null;
  /**
   * The reference portrait's analysis, kept only as long as the caller keeps that buffer (a
   * check-in retries the camera up to N times against the same portrait): a WeakMap, so it is
   * gone with the check-in and never outlives it.
   */
  private readonly references = new WeakMap<Uint8Array, Analysis>();
  restarts = 0;
  /** Images handed to the worker to decode (an image refused by its header never is). */
  analyses = 0;
  /** The worker's tensor count after its last call (flat when nothing leaks). */
  lastTensors = 0;

  /** `clock` times the calls (their timeout, the timings reported); the system clock by default. */
  constructor(
    private readonly o: FaceEngineOptions,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock(),
  ) {
    this.calls = new PendingCalls<Analysis>(clock);
  }

  /** Loads and warms the models (a few seconds); resolves with what loaded and how long it took. */
  start(): Promise<FaceEngineInfo> {
    if (this.info && this.worker) return Promise.resolve(this.info);
    this.starting ??= this.spawn().finally(() => (this.starting = null));
    return this.starting;
  }

  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.info = null;
    await retireWorker(w, this.calls, new Error('the face engine stopped'));
  }

  /**
   * Is the face in `probe` (a camera burst, or one JPEG frame) the person in `reference` (a
   * portrait, JPEG)? Of a burst, the best usable frame is compared.
   */
  async verify(probe: Uint8Array | readonly CameraFrame[], reference: Uint8Array, signal: AbortSignal): Promise<Verification> {
    // Every image is measured (by its header, or a raw frame by its size) before any is decoded:
    // a frame or a portrait declaring more pixels than it can have is refused without reaching the worker.
    const pc = checkFrames(asFrames(probe), this.o.maxFrame ?? FRAME_LIMIT);
    if (!pc.ok) return this.refused('probe', pc.reason);
    const rc = this.references.has(reference) ? null : checkJpeg(reference, this.o.maxReference ?? FRAME_LIMIT, 'the reference portrait');
    if (rc && !rc.ok) return this.refused('reference', rc.reason);
    const t0 = this.clock.now();
    const p = await this.analyze(probe, 'probe', signal);
    const probeMs = this.clock.now() - t0;
    const pq = p.verdict;
    if (!pq.ok) return { ok: false, which: 'probe', reason: pq.reason, detail: pq.detail };
    const t1 = this.clock.now();
    const r = this.references.get(reference) ?? (await this.analyze(reference, 'reference', signal));
    this.references.set(reference, r);
    const referenceMs = this.clock.now() - t1;
    const rq = r.verdict;
    if (!rq.ok) return { ok: false, which: 'reference', reason: rq.reason, detail: rq.detail };
    if (!p.embedding || !r.embedding) return { ok: false, which: p.embedding ? 'reference' : 'probe', reason: 'error', detail: 'no embedding' };
    const cal = this.info?.calibration;
    if (!cal) throw new Error('this face engine has no calibration and cannot decide a match');
    const d = distance(cal.metric, p.embedding, r.embedding);
    return {
      ok: true,
      match: d < distanceOf(cal.metric, cal.threshold),
      score: scoreOf(cal.metric, d),
      threshold: cal.threshold,
      metric: cal.metric,
      quality: { eyeDistancePx: pq.eyeDistancePx, rollDeg: pq.rollDeg, yawRatio: pq.yawRatio, sharpness: pq.sharpness },
      frame: p.frame,
      timings: { probeMs, referenceMs },
    };
  }

  private refused(which: 'probe' | 'reference', detail: string): Verification {
    this.log.warn({ which, reason: detail }, 'image refused before decoding');
    return { ok: false, which, reason: 'error', detail };
  }

  /**
   * One image (JPEG) or a camera burst through the worker: faces, quality inputs and (if usable)
   * the embedding of the best frame. An image beyond FRAME_LIMIT (by its bytes or its declared
   * size) is refused before it is handed over: the call rejects with the reason.
   */
  async analyze(input: Uint8Array | readonly CameraFrame[], role: 'probe' | 'reference', signal: AbortSignal): Promise<Analysis> {
    const frames = asFrames(input);
    const checked =
      frames.length === 1 && frames[0]!.format === 'jpeg'
        ? checkJpeg(frames[0]!.data, FRAME_LIMIT, role === 'probe' ? 'the camera frame' : 'the reference image')
        : checkFrames(frames, FRAME_LIMIT);
    if (!checked.ok) throw new Error(checked.reason);
    await this.start();
    const w = this.worker!;
    const timeoutMs = this.o.callTimeoutMs;
    const onTimeout = (): Error => {
      this.log.warn({ timeoutMs }, 'face analysis took too long; restarting the worker');
      void this.restart('timeout');
      return new Error(`face analysis took longer than ${timeoutMs} ms`);
    };
    return this.calls.call(
      (id) => {
        // Copies are moved (transferred, not copied again) to the worker, which wipes them after
        // use; the caller's buffers stay the caller's to clear at the end of the check-in.
        // (A copy, not a Buffer's slice(), which would be a view of the caller's memory.)
        const copies: CameraFrame[] = frames.map((f) => ({ ...f, data: new Uint8Array(f.data) }));
        this.analyses++;
        w.postMessage(
          { id, type: 'analyze', frames: copies, role } satisfies WorkerRequest,
          copies.map((f) => f.data.buffer as ArrayBuffer),
        );
      },
      { signal, timeoutMs, onTimeout },
    );
  }

  /** A worker whose tensor count grew past the allowance after a call is leaking: it is restarted. */
  private answered(tensors: number): void {
    this.lastTensors = tensors;
    if (tensors > this.baseTensors + this.o.maxTensorGrowth) {
      this.log.error({ tensors, base: this.baseTensors }, 'tensors are leaking in the face worker; restarting it');
      void this.restart('tensor leak');
    }
  }

  private async restart(why: string): Promise<void> {
    this.restarts++;
    const w = this.worker;
    this.worker = null;
    this.info = null;
    await retireWorker(w, this.calls, new Error(`the face worker was restarted (${why})`));
    await this.start().catch((err: unknown) => this.log.error({ err }, 'the face worker did not come back'));
  }

  private spawn(): Promise<FaceEngineInfo> {
    const workerData = { backend: this.o.backend, recognizer: this.o.recognizer, burstExamine: this.o.burstExamine } satisfies WorkerConfig;
    const w = startWorker(import.meta.url, 'worker', workerData);
    return new Promise<FaceEngineInfo>((resolve, reject) => {
      w.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') {
          let calibration: Calibration | null = null;
          try {
            calibration = this.o.calibration === 'none' ? null : findCalibration(m.recognizer.sha256, this.o.calibration.dir);
            if (calibration && calibration.metric !== m.recognizer.metric)
              throw new Error(`the calibration for ${m.recognizer.name} is for ${calibration.metric}, the model gives ${m.recognizer.metric}`);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
            void w.terminate();
            return;
          }
          this.worker = w;
          this.baseTensors = m.tensors;
          this.lastTensors = m.tensors;
          this.info = {
            backend: m.backend,
            backendNote: m.backendNote,
            loadMs: m.loadMs,
            warmupMs: m.warmupMs,
            recognizer: m.recognizer,
            calibration,
          };
          if (m.backendNote)
            this.log.warn({ backend: m.backend, why: m.backendNote }, 'the configured tfjs backend did not load; using the next one');
          this.log.info(
            {
              backend: m.backend,
              recognizer: m.recognizer.name,
              loadMs: Math.round(m.loadMs),
              warmupMs: Math.round(m.warmupMs),
              ...(calibration ? { threshold: calibration.threshold, targetFar: calibration.target_far } : {}),
            },
            'face models loaded',
          );
          resolve(this.info);
        } else if (m.type === 'failed') {
          reject(new Error(`the face worker could not load its models: ${m.error}`));
          void w.terminate();
        } else if (m.type === 'result') {
          if (this.calls.resolve(m.id, m.analysis)) this.answered(m.analysis.tensors);
        } else if (m.type === 'error') this.calls.reject(m.id, new Error(m.error));
      });
      w.on('error', (err) => {
        reject(err);
        if (this.worker === w) void this.restart(`crashed: ${err.message}`);
      });
      w.on('exit', (code) => {
        if (this.worker === w && code !== 0) void this.restart(`exited with code ${code}`);
      });
    });
  }
}

const asFrames = (input: Uint8Array | readonly CameraFrame[]): readonly CameraFrame[] =>
  input instanceof Uint8Array ? [{ format: 'jpeg', data: input }] : input;
