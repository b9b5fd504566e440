/**
 * Face detection in the worker: Human's BlazeFace + FaceMesh on a copy of the frame no larger
 * than DETECT_MAX_SIDE, faces returned in the full frame's coordinates.
 */
import { downscale } from './align.js';
import type { DetectedFace, Point } from './geometry.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- Human's node-wasm build ships loose types */
/** Longest side of the frame the detector is given. */
const DETECT_MAX_SIDE = 640;

export type RgbImage = { readonly data: Uint8Array; readonly width: number; readonly height: number };

/**
 * Faces in the full frame's coordinates. Detection runs on a copy no larger than DETECT_MAX_SIDE
 * (BlazeFace sees 256 px anyway, and a full 1280×960 tensor would only grow the wasm heap).
 */
export async function detectFaces(tf: any, human: any, img: RgbImage): Promise<DetectedFace[]> {
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

export function shiftFace(f: DetectedFace, dx: number, dy: number): DetectedFace {
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

export function scaleFace(f: DetectedFace, k: number): DetectedFace {
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
