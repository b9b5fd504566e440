// Types of camera-model.mjs (hand-written: the model is plain JavaScript so the fake rpicam-vid loads it without a compiler).

/** How the virtual camera's stream behaves (`<camera dir>/stream.json`; a missing key is its default). */
export interface StreamSettings {
  /** From the process start to the first frame (the sensor starting). */
  readonly startupMs: number;
  /** How many first frames are under-exposed, brightening in equal steps until auto-exposure has settled. */
  readonly darkFrames: number;
  /** Each frame is the picture shifted by up to this many pixels in x and y (the patient sways). */
  readonly motionPx: number;
  /** Probability that a frame is blurred (3×3 or 5×5 box blur of Y). */
  readonly blurChance: number;
  /** Probability that a frame never arrives. */
  readonly dropChance: number;
  /** After this many frames the stream ends: "ERROR: *** device disconnected (hw-sim) ***", exit 1. Null: never. */
  readonly dieAfterFrames: number | null;
  /** Every start fails as when another program holds the camera. */
  readonly busy: boolean;
}

export declare const DEFAULT_STREAM_SETTINGS: Readonly<StreamSettings>;
/** The wall behind the kiosk (RGB), around a picture smaller than the frame. */
export declare const WALL_GREY: readonly [number, number, number];
/** The exposure gain of the first dark frame. */
export declare const FIRST_GAIN: number;

/** W×H×3/2: the bytes of one I420 frame. */
export declare function frameBytes(width: number, height: number): number;
/** Packed RGB (3 bytes a pixel) to I420, BT.601 full range. Width and height must be even. */
export declare function rgbToI420(rgb: Uint8Array, width: number, height: number): Uint8Array;
/** I420 to packed RGB. */
export declare function i420ToRgb(i420: Uint8Array, width: number, height: number): Uint8Array;
/** The mean of the Y plane (0–255). */
export declare function meanLuma(i420: Uint8Array, width: number, height: number): number;
/** The RGB picture w×h scaled to fit W×H (aspect kept: area average down, bilinear up), centred on WALL_GREY. */
export declare function fitToFrame(rgb: Uint8Array, w: number, h: number, W: number, H: number): Uint8Array;
/** A seeded generator of numbers in [0, 1). */
export declare function mulberry32(seed: number): () => number;
/** The exposure gain of frame `index` (0-based): FIRST_GAIN rising to 1 at `darkFrames`. */
export declare function gainAt(index: number, darkFrames: number): number;

export interface FrameSource {
  /** Frames drawn so far (delivered, dropped or skipped). */
  readonly index: number;
  /** The next frame (a new array of W×H×3/2 bytes), or null when this one is dropped. */
  next(): Uint8Array | null;
  /** Passes one frame without making it (nobody would take it), as next() would. */
  skip(): void;
  /** Shows another picture (I420 W×H) from the next frame on; exposure carries on. */
  setBase(baseI420: Uint8Array): void;
}
export declare function createFrameSource(
  baseI420: Uint8Array,
  width: number,
  height: number,
  settings: Partial<StreamSettings>,
  rng: () => number,
): FrameSource;

/** Binary PPM (P6): the raw sidecar VirtualCamera writes next to each picture. */
export declare function encodePpm(rgb: Uint8Array, width: number, height: number): Uint8Array;
export declare function decodePpm(bytes: Uint8Array): { width: number; height: number; rgb: Uint8Array };
/** Parsed stream.json to whole settings: each missing or invalid value is its default. */
export declare function normaliseStreamSettings(v: unknown): StreamSettings;
