import { z } from 'zod';
import { durationMs } from './common.js';

/** `faceid`: the face models, the recogniser, its calibration and the worker's limits. */
export const faceidSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('load the face models at boot (a kiosk that verifies faces needs them)'),
    backend: z
      .enum(['tensorflow', 'wasm', 'cpu'])
      .default('wasm')
      .describe('tfjs backend: tensorflow needs the optional @tensorflow/tfjs-node (falls back to wasm when absent); cpu is slow'),
    recognizer: z
      .strictObject({
        model: z
          .string()
          .min(1)
          .default('fr_feature')
          .describe(
            '"fr_feature" (bundled MobileFaceNet, ONNX), "faceapi" (bundled dlib ResNet, pure TFJS), or the absolute path of an ONNX model (.onnx) or a TFJS graph model (model.json) installed by the operator',
          ),
        channels: z
          .enum(['rgb', 'bgr'])
          .optional()
          .describe('colour order the model expects (fr_feature rgb; other ONNX default bgr; TFJS default rgb)'),
        range: z.enum(['symmetric', 'unit']).optional().describe('pixel scaling: symmetric (v-127.5)/127.5 (default) or unit v/255'),
        size: z.number().int().min(32).max(512).optional().describe("side of the aligned crop (default: the model's input, else 112)"),
        onnxCompiler: z
          .enum(['baseline', 'optimizing'])
          .default('baseline')
          .describe("how V8 compiles onnxruntime's wasm: baseline uses ~70 MB less memory, optimizing embeds ~25% faster"),
      })
      .prefault({}),
    calibrationDir: z
      .string()
      .min(1)
      .optional()
      .describe(
        "extra folder of calibration files (kioskd calibrate --out); the model file's sha256 picks one, and a model without one does not start",
      ),
    callTimeoutMs: durationMs(1000, 120_000).default(10_000).describe('one analysis longer than this is abandoned and the worker restarted'),
    maxTensorGrowth: z.number().int().min(1).default(50).describe('tensors leaked above the warm-up count before the worker is restarted'),
  })
  .prefault({});
