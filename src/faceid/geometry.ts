/**
 * Pure geometry and quality rules of face verification: which face to use, whether it is
 * usable, and where face-api's recogniser wants its crop. No tensors here.
 */
export type Point = readonly [number, number];

export interface DetectedFace {
  /** Pixels in the frame. */
  readonly box: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
  readonly score: number;
  readonly leftEye: Point;
  readonly rightEye: Point;
  readonly mouth: Point;
  readonly nose: Point;
  /** The two corners of the mouth (for the 5-point ArcFace alignment). */
  readonly mouthCorners: readonly [Point, Point];
}

export type QualityReason = 'no-face' | 'multiple-faces' | 'too-small' | 'too-blurry' | 'off-pose';

export interface QualityRules {
  /** Distance between the eye centres, in pixels of the frame: below it the face is too far away. */
  readonly minEyeDistancePx: number;
  /** Head tilt (roll), degrees. */
  readonly maxRollDeg: number;
  /** Nose offset from the eye midpoint over the eye distance: a turned head (yaw). */
  readonly maxYawRatio: number;
  /** Variance of the Laplacian of the face crop (grey levels²): below it the face is blurred. */
  readonly minSharpness: number;
  /** A second face at least this fraction of the chosen one's size is a second person at the kiosk. */
  readonly secondFaceRatio: number;
  /** Refuse a face whose eyes, nose or mouth corners fall outside the frame (too close, too high). */
  readonly wholeFace: boolean;
}

export const PROBE_RULES: QualityRules = {
  minEyeDistancePx: 28,
  maxRollDeg: 25,
  maxYawRatio: 0.35,
  minSharpness: 25,
  secondFaceRatio: 0.6,
  wholeFace: true,
};
/**
 * Chip portraits are small, recompressed and (ICAO) frontal: only a face is required; the pose
 * limits only refuse profiles. A stricter rule here would only turn patients away.
 */
export const REFERENCE_RULES: QualityRules = {
  minEyeDistancePx: 14,
  maxRollDeg: 30,
  maxYawRatio: 0.8,
  minSharpness: 0,
  secondFaceRatio: 2,
  wholeFace: false,
};

/** A kiosk frames one patient: the face nearest the centre is theirs (the largest may be a bystander). */
export function pickCentral(faces: readonly DetectedFace[], width: number, height: number): DetectedFace | null {
  let best: DetectedFace | null = null;
  let bestD = Infinity;
  for (const f of faces) {
    const d = Math.hypot(f.box.x + f.box.width / 2 - width / 2, f.box.y + f.box.height / 2 - height / 2);
    if (d < bestD) {
      best = f;
      bestD = d;
    }
  }
  return best;
}

export const eyeDistance = (f: DetectedFace): number => Math.hypot(f.rightEye[0] - f.leftEye[0], f.rightEye[1] - f.leftEye[1]);

export function pose(f: DetectedFace): { rollDeg: number; yawRatio: number } {
  const [lx, ly] = f.leftEye;
  const [rx, ry] = f.rightEye;
  // Eyes as seen in the image, left to right, whichever the model calls "left".
  const [ax, ay, bx, by] = lx <= rx ? [lx, ly, rx, ry] : [rx, ry, lx, ly];
  const rollDeg = (Math.atan2(by - ay, bx - ax) * 180) / Math.PI;
  const mid = (ax + bx) / 2;
  return { rollDeg, yawRatio: Math.abs(f.nose[0] - mid) / Math.max(1, eyeDistance(f)) };
}

export type Quality =
  | { readonly ok: true; readonly face: DetectedFace; readonly eyeDistancePx: number; readonly rollDeg: number; readonly yawRatio: number }
  | { readonly ok: false; readonly reason: QualityReason; readonly detail: string };

/** Checks detection and pose (sharpness is checked on the crop, by `checkSharpness`). */
export function assess(faces: readonly DetectedFace[], width: number, height: number, rules: QualityRules): Quality {
  const face = pickCentral(faces, width, height);
  if (!face) return { ok: false, reason: 'no-face', detail: 'no face in the frame' };
  const size = face.box.width * face.box.height;
  const rivals = faces.filter((f) => f !== face && f.box.width * f.box.height >= rules.secondFaceRatio * size);
  if (rivals.length > 0) return { ok: false, reason: 'multiple-faces', detail: `${rivals.length + 1} faces of similar size in the frame` };
  const eyes = eyeDistance(face);
  if (eyes < rules.minEyeDistancePx)
    return { ok: false, reason: 'too-small', detail: `eyes ${eyes.toFixed(0)} px apart; at least ${rules.minEyeDistancePx} needed` };
  // Landmarks guessed beyond the frame edge: half a face cannot be aligned, let alone compared.
  const outside = [face.leftEye, face.rightEye, face.nose, ...face.mouthCorners].some(([x, y]) => !(x >= 0 && y >= 0 && x < width && y < height));
  if (rules.wholeFace && outside) return { ok: false, reason: 'off-pose', detail: 'the face is partly outside the frame' };
  const p = pose(face);
  if (Math.abs(p.rollDeg) > rules.maxRollDeg) return { ok: false, reason: 'off-pose', detail: `head tilted ${p.rollDeg.toFixed(0)}°` };
  if (p.yawRatio > rules.maxYawRatio) return { ok: false, reason: 'off-pose', detail: 'head turned to the side' };
  return { ok: true, face, eyeDistancePx: eyes, rollDeg: p.rollDeg, yawRatio: p.yawRatio };
}

/**
 * The quality verdict on one image, given by the worker alone (it skips the embedding when the
 * verdict is no); the engine only compares. Plain data: it crosses the thread boundary.
 */
export type Verdict =
  | { readonly ok: true; readonly eyeDistancePx: number; readonly rollDeg: number; readonly yawRatio: number; readonly sharpness: number }
  | { readonly ok: false; readonly reason: QualityReason; readonly detail: string };

/** `assess`, then the sharpness of the chosen face's crop (null when no face was chosen). */
export function judge(faces: readonly DetectedFace[], width: number, height: number, sharpness: number | null, rules: QualityRules): Verdict {
  const q = assess(faces, width, height, rules);
  if (!q.ok) return { ok: false, reason: q.reason, detail: q.detail };
  if (sharpness !== null && sharpness < rules.minSharpness)
    return { ok: false, reason: 'too-blurry', detail: `sharpness ${sharpness.toFixed(0)} < ${rules.minSharpness}` };
  return { ok: true, eyeDistancePx: q.eyeDistancePx, rollDeg: q.rollDeg, yawRatio: q.yawRatio, sharpness: sharpness ?? 0 };
}

/**
 * face-api's recogniser (the dlib ResNet) was trained on dlib's chip: a square of side
 * mean(eye→mouth distance)/0.45 around the mean of the eye centres and the mouth centre,
 * 0.5 of a side left and 0.43 above it (faceid-baseline.md round 2).
 */
export function dlibChip(f: DetectedFace): { x: number; y: number; size: number } {
  const d = (a: Point, b: Point): number => Math.hypot(a[0] - b[0], a[1] - b[1]);
  const size = Math.max(8, Math.floor((d(f.leftEye, f.mouth) + d(f.rightEye, f.mouth)) / 2 / 0.45));
  const ref: Point = [(f.leftEye[0] + f.rightEye[0] + f.mouth[0]) / 3, (f.leftEye[1] + f.rightEye[1] + f.mouth[1]) / 3];
  return { x: ref[0] - 0.5 * size, y: ref[1] - 0.43 * size, size };
}

/**
 * The five points ArcFace-style recognisers are aligned on, in image order (left to right as
 * seen in the frame, whatever the detector calls "left"): eye, eye, nose tip, mouth corner,
 * mouth corner.
 */
export function fivePoints(f: DetectedFace): [Point, Point, Point, Point, Point] {
  const [e1, e2] = f.leftEye[0] <= f.rightEye[0] ? [f.leftEye, f.rightEye] : [f.rightEye, f.leftEye];
  const [m1, m2] = f.mouthCorners[0][0] <= f.mouthCorners[1][0] ? f.mouthCorners : [f.mouthCorners[1], f.mouthCorners[0]];
  return [e1, e2, f.nose, m1, m2];
}

export function euclidean(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`embeddings of different sizes (${a.length}, ${b.length})`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}
