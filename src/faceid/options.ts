import type { Config } from '../config/schema.js';
import type { FaceEngineOptions } from './engine.js';
import { PORTRAIT_LIMIT } from './jpeg-header.js';

/**
 * The face engine as the config describes it (daemon, kioskd calibrate, the benchmark). A
 * reference portrait larger than a chip portrait (PORTRAIT_LIMIT) is refused by `verify`
 * before it is decoded; `maxFrame` (the camera's configured size) may come in `overrides`.
 */
export function faceEngineOptions(c: Config['faceid'], overrides: Partial<FaceEngineOptions> = {}): FaceEngineOptions {
  return {
    backend: c.backend,
    recognizer: {
      model: c.recognizer.model,
      channels: c.recognizer.channels,
      range: c.recognizer.range,
      size: c.recognizer.size,
      onnxCompiler: c.recognizer.onnxCompiler,
    },
    calibration: { dir: c.calibrationDir },
    callTimeoutMs: c.callTimeoutMs,
    maxTensorGrowth: c.maxTensorGrowth,
    maxReference: PORTRAIT_LIMIT,
    ...overrides,
  };
}
