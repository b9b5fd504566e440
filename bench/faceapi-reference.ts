/**
 * `--reference faceapi-ssd`: face-api's stock pipeline, as its README shows it, on the same
 * images in the same run: ssdMobilenetv1 + faceLandmark68Net + faceRecognitionNet with default
 * options, one face per image, L2 distance with face-api's own threshold 0.6 (FaceMatcher).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import jpeg from 'jpeg-js';

/* eslint-disable @typescript-eslint/no-explicit-any -- face-api's node-wasm build ships loose types */
const require = createRequire(import.meta.url);
export const FACEAPI_THRESHOLD = 0.6;

export async function faceApiReference(): Promise<{ embed: (bytes: Uint8Array) => Promise<number[] | null>; close: () => void }> {
  const tf: any = require('@tensorflow/tfjs');
  require('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  await tf.ready();
  const faceapi: any = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  const dir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(dir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(dir);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(dir);
  const options = new faceapi.SsdMobilenetv1Options();
  return {
    async embed(bytes) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
      const t = tf.tensor3d(Float32Array.from(img.data), [img.height, img.width, 3], 'float32');
      try {
        const r = await faceapi.detectSingleFace(t, options).withFaceLandmarks().withFaceDescriptor();
        return r ? Array.from(r.descriptor as Float32Array) : null;
      } finally {
        t.dispose();
      }
    },
    close: () => tf.disposeVariables(),
  };
}
