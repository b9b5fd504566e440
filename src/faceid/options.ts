import type { Config } from '../config/schema.js';
import type { FaceEngineOptions } from './engine.js';

/** The face engine as the config describes it (daemon, kioskd calibrate, the benchmark). */
export function faceEngineOptions(c: Config['faceid'], overrides: Partial<FaceEngineOptions> = {}): FaceEngineOptions {
  return {
    backend: c.backend,
    recognizer: { model: c.recognizer.model, channels: c.recognizer.channels, range: c.recognizer.range, size: c.recognizer.size, onnxCompiler: c.recognizer.onnxCompiler },
    calibration: { dir: c.calibrationDir },
    callTimeoutMs: c.callTimeoutMs,
    maxTensorGrowth: c.maxTensorGrowth,
    ...overrides,
  };
}
