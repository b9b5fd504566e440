/**
 * Face models load at boot (a few seconds) in their worker, while the devices open. Until they
 * have loaded, check-ins follow the no-portrait policy; if they never load, the kiosk still
 * runs that way and staff are told.
 */
import type { FaceEngine } from '../faceid/engine.js';
import type { Logger } from '../log/logger.js';
import type { KioskPublisher } from '../mqtt/publisher.js';
import type { Feature } from '../daemon/feature.js';
import type { KioskInfo } from './kiosk-info.js';

export interface FaceModelsDeps {
  readonly engine: FaceEngine | null;
  readonly info: KioskInfo;
  readonly publish: Pick<KioskPublisher, 'event'>;
  readonly log: Logger;
}

export interface FaceModels extends Feature {
  /** The engine once its models have loaded, else null. */
  loaded(): FaceEngine | null;
  /** Settles when loading has ended, either way (at once when face verification is off). */
  settled(): Promise<void>;
}

export function faceModels(d: FaceModelsDeps): FaceModels {
  let loaded: FaceEngine | null = null;
  let settled: Promise<void> = Promise.resolve();
  const load = (engine: FaceEngine): Promise<void> =>
    engine
      .start()
      .then((f) => {
        loaded = engine;
        const c = f.calibration!;
        const [load_ms, warmup_ms] = [Math.round(f.loadMs), Math.round(f.warmupMs)];
        d.info.setFaceId({
          backend: f.backend,
          recognizer: f.recognizer.name,
          model_sha256: f.recognizer.sha256,
          threshold: c.threshold,
          target_far: c.target_far,
          load_ms,
          warmup_ms,
        });
        d.info.publish();
      })
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
        d.log.error({ err: message }, 'face models did not load: face verification is unavailable');
        d.publish.event('alert', { level: 'error', code: 'faceid.unavailable', message: `face verification unavailable: ${message}` });
      });
  return {
    name: 'face-models',
    start() {
      if (d.engine) settled = load(d.engine);
    },
    stop: async () => {
      await d.engine?.stop();
    },
    loaded: () => loaded,
    settled: () => settled,
  };
}
