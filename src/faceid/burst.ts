/**
 * One request in the worker: a burst of camera frames (or one image), the best usable face in
 * it, and that face's embedding. The frames are ranked by the sharpness of their middle (no face
 * needed, microseconds); faces are looked for in that order, and once `examine` frames have a
 * usable face (pose, size, sharpness all within the rules) the one with the best quality is
 * embedded: the costly steps run on one or two frames, not on every frame of the burst.
 */
import { createRequire } from 'node:module';
import { dlibChip, judge, pickCentral, PROBE_RULES, REFERENCE_RULES, type DetectedFace, type Verdict } from './geometry.js';
import { laplacianVariance, squareCrop } from './align.js';
import { centralSharpness, i420Half, i420Region, type CameraFrame } from './frames.js';
import { scaleFace, shiftFace, type RgbImage } from './detect.js';
import type { Analysis, WorkerRequest } from './protocol.js';
import type { Recognizer } from './recognizers.js';

const require = createRequire(import.meta.url);
/** FRAME_LIMIT's 4608×3496 is 16.1 MP: nothing larger is decoded. */
const MAX_DECODE_MP = 17;

export interface BurstDeps {
  readonly detect: (img: RgbImage) => Promise<DetectedFace[]>;
  readonly recognizer: Recognizer;
  readonly tensors: () => number;
  /** Usable frames to compare before choosing (1: the first usable frame in sharpness order). */
  readonly examine: number;
}

interface Examined {
  readonly index: number;
  readonly width: number;
  readonly height: number;
  /** In the frame's coordinates. */
  readonly faces: DetectedFace[];
  readonly chosen: DetectedFace | null;
  /** The chosen face's surroundings at full resolution, and the face in its coordinates (for the crops). */
  readonly crop: { readonly img: RgbImage; readonly face: DetectedFace } | null;
  readonly sharpness: number | null;
  readonly verdict: Verdict;
}

/** One frame: its faces, the patient's (central) one, and a full-resolution view around it. */
async function look(f: CameraFrame, detect: BurstDeps['detect']): Promise<Omit<Examined, 'index' | 'sharpness' | 'verdict'>> {
  if (f.format === 'jpeg') {
    const img = decodeJpeg(f.data);
    const faces = await detect(img);
    const chosen = pickCentral(faces, img.width, img.height);
    return { width: img.width, height: img.height, faces, chosen, crop: chosen ? { img, face: chosen } : (img.data.fill(0), null) };
  }
  const { width, height } = f;
  // The detector sees at most 640 px: a 1280×960 frame is looked at half size, converted at that size.
  const half = Math.min(width, height) >= 480;
  const k = half ? 2 : 1;
  const small = half ? i420Half(f.data, width, height) : i420Region(f.data, width, height, { x: 0, y: 0, width, height });
  let faces: DetectedFace[];
  try {
    faces = (await detect({ data: small, width: width / k, height: height / k })).map((x) => scaleFace(x, k));
  } finally {
    small.fill(0);
  }
  if (faces.length === 0 && half) faces = await closer(f, detect);
  const chosen = pickCentral(faces, width, height);
  if (!chosen) return { width, height, faces, chosen, crop: null };
  // Three face-widths around the face hold every crop the recognisers cut (dlib chip, ArcFace alignment).
  const b = chosen.box;
  const x0 = Math.max(0, Math.floor(b.x - b.width) & ~1);
  const y0 = Math.max(0, Math.floor(b.y - b.height) & ~1);
  const r = { x: x0, y: y0, width: Math.min(width, Math.ceil(b.x + 2 * b.width)) - x0, height: Math.min(height, Math.ceil(b.y + 2 * b.height)) - y0 };
  const img = { data: i420Region(f.data, width, height, r), width: r.width, height: r.height };
  return { width, height, faces, chosen, crop: { img, face: shiftFace(chosen, -r.x, -r.y) } };
}

export function burstAnalyzer(d: BurstDeps): (req: WorkerRequest) => Promise<Analysis> {
  return async (req) => {
    const t0 = performance.now();
    let decodeMs = 0;
    let detectMs = 0;
    const rules = req.role === 'probe' ? PROBE_RULES : REFERENCE_RULES;
    const seen: Examined[] = [];
    let best: Examined | null = null;
    try {
      let usable = 0;
      for (const index of rankFrames(req.frames)) {
        const t1 = performance.now();
        const timed = timedDetect(d.detect);
        const v = await look(req.frames[index]!, timed.detect);
        req.frames[index]!.data.fill(0); // the source bytes do not outlive the look
        detectMs += timed.ms();
        decodeMs += performance.now() - t1 - timed.ms();
        const sharpness = v.crop ? chipSharpness(v.crop.img, v.crop.face) : null;
        const e: Examined = { ...v, index, sharpness, verdict: judge(v.faces, v.width, v.height, sharpness, rules) };
        seen.push(e);
        if (e.verdict.ok) {
          usable++;
          if (!best || quality(e) > quality(best)) best = e;
          if (usable >= d.examine) break;
        }
        // The frames of a burst are a tenth of a second apart: nobody in the sharpest is nobody in the rest.
        if (v.faces.length === 0 && !best) break;
      }
      const shown = best ?? seen[0]!;
      const t3 = performance.now();
      // A refused burst (most often blurred) skips the costly step, on the retries a kiosk sees most.
      const crop = best?.crop;
      const embedding = crop ? await d.recognizer.embed({ rgb: crop.img.data, width: crop.img.width, height: crop.img.height }, crop.face) : null;
      return {
        width: shown.width,
        height: shown.height,
        faces: shown.faces,
        sharpness: shown.sharpness,
        verdict: shown.verdict,
        embedding,
        chosen: shown.chosen ? shown.faces.indexOf(shown.chosen) : null,
        frame: { index: shown.index, examined: seen.length, of: req.frames.length },
        timings: { decodeMs, detectMs, embedMs: best ? performance.now() - t3 : 0, totalMs: performance.now() - t0 },
        tensors: d.tensors(),
      };
    } finally {
      for (const e of seen) e.crop?.img.data.fill(0); // no frame's pixels outlive the call
      for (const f of req.frames) f.data.fill(0);
    }
  };
}

/** Raw frames sharpest-middle first (motion blur is the usual spoiler); JPEGs in the order given. */
function rankFrames(frames: readonly CameraFrame[]): number[] {
  const score = frames.map((f) => (f.format === 'i420' ? centralSharpness(f.data, f.width, f.height) : 0));
  return frames.map((_, i) => i).sort((a, b) => score[b]! - score[a]! || a - b);
}

/**
 * A patient standing back is too small for the detector in the whole frame (it sees 256 px): the
 * middle quarter of the frame at full resolution, looked at once more when nothing was found.
 */
async function closer(f: Extract<CameraFrame, { format: 'i420' }>, detect: BurstDeps['detect']): Promise<DetectedFace[]> {
  const r = { x: (f.width >> 2) & ~1, y: (f.height >> 2) & ~1, width: f.width >> 1, height: f.height >> 1 };
  const middle = i420Region(f.data, f.width, f.height, r);
  try {
    return (await detect({ data: middle, width: r.width, height: r.height })).map((x) => shiftFace(x, r.x, r.y));
  } finally {
    middle.fill(0);
  }
}

/** The detector, timed (what the frame's conversion cost is the rest of the look). */
function timedDetect(detect: BurstDeps['detect']): { detect: BurstDeps['detect']; ms: () => number } {
  let ms = 0;
  return {
    detect: async (img) => {
      const t = performance.now();
      try {
        return await detect(img);
      } finally {
        ms += performance.now() - t;
      }
    },
    ms: () => ms,
  };
}

function decodeJpeg(data: Uint8Array): RgbImage {
  const jpeg: any = require('jpeg-js'); // eslint-disable-line @typescript-eslint/no-explicit-any -- jpeg-js ships loose types
  // The engine has already refused anything larger than FRAME_LIMIT by its header; these are
  // the decoder's own nets, in case a header ever slips past that check.
  const img = jpeg.decode(data, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 256, maxResolutionInMP: MAX_DECODE_MP });
  return { data: img.data as Uint8Array, width: img.width as number, height: img.height as number };
}

/**
 * Laplacian variance of the face's chip, at most 150 px: the sharpness the quality rules judge.
 * A face smaller than that is measured at its own size, never on an enlarged copy: enlarging
 * smooths the pixels, and a sharp small face would read as blurred.
 */
function chipSharpness(img: RgbImage, face: DetectedFace): number {
  const box = dlibChip(face);
  const size = Math.max(32, Math.min(150, Math.round(box.size)));
  const chip = squareCrop(img.data, img.width, img.height, box, size);
  try {
    return laplacianVariance(chip, size);
  } finally {
    chip.fill(0);
  }
}

/** Among usable frames: sharper, nearer (larger) and more frontal is better. */
function quality(e: Examined): number {
  if (!e.verdict.ok) return -1;
  const v = e.verdict;
  return Math.min(v.sharpness / 25, 4) * Math.min(v.eyeDistancePx / 28, 3) * (1 - v.yawRatio) * Math.cos((v.rollDeg * Math.PI) / 180);
}
