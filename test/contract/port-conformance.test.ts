/**
 * The port conformance suite (port-conformance.ts) against every driver that reconnects, each
 * on its hw-sim device: the scanner over tcp:// and a pty, the printer on TCP 9100 and as a
 * device file, the lamp panel, the fake rpicam-still, a HID scanner (a fake node-hid), and the
 * state directory's free space. GPIO lamps are left out on purpose: GPIO does not come and go,
 * so a failed claim stays failed until the daemon restarts (hal/indicators/gpio.ts).
 */
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, rm, symlink, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import pino from 'pino';
import { VirtualCamera } from '../../hw-sim/devices/camera.js';
import { VirtualPanel } from '../../hw-sim/devices/panel.js';
import { VirtualPrinter } from '../../hw-sim/devices/printer.js';
import { VirtualScanner } from '../../hw-sim/devices/scanner.js';
import { cameraConfigSchema, type RpicamConfig } from '../../src/hal/camera/config.js';
import { createRpicamCamera } from '../../src/hal/camera/rpicam.js';
import { createHidScanner } from '../../src/hal/card/hid-reader.js';
import { createCardReader } from '../../src/hal/card/reader.js';
import { linkOpenerFor } from '../../src/hal/card/transport.js';
import { indicatorsConfigSchema, type SimIndicatorsConfig } from '../../src/hal/indicators/config.js';
import { createSimIndicators } from '../../src/hal/indicators/sim.js';
import { createTicketPrinter } from '../../src/hal/printer/printer.js';
import { devicePrinter, tcpPrinter } from '../../src/hal/printer/transport.js';
import { createStorageWatch } from '../../src/hal/storage.js';
import { systemClock } from '../../src/util/clock.js';
import { portConformance, type ConformanceRig } from './port-conformance.js';

const log = pino({ level: process.env['DEBUG_PORTS'] ? 'debug' : 'silent' });
const deps = { clock: systemClock(), log, random: Math.random };
const today = () => ({ year: 2026, month: 1, day: 1 });

async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

function skipWithoutSocat(t: ExecutionContext): boolean {
  if (VirtualScanner.socatAvailable()) return false;
  // As test/helpers/needs.ts: in CI a missing socat is a failure, never a silent pass.
  if (process.env['CI']) t.fail('CI needs socat for a pty (apt-get install socat)');
  else t.log('skipped: needs socat for a pty (apt-get install socat)');
  return true;
}

async function scannerRig(t: ExecutionContext, link: 'tcp' | 'pty'): Promise<ConformanceRig | null> {
  if (link === 'pty' && skipWithoutSocat(t)) return null;
  const { dir, remove } = await tempDir('kioskd-conf-scanner-');
  const vs = await VirtualScanner.start(link, dir);
  const port = createCardReader(
    {
      driver: link === 'tcp' ? 'serial-tcp' : 'serial',
      where: vs.daemonPath,
      openLink: linkOpenerFor(vs.daemonPath, 9600),
      termination: 'any',
      idleGapMs: 100,
      duplicateWindowMs: 1000,
      reconnect: { baseMs: 50, maxMs: 200 },
    },
    { ...deps, today },
  );
  return { port, unplug: () => vs.unplug(), replug: () => vs.plug(), stop: async () => (await vs.stop(), await remove()) };
}

async function printerRig(t: ExecutionContext, link: 'tcp' | 'device'): Promise<ConformanceRig | null> {
  if (link === 'device' && skipWithoutSocat(t)) return null;
  const { dir, remove } = await tempDir('kioskd-conf-printer-');
  const vp = await VirtualPrinter.start({ outDir: dir, ocr: false, link });
  vp.render = false;
  const port = createTicketPrinter(
    {
      driver: link === 'tcp' ? 'escpos-tcp' : 'escpos-device',
      where: link === 'tcp' ? vp.url : vp.devicePath,
      openLink: link === 'tcp' ? tcpPrinter(vp.host, vp.tcpPort) : devicePrinter(vp.devicePath),
      pollMs: 100,
      statusTimeoutMs: 500,
      jobTimeoutMs: 30_000,
      reconnect: { baseMs: 50, maxMs: 200 },
    },
    deps,
  );
  return {
    port,
    unplug: () => vp.unplug(),
    replug: () => vp.plug(),
    inFlight() {
      // A printer busy with a long job takes this one slowly: 24 MB, more than loopback TCP buffers hold, so it is still sending when the port closes.
      vp.faults.drainBytesPerSec = 2000;
      return port.print(new Uint8Array(24 * 2 ** 20).fill(0x20), new AbortController().signal);
    },
    stop: async () => (await vp.stop(), await remove()),
  };
}

async function panelRig(): Promise<ConformanceRig> {
  const panel = await VirtualPanel.start();
  const cfg = indicatorsConfigSchema.parse({ driver: 'sim', url: panel.url, reconnectBaseMs: 50, reconnectMaxMs: 200 }) as SimIndicatorsConfig;
  const port = createSimIndicators(cfg, deps);
  return { port, unplug: () => panel.unplug(), replug: () => panel.plug(), stop: () => panel.stop() };
}

/** The fake rpicam-still through a link of its own on PATH: removing the link is unplugging the camera. */
async function cameraRig(): Promise<ConformanceRig> {
  const { dir, remove } = await tempDir('kioskd-conf-camera-');
  const vc = await VirtualCamera.start(dir);
  const bin = join(dir, 'bin');
  await mkdir(bin);
  const plugged = join(bin, 'rpicam-still');
  const replug = () => symlink(join(vc.binDir, 'rpicam-still'), plugged);
  await replug();
  const cfg = { ...cameraConfigSchema.parse({ driver: 'rpicam' }), command: 'rpicam-still', timeoutMs: 20_000 } as RpicamConfig;
  const env = { ...vc.env, PATH: `${bin}:/usr/bin:/bin` };
  const port = createRpicamCamera(cfg, { ...deps, env });
  return {
    port,
    unplug: () => unlink(plugged),
    replug,
    poke: async () => void (await port.capture(AbortSignal.timeout(10_000))),
    async inFlight() {
      await vc.hang();
      return port.capture(new AbortController().signal);
    },
    stop: async () => (await vc.stop(), await remove()),
  };
}

/** A HID scanner: node-hid is native, so a fake module stands in; the device list is what "plugged" means. */
function hidRig(): ConformanceRig {
  const VID = 0xda23;
  const PID = 0x1904;
  class FakeHid extends EventEmitter {
    constructor(readonly path: string) {
      super();
      opened.push(this);
    }
    close(): void {}
  }
  const opened: FakeHid[] = [];
  const devices: Array<{ vendorId: number; productId: number; path: string }> = [{ vendorId: VID, productId: PID, path: '/dev/hidraw0' }];
  const port = createHidScanner(
    { vendorId: VID, productId: PID, mode: 'hid-pos', retryMs: 100 },
    { log, clock: systemClock(), onBytes: () => {}, loadHid: async () => ({ HID: FakeHid, devices: () => devices }) },
  );
  return {
    port,
    async unplug() {
      devices.length = 0;
      opened.at(-1)?.emit('error', new Error('could not read from HID device'));
    },
    async replug() {
      devices.push({ vendorId: VID, productId: PID, path: '/dev/hidraw0' });
    },
    stop: async () => {},
  };
}

/** The state directory's free space; "unplugged" is a directory that cannot be read. */
function storageRig(): ConformanceRig {
  let gone = false;
  const port = createStorageWatch({
    dir: '/kiosk/state',
    lowBytes: 2 ** 20,
    minBytes: 2 ** 19,
    everyMs: 100,
    clock: systemClock(),
    log,
    freeBytes: async () => {
      if (gone) throw Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' });
      return 2 ** 30;
    },
  });
  return { port, unplug: async () => void (gone = true), replug: async () => void (gone = false), stop: async () => {} };
}

portConformance('card scanner over tcp://', (t) => scannerRig(t, 'tcp'));
portConformance('card scanner on a pty', (t) => scannerRig(t, 'pty'));
portConformance('card scanner over HID', async () => hidRig());
portConformance('printer on TCP 9100', (t) => printerRig(t, 'tcp'));
portConformance('printer as a device file', (t) => printerRig(t, 'device'));
portConformance('lamp panel', () => panelRig());
portConformance('camera (rpicam-still)', () => cameraRig());
portConformance('storage', async () => storageRig());
