/**
 * Faces for the simulator. For each sample identity there is a reference portrait, which is
 * what the identity service returns, degraded like a CCCD chip photo. There is also a camera
 * frame: a different photo of the same real person, as the kiosk's camera sees them. A
 * stranger and an empty frame complete the set.
 *
 * The real photos are read at run time from ../shared/faces, or from $KIOSKD_FACES_DIR. They
 * are never copied into the repository (see ../shared/faces/SOURCES.md). On a machine without
 * them, single faces cut out of face-api's demo group photos are used instead.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SAMPLE_IDENTITIES } from './identities.js';
import { chipPortrait, decodeJpeg, encodeJpeg, resize, type Rgba } from './image.js';

export interface SimFace {
  readonly idNumber: string;
  /** Which photos were used, for logs (e.g. "dev-asia/lfw-Wu_Yi: portrait 3.jpg, camera 1.jpg"). */
  readonly origin: string;
  /** JPEG at most 240×320, quality 60: what a chip or a patient registry holds. */
  readonly portrait: Uint8Array;
  /** JPEG of width×height: this person standing at the kiosk. */
  readonly camera: Uint8Array;
}

export interface SimFaces {
  readonly source: 'shared-faces' | 'face-api-demo';
  /** One line for hw-sim's banner. */
  readonly note: string;
  /** Size of the camera frames. */
  readonly width: number;
  readonly height: number;
  /**
   * Null for a card that is not a sample identity. Each call returns fresh copies of the
   * bytes, so a consumer that wipes the image buffers it is given cannot spoil the set.
   */
  faceOf(idNumber: string): SimFace | null;
  portraitOf(idNumber: string): Uint8Array | null;
  cameraOf(idNumber: string): Uint8Array | null;
  /** A camera frame of a real person who matches none of the portraits. */
  readonly stranger: Uint8Array;
  /** A camera frame with nobody in it: the wall behind the kiosk. */
  readonly empty: Uint8Array;
}

export interface SimFacesOptions {
  /** Default: $KIOSKD_FACES_DIR, else ../shared/faces next to the repository. */
  readonly facesDir?: string;
  readonly width?: number;
  readonly height?: number;
}

/**
 * Chosen with the real FaceEngine (wasm backend, shipped calibration, L2 threshold 0.4041;
 * test/integration/portraits.test.ts checks every pair). The people are East Asian because the patients
 * are Vietnamese, and sex and rough age follow the sample card. Each camera photo passes the
 * kiosk's camera rules when placed unscaled. LFW crops are 250 px and CASIA crops 168×193 px;
 * enlarged, they would be refused as blurry. Distances are portrait against camera frame:
 */
const SHARED: Readonly<Record<string, { readonly person: string; readonly portrait: string; readonly camera: string }>> = {
  '001190900001': { person: 'dev-asia/casia5-034', portrait: '1.jpg', camera: '3.jpg' }, // woman, 20s (CASIA webcam, one session): 0.21
  '079045900002': { person: 'dev-asia/lfw-Phan_Van_Khai', portrait: '3.jpg', camera: '2.jpg' }, // man, born 1933, the one Vietnamese in the set: 0.29
  '048158900003': { person: 'dev-asia/lfw-Wu_Yi', portrait: '3.jpg', camera: '1.jpg' }, // woman, born 1938: 0.30
  '031201900004': { person: 'dev-asia/casia5-007', portrait: '2.jpg', camera: '1.jpg' }, // young man (CASIA): 0.19
  '046315900005': { person: 'dev-asia/casia5-002', portrait: '4.jpg', camera: '5.jpg' }, // young woman (CASIA; no children in the data): 0.20
};
/**
 * A consenting participant of the London set (CC BY 4.0), an East Asian man of 47. He is at
 * least 0.70 from every portrait above. Some East Asian strangers come closer: casia5-011 is
 * 0.41 from casia5-034. Between the five, the nearest pair (someone else's card) is 0.45 apart.
 */
const SHARED_STRANGER = { person: 'dev/london-024', photo: '2.jpg' };

/**
 * Without ../shared/faces: face-api's demo group photos (1920 px wide, shipped in its npm
 * package). The face boxes were found once with the FaceEngine. These faces pass the camera
 * rules; the others there are turned away or out of focus. No two of these six are within 0.55
 * of each other. Each person is in only one photo, so the portrait and the camera frame are cut
 * from the same photo, at different crops and qualities. All the people are young women.
 */
const DEMO_PEOPLE: readonly (readonly [idNumber: string, photo: number, box: Box])[] = [
  ['001190900001', 5, { x: 1041, y: 168, w: 321, h: 321 }],
  ['079045900002', 5, { x: 1320, y: 342, w: 387, h: 390 }],
  ['048158900003', 5, { x: 273, y: 843, w: 378, h: 375 }],
  ['031201900004', 6, { x: 177, y: 456, w: 357, h: 357 }],
  ['046315900005', 6, { x: 1401, y: 234, w: 378, h: 378 }],
];
const DEMO_STRANGER = { photo: 6, box: { x: 588, y: 303, w: 372, h: 372 } };

interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/**
 * What a source gives: portraits, made at once (small, and the identity service needs them), and
 * the photos for the camera frames. Encoding a 1280×960 JPEG takes about 100 ms, so each frame
 * is made the first time it is asked for.
 */
interface Built {
  readonly origins: ReadonlyMap<string, string>;
  readonly portraits: ReadonlyMap<string, Uint8Array>;
  readonly cameraPhotos: ReadonlyMap<string, Rgba>;
  readonly strangerPhoto: () => Rgba;
}

export async function loadSimFaces(opts: SimFacesOptions = {}): Promise<SimFaces> {
  const width = opts.width ?? 1280;
  const height = opts.height ?? 960;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 64 && height >= 64))
    throw new Error(`camera frames of ${width}×${height} are not possible`);
  const dir = resolve(opts.facesDir ?? (process.env.KIOSKD_FACES_DIR || defaultFacesDir()));
  const missing = Object.values(SHARED)
    .flatMap((p) => [join(p.person, p.portrait), join(p.person, p.camera)])
    .concat(join(SHARED_STRANGER.person, SHARED_STRANGER.photo))
    .filter((f) => !existsSync(join(dir, f)));
  const rel = relative(process.cwd(), dir) || '.';
  const shown = rel.length < dir.length ? rel : dir;
  let source: SimFaces['source'];
  let note: string;
  let built: Built;
  if (missing.length === 0) {
    source = 'shared-faces';
    note = `faces: ${shown}/dev-asia (real photos)`;
    built = fromShared(dir);
  } else {
    source = 'face-api-demo';
    const why = existsSync(dir) ? `${shown} lacks ${missing[0]}` : `${shown} not found`;
    note = `faces: ${why}; sample identities use face-api's demo photos`;
    built = fromDemo();
  }
  const frames = new Map<string, Uint8Array>();
  const frame = (key: string, photo: () => Rgba | null): Uint8Array => {
    let f = frames.get(key);
    if (!f) frames.set(key, (f = cameraFrame(photo(), width, height)));
    return new Uint8Array(f);
  };
  const cameraOf = (idNumber: string): Uint8Array | null => {
    const photo = built.cameraPhotos.get(idNumber);
    return photo ? frame(`id:${idNumber}`, () => photo) : null;
  };
  const portraitOf = (idNumber: string): Uint8Array | null => {
    const p = built.portraits.get(idNumber);
    return p ? new Uint8Array(p) : null;
  };
  return {
    source,
    note,
    width,
    height,
    faceOf(idNumber) {
      const portrait = portraitOf(idNumber);
      const camera = cameraOf(idNumber);
      return portrait && camera ? { idNumber, origin: built.origins.get(idNumber) ?? '', portrait, camera } : null;
    },
    portraitOf,
    cameraOf,
    get stranger() {
      return frame('stranger', built.strangerPhoto);
    },
    get empty() {
      return frame('empty', () => null);
    },
  };
}

/** ../shared/faces beside the repository, from the source tree (hw-sim/) or the build (dist/hw-sim/). */
function defaultFacesDir(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4 && !existsSync(join(d, 'package.json')); i++) d = dirname(d);
  return join(d, '..', 'shared', 'faces');
}

function fromShared(dir: string): Built {
  const read = (person: string, file: string): Rgba => decodeJpeg(readFileSync(join(dir, person, file)));
  const origins = new Map<string, string>();
  const portraits = new Map<string, Uint8Array>();
  const cameraPhotos = new Map<string, Rgba>();
  for (const { idNumber } of SAMPLE_IDENTITIES) {
    const p = SHARED[idNumber];
    if (!p) continue;
    origins.set(idNumber, `${p.person}: portrait ${p.portrait}, camera ${p.camera}`);
    portraits.set(idNumber, chipPortrait(read(p.person, p.portrait)));
    cameraPhotos.set(idNumber, read(p.person, p.camera));
  }
  return { origins, portraits, cameraPhotos, strangerPhoto: () => read(SHARED_STRANGER.person, SHARED_STRANGER.photo) };
}

function fromDemo(): Built {
  const demoDir = join(dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'demo');
  // Decoding a 1920 px photo takes about 250 ms, so each photo is decoded once, and only its
  // crops are kept.
  const photos = new Map<number, Rgba>();
  const photo = (n: number): Rgba => {
    let img = photos.get(n);
    if (!img) photos.set(n, (img = decodeJpeg(readFileSync(join(demoDir, `sample${n}.jpg`)))));
    return img;
  };
  // The portrait is a tight head-and-shoulders crop. The camera crop is looser, but narrow
  // enough to keep the neighbours' faces out.
  const cameraCrop = (n: number, box: Box): Rgba => crop(photo(n), box, 0.25, 0.6, 0.6);
  const origins = new Map<string, string>();
  const portraits = new Map<string, Uint8Array>();
  const cameraPhotos = new Map<string, Rgba>();
  for (const [idNumber, n, box] of DEMO_PEOPLE) {
    origins.set(idNumber, `face-api demo sample${n}.jpg, face at ${box.x},${box.y}`);
    portraits.set(idNumber, chipPortrait(crop(photo(n), box, 0.3, 0.45, 0.35)));
    cameraPhotos.set(idNumber, cameraCrop(n, box));
  }
  const stranger = cameraCrop(DEMO_STRANGER.photo, DEMO_STRANGER.box);
  return { origins, portraits, cameraPhotos, strangerPhoto: () => stranger };
}

/** The face box grown by these fractions of its size (left and right, above, below), clamped to the photo. */
function crop(img: Rgba, b: Box, side: number, above: number, below: number): Rgba {
  const x0 = Math.max(0, Math.round(b.x - side * b.w));
  const y0 = Math.max(0, Math.round(b.y - above * b.h));
  const x1 = Math.min(img.width, Math.round(b.x + b.w + side * b.w));
  const y1 = Math.min(img.height, Math.round(b.y + b.h + below * b.h));
  const w = x1 - x0;
  const data = new Uint8Array(w * (y1 - y0) * 4);
  for (let y = y0; y < y1; y++) data.set(img.data.subarray((y * img.width + x0) * 4, (y * img.width + x1) * 4), (y - y0) * w * 4);
  return { width: w, height: y1 - y0, data };
}

/**
 * A camera frame: the photo, unscaled and only shrunk when it does not fit, centred a little
 * above the middle, in front of a wall lit from above. The wall has faint sensor noise.
 * With no photo, this is the empty kiosk.
 */
function cameraFrame(img: Rgba | null, width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  let s = 0x9e3779b9; // fixed seed: the same frames on every run
  for (let y = 0; y < height; y++) {
    const shade = 1 - (0.14 * y) / height;
    for (let x = 0; x < width; x++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const n = ((s >>> 0) % 5) - 2;
      const o = (y * width + x) * 4;
      data[o] = 200 * shade + n;
      data[o + 1] = 195 * shade + n;
      data[o + 2] = 186 * shade + n;
      data[o + 3] = 255;
    }
  }
  if (img) {
    const k = Math.min(1, (0.9 * width) / img.width, (0.9 * height) / img.height);
    const p = k < 1 ? resize(img, Math.floor(img.width * k), Math.floor(img.height * k)) : img;
    const x0 = (width - p.width) >> 1;
    const y0 = Math.max(0, Math.min(height - p.height, Math.round(0.45 * height - p.height / 2)));
    for (let y = 0; y < p.height; y++) data.set(p.data.subarray(y * p.width * 4, (y + 1) * p.width * 4), ((y0 + y) * width + x0) * 4);
  }
  return encodeJpeg({ width, height, data }, 85);
}
