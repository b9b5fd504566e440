import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';

/**
 * A virtual Raspberry Pi camera. The daemon runs the real rpicam driver against
 * hw-sim/bin/rpicam-still (put first on its PATH via `env`), a shell script that serves
 * whatever this class last chose: a picture, an error, a hang, or garbage. State lives in
 * `<dir>/camera/`, so the script needs no running simulator to answer.
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

  /** The next captures return exactly these bytes. A label is written once; reuse it to switch back. */
  async show(jpegBytes: Uint8Array, label: string): Promise<void> {
    if (!/^[\w.-]+$/.test(label)) throw new Error(`frame label must be letters, digits, . _ or -: ${JSON.stringify(label)}`);
    const file = join(this.dir, 'frames', `${label}.jpg`);
    if (!this.framesWritten.has(label)) {
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

  /** The argv of every capture so far, one string per call. */
  calls(): string[] {
    return readOr(join(this.dir, 'calls.log'))
      .split('\n')
      .filter((l) => l !== '');
  }

  /** The pid of the last capture process (it stays the same through `hang`'s exec sleep). */
  lastPid(): number | null {
    const pid = Number.parseInt(readOr(join(this.dir, 'last.pid')), 10);
    return Number.isFinite(pid) ? pid : null;
  }

  /** A daemon still running sees the camera disappear; the frames (real people's faces) are deleted. */
  async stop(): Promise<void> {
    await this.fail('no cameras available');
    await rm(join(this.dir, 'frames'), { recursive: true, force: true });
    this.framesWritten.clear();
  }

  /** Temp file + rename: a capture starting mid-write reads the old or the new value, never half. */
  private async setCurrent(value: string): Promise<void> {
    const tmp = join(this.dir, `.current.${process.pid}.${this.writes++}`);
    await writeFile(tmp, `${value}\n`);
    await rename(tmp, join(this.dir, 'current'));
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

/** The file's text, or '' before the script has written it. */
function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
