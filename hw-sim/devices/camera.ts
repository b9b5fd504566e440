import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { DEFAULT_STREAM_SETTINGS, encodePpm, normaliseStreamSettings, type StreamSettings } from '../bin/camera-model.mjs';

export type { StreamSettings } from '../bin/camera-model.mjs';
/** Some stream settings; an undefined one is left as it is. */
export type StreamChange = { readonly [K in keyof StreamSettings]?: StreamSettings[K] | undefined };
export { DEFAULT_STREAM_SETTINGS } from '../bin/camera-model.mjs';

/**
 * A virtual Raspberry Pi camera. The daemon runs the real rpicam driver against
 * hw-sim/bin/rpicam-still and hw-sim/bin/rpicam-vid (put first on its PATH via `env`), which
 * serve whatever this class last chose: a picture, an error, a hang, or garbage. rpicam-vid
 * streams the picture as a real camera would (start-up latency, dark first frames, motion,
 * blur, drops; `setStream`). State lives in `<dir>/camera/`, so the scripts need no running
 * simulator to answer.
 */
export class VirtualCamera {
  /** The directory the script reads (HWSIM_CAMERA_DIR). */
  readonly dir: string;
  /** hw-sim/bin, to put first on the daemon's PATH. */
  readonly binDir: string = findBinDir();
  private readonly framesWritten = new Set<string>();
  private writes = 0;

  private constructor(root: string) {
    this.dir = join(root, 'camera');
  }

  /** Creates `<dir>/camera/` and shows a plain grey picture until told otherwise. */
  static async start(dir: string): Promise<VirtualCamera> {
    const cam = new VirtualCamera(dir);
    await mkdir(join(cam.dir, 'frames'), { recursive: true });
    await cam.show(greyJpeg(64, 48), 'empty');
    return cam;
  }

  /**
   * What the daemon's environment needs so its rpicam driver finds this camera. hw-sim/bin
   * also holds the fake timedatectl (`kioskd selftest`), which reads HWSIM_CLOCK_STATE.
   */
  get env(): { readonly HWSIM_CAMERA_DIR: string; readonly HWSIM_CLOCK_STATE: string; readonly PATH: string } {
    return {
      HWSIM_CAMERA_DIR: this.dir,
      HWSIM_CLOCK_STATE: join(this.dir, '..', 'clock-state'),
      PATH: `${this.binDir}:${process.env['PATH'] ?? ''}`,
    };
  }

  /**
   * The next captures return exactly these bytes, and streams show this picture from their next
   * frames. A label is written once; reuse it to switch back. Next to the JPEG goes its pixels
   * as a raw PPM, so rpicam-vid needs no JPEG decoder (it starts and switches faces in
   * milliseconds); a JPEG that does not decode (a test's bomb) gets none, and a stream of it fails.
   */
  async show(jpegBytes: Uint8Array, label: string): Promise<void> {
    if (!/^[\w.-]+$/.test(label)) throw new Error(`frame label must be letters, digits, . _ or -: ${JSON.stringify(label)}`);
    const file = join(this.dir, 'frames', `${label}.jpg`);
    if (!this.framesWritten.has(label)) {
      const raw = rawOf(jpegBytes);
      if (raw) await this.writeAtomically(file.replace(/\.jpg$/, '.ppm'), raw);
      else await rm(file.replace(/\.jpg$/, '.ppm'), { force: true });
      await writeFile(file, jpegBytes);
      this.framesWritten.add(label);
    }
    await this.setCurrent(file);
  }

  /** The next captures fail like a real camera: "ERROR: *** <message> ***", exit 1. */
  fail(message: string): Promise<void> {
    return this.setCurrent(`fail ${message.replace(/[\r\n]+/g, ' ')}`);
  }

  /** The next captures never finish. */
  hang(): Promise<void> {
    return this.setCurrent('hang');
  }

  /** The next captures "succeed" with bytes that are not a JPEG. */
  garbage(): Promise<void> {
    return this.setCurrent('garbage');
  }

  /** How streams started from now on behave; the settings not given keep their current values. */
  async setStream(settings: StreamChange): Promise<void> {
    const given = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
    await this.writeAtomically(join(this.dir, 'stream.json'), JSON.stringify({ ...this.streamSettings(), ...given }) + '\n');
  }

  /** Streams behave as DEFAULT_STREAM_SETTINGS say again. */
  resetStream(): Promise<void> {
    return this.setStream(DEFAULT_STREAM_SETTINGS);
  }

  /** The settings the next stream starts with. */
  streamSettings(): StreamSettings {
    const text = readOr(join(this.dir, 'stream.json'));
    try {
      return normaliseStreamSettings(text ? JSON.parse(text) : {});
    } catch {
      return { ...DEFAULT_STREAM_SETTINGS };
    }
  }

  /** The argv of every rpicam-vid start so far, one string per call. */
  streamCalls(): string[] {
    return lines(join(this.dir, 'vid-calls.log'));
  }

  /** The pid of the last rpicam-vid process. */
  lastStreamPid(): number | null {
    const pid = Number.parseInt(readOr(join(this.dir, 'vid.pid')), 10);
    return Number.isFinite(pid) ? pid : null;
  }

  /** The argv of every rpicam-still capture so far, one string per call. */
  calls(): string[] {
    return lines(join(this.dir, 'calls.log'));
  }

  /** The pid of the last capture process (it stays the same through `hang`'s exec sleep). */
  lastPid(): number | null {
    const pid = Number.parseInt(readOr(join(this.dir, 'last.pid')), 10);
    return Number.isFinite(pid) ? pid : null;
  }

  /** A daemon still running sees the camera disappear (a stream ends); the frames and their raw pixels (real people's faces) are deleted. */
  async stop(): Promise<void> {
    await this.fail('no cameras available');
    await rm(join(this.dir, 'frames'), { recursive: true, force: true });
    this.framesWritten.clear();
  }

  private setCurrent(value: string): Promise<void> {
    return this.writeAtomically(join(this.dir, 'current'), `${value}\n`);
  }

  /** Temp file + rename: a capture starting mid-write reads the old or the new value, never half. */
  private async writeAtomically(file: string, data: string | Uint8Array): Promise<void> {
    const tmp = join(this.dir, `.tmp.${process.pid}.${this.writes++}`);
    await writeFile(tmp, data);
    await rename(tmp, file);
  }
}

/** Next door both under tsx and in dist (the build copies hw-sim/bin); else the source tree above dist. */
function findBinDir(): string {
  for (const rel of ['../bin/', '../../../hw-sim/bin/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, 'rpicam-still'))) return dir.replace(/\/$/, '');
  }
  throw new Error('hw-sim/bin/rpicam-still not found next to hw-sim/devices or above dist/');
}

function greyJpeg(width: number, height: number): Uint8Array {
  const data = Buffer.alloc(width * height * 4, 0x80);
  return jpeg.encode({ data, width, height }, 80).data;
}

/**
 * The picture's pixels as a PPM, or null when it does not decode. The limits keep a test's
 * decompression bomb (8000×8000 declared in 695 bytes) from costing memory or time here.
 */
function rawOf(jpegBytes: Uint8Array): Uint8Array | null {
  try {
    const d = jpeg.decode(jpegBytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: 16, maxMemoryUsageInMB: 128 });
    return d.width > 0 && d.height > 0 ? encodePpm(d.data, d.width, d.height) : null;
  } catch {
    return null;
  }
}

const lines = (file: string): string[] =>
  readOr(file)
    .split('\n')
    .filter((l) => l !== '');

/** The file's text, or '' before the script has written it. */
function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
