/**
 * What hostile input costs the daemon's process, before and after the checks of issue 15
 * (items 8 and 9). Each case runs in a child process of its own, so its RSS is its own:
 *
 *   node --import=tsx bench/untrusted-input.ts
 *
 * Cases: the 695-byte JPEG declaring 8000×8000 decoded as the face worker used to (jpeg-js,
 * maxMemoryUsageInMB 256) and as it does now (plus maxResolutionInMP), and measured by its
 * header; a 50 MB camera frame through the rpicam driver; a 200 MB gateway answer read whole
 * (as the BHYT client used to) and through the client.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import pino from 'pino';
import { BhytGatewaySim } from '../hw-sim/devices/bhyt-gateway.js';
import { VirtualCamera } from '../hw-sim/devices/camera.js';
import { createBhytClient } from '../src/bhyt/client.js';
import { checkJpeg, PORTRAIT_LIMIT } from '../src/faceid/jpeg-header.js';
import { cameraConfigSchema, type RpicamConfig } from '../src/hal/camera/config.js';
import { createRpicamCamera } from '../src/hal/camera/rpicam.js';
import { systemClock } from '../src/util/clock.js';
import { comment, jpegBomb, jpegOf, sof } from '../test/helpers/jpeg-bombs.js';

const CASES: Record<string, () => Promise<string>> = {
  async 'bomb: jpeg-js decode, 256 MB limit (before)'() {
    try {
      jpeg.decode(jpegBomb(), { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 256 });
      return 'decoded';
    } catch (e) {
      return (e as Error).message;
    }
  },
  async 'bomb: jpeg-js decode, + maxResolutionInMP 17 (worker now)'() {
    try {
      jpeg.decode(jpegBomb(), { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 256, maxResolutionInMP: 17 });
      return 'decoded';
    } catch (e) {
      return (e as Error).message;
    }
  },
  async 'bomb: header check (client, driver, engine now)'() {
    const r = checkJpeg(jpegBomb(), PORTRAIT_LIMIT, 'the portrait');
    return r.ok ? 'accepted' : r.reason;
  },
  async '50 MB camera frame through the rpicam driver (now)'() {
    const dir = mkdtempSync(join(tmpdir(), 'kioskd-bench-'));
    try {
      const vc = await VirtualCamera.start(dir);
      const com = Buffer.from(comment(65_000));
      const head = jpegOf(sof(1280, 960));
      // SOI + SOF, 800 comments (52 MB), EOI: a proper header on a frame far too large.
      await vc.show(Buffer.concat([head.subarray(0, -2), ...new Array<Buffer>(800).fill(com), head.subarray(-2)]), 'fat');
      global.gc?.();
      restart(); // what building the file cost is not the driver's
      const cfg = cameraConfigSchema.parse({ driver: 'rpicam', mode: 'still' }) as RpicamConfig;
      const cam = createRpicamCamera(cfg, { clock: systemClock(), log: pino({ level: 'silent' }), random: Math.random, env: vc.env });
      await cam.open(new AbortController().signal);
      const r = await cam.capture(new AbortController().signal);
      await cam.close();
      return r.ok ? `accepted ${r.frames[0]?.data.byteLength} bytes` : r.reason;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  async '200 MB gateway answer read whole (before)'() {
    const sim = await BhytGatewaySim.start();
    try {
      await sim.setFault('huge-body');
      const res = await fetch(`${sim.url}/api/token/take`, { method: 'POST', body: 'username=x' });
      const text = await res.text();
      return `read ${text.length} characters`;
    } finally {
      await sim.stop();
    }
  },
  async '200 MB gateway answer through the BHYT client (now)'() {
    const sim = await BhytGatewaySim.start();
    try {
      await sim.setFault('huge-body');
      const client = createBhytClient({
        url: sim.url,
        username: 'x',
        password: 'y',
        officerName: 'o',
        officerId: '000000000000',
        timeoutMs: 60_000,
        breaker: { failures: 3, openSec: 30 },
        clock: systemClock(),
        wallClock: () => new Date(),
        log: pino({ level: 'silent' }),
      });
      const r = await client.login(AbortSignal.timeout(60_000));
      return r.ok ? 'accepted' : r.reason;
    } finally {
      await sim.stop();
    }
  },
};

let rss0 = 0;
let peak = 0;
let t0 = 0;
/** Measurement starts (again) here. */
function restart(): void {
  rss0 = process.memoryUsage().rss;
  peak = rss0;
  t0 = performance.now();
}

async function runCase(name: string): Promise<void> {
  restart();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
  const outcome = await CASES[name]!();
  const ms = performance.now() - t0;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  process.stdout.write(JSON.stringify({ outcome, ms, rss0, peak }));
}

const only = process.argv.indexOf('--case');
if (only > 0) {
  await runCase(process.argv[only + 1]!);
} else {
  const self = fileURLToPath(import.meta.url);
  const mb = (n: number): string => `${(n / 1048576).toFixed(0)} MiB`;
  console.log(`untrusted input (node ${process.version}, ${process.arch}); each case in a fresh process`);
  for (const name of Object.keys(CASES)) {
    const r = spawnSync(process.execPath, ['--expose-gc', '--import=tsx', self, '--case', name], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const m = /\{.*\}$/s.exec(r.stdout ?? '');
    if (!m) {
      console.log(`${name}: failed (${r.status}) ${r.stderr.slice(-300)}`);
      continue;
    }
    const x = JSON.parse(m[0]) as { outcome: string; ms: number; rss0: number; peak: number };
    console.log(`${name}\n    ${x.ms.toFixed(0)} ms, RSS ${mb(x.rss0)} → peak ${mb(x.peak)} (+${mb(x.peak - x.rss0)}): ${x.outcome}`);
  }
}
