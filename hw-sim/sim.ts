import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { deepMerge } from '../src/config/load.js';
import type { ConfigInput } from '../src/config/schema.js';
import { portInUse, startEmbeddedBroker, type EmbeddedBroker } from './broker.js';
import { startChip, type ChipWanted } from './chip/start-chip.js';
import type { SimChip } from './chip/sim-chip.js';
import { BhytGatewaySim } from './devices/bhyt-gateway.js';
import { VirtualCamera } from './devices/camera.js';
import { IdentityServiceSim } from './devices/identity-service.js';
import { VirtualPanel } from './devices/panel.js';
import { VirtualPrinter } from './devices/printer.js';
import { VirtualScanner, type ScannerLink } from './devices/scanner.js';
import { loadSimFaces, type SimFaces } from './faces.js';
import { SAMPLE_IDENTITIES } from './identities.js';

/** kioskd's default mqtt.topicPrefix: hw-sim's config leaves it as it is. */
export const TOPIC_PREFIX = 'kiosk';

export interface SimOptions {
  /** Broker port; default 1883, or a free port if 1883 is taken. */
  readonly brokerPort?: number;
  readonly deviceId?: string;
  /** Where the generated config goes; default: a fresh temp dir. */
  readonly dir?: string;
  /**
   * Load the face models in the daemon (a few seconds and ~200 MB): on for `npm start`, off by
   * default for tests that do not look at faces.
   */
  readonly faceid?: boolean;
  /** Extra config merged over the generated one (tests use it for short intervals). */
  readonly configOverrides?: Record<string, unknown>;
  /** How the daemon reaches the virtual scanner; default: a pty if socat is installed, else tcp. */
  readonly scanner?: ScannerLink;
  /**
   * The virtual CCCD chip behind a pcscd of hw-sim's own. Off by default: one pcscd per
   * machine, and tests start many sims at once. `try` (hw-sim start): a chip if pcscd can be
   * had, else none and `sim.chip.status().off` says why; `require`: fail without.
   */
  readonly chip?: ChipWanted;
  /** How long to wait for another process's pcscd (the machine's one) to be stopped; default 0. */
  readonly chipLockWaitMs?: number;
}

export interface Sim {
  readonly broker: EmbeddedBroker;
  readonly scanner: VirtualScanner;
  readonly printer: VirtualPrinter;
  readonly camera: VirtualCamera;
  readonly panel: VirtualPanel;
  readonly gateway: BhytGatewaySim;
  readonly identity: IdentityServiceSim;
  readonly faces: SimFaces;
  /** The contactless chip reader: cards placed and removed, faults (`chip.available` false without pcscd). */
  readonly chip: SimChip;
  /** The environment the daemon must run with (the fake rpicam-still on its PATH). */
  readonly daemonEnv: NodeJS.ProcessEnv;
  /** Points the camera at sample identity N's face (1-based), a stranger, or nobody. */
  showFace(who: number | 'stranger' | 'empty'): Promise<void>;
  /** The face last shown (what "camera ok" returns to). */
  readonly face: number | 'stranger' | 'empty';
  /** Where the virtual printer writes each ticket as PNG and text. */
  readonly ticketsDir: string;
  readonly deviceId: string;
  readonly config: ConfigInput;
  readonly configPath: string;
  readonly dir: string;
  stop(): Promise<void>;
}

/**
 * Starts the virtual kiosk on loopback — scanner, printer, camera (a fake rpicam-still),
 * lamps and buttons, the identity service with portraits, the BHYT gateway — and writes the
 * daemon config that points at it.
 */
export async function startSim(opts: SimOptions = {}): Promise<Sim> {
  const host = '127.0.0.1';
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'kioskd-hw-sim-'));
  // First: a chip that is required but cannot be had leaves nothing else running.
  let portraits: SimFaces | null = null;
  const chip = await startChip({
    want: opts.chip ?? 'off',
    dir,
    portraitOf: (id) => portraits?.portraitOf(id) ?? null,
    ...(opts.chipLockWaitMs !== undefined ? { lockWaitMs: opts.chipLockWaitMs } : {}),
  });
  const wanted = opts.brokerPort ?? 1883;
  const port = opts.brokerPort === undefined && (await portInUse(host, wanted)) ? 0 : wanted;
  const broker = await startEmbeddedBroker({ host, port });
  const deviceId = opts.deviceId ?? 'sim-kiosk-1';
  const scanner = await VirtualScanner.start(opts.scanner ?? (VirtualScanner.socatAvailable() ? 'pty' : 'tcp'), dir);
  const ticketsDir = join(dir, 'tickets');
  const printer = await VirtualPrinter.start({ outDir: ticketsDir });
  const faces = await loadSimFaces();
  portraits = faces;
  const camera = await VirtualCamera.start(dir);
  const panel = await VirtualPanel.start();
  const identity = await IdentityServiceSim.start(faces);
  const bhytPassword = 'hw-sim-mat-khau';
  const gateway = await BhytGatewaySim.start({ username: '79024_BV', password: bhytPassword });
  const bhytPasswordFile = join(dir, 'bhyt-password');
  writeFileSync(bhytPasswordFile, bhytPassword + '\n', { mode: 0o600 });
  let face: number | 'stranger' | 'empty' = 1;
  const showFace = async (who: number | 'stranger' | 'empty'): Promise<void> => {
    if (who === 'stranger' || who === 'empty') await camera.show(who === 'stranger' ? faces.stranger : faces.empty, who);
    else {
      const p = SAMPLE_IDENTITIES[who - 1];
      const frame = p ? faces.cameraOf(p.idNumber) : null;
      if (!p || !frame) throw new Error(`no sample identity ${who}; there are ${SAMPLE_IDENTITIES.length}`);
      await camera.show(frame, `sample-${who}`);
    }
    face = who;
  };
  await showFace(1);
  const generated: ConfigInput = {
    device: { id: deviceId },
    // aedes speaks MQTT 3.1.1 only; saying so saves the daemon a refused MQTT 5 attempt.
    mqtt: { url: broker.url, protocol: 4, reconnectBaseMs: 1000, healthIntervalSec: 10 },
    hal: {
      mode: 'sim',
      card: { driver: 'serial', path: scanner.daemonPath, baudRate: 9600, reconnectBaseMs: 250, reconnectMaxMs: 2000 },
      camera: { driver: 'rpicam', width: faces.width, height: faces.height },
      printer: { driver: 'tcp', host: printer.host, port: printer.tcpPort, statusPollMs: 1000, reconnectBaseMs: 250, reconnectMaxMs: 2000 },
      indicators: { driver: 'sim', url: panel.url },
    },
    kiosk: { stateDir: join(dir, 'state') },
    ticket: { hospital: 'BỆNH VIỆN MÔ PHỎNG (hw-sim)', subtitle: 'Ki-ốt tiếp đón tự động' },
    checkin: {
      departments: [
        { id: 'kham-benh', name: 'Khoa Khám bệnh', prefix: 'A', room: 'Phòng 105 – Tầng 1' },
        { id: 'nhi', name: 'Khoa Nhi', prefix: 'B', room: 'Phòng 210 – Tầng 2' },
      ],
    },
    identity: { url: identity.url },
    bhyt: {
      enabled: true,
      url: gateway.url,
      username: '79024_BV',
      passwordFile: bhytPasswordFile,
      officerName: 'Nguyễn Văn Kiốt',
      officerId: '079090000999',
      timeoutMs: 2000,
    },
    faceid: { enabled: opts.faceid ?? false },
    // Enabled only when hw-sim's own pcscd runs: then the chip's portrait is the face reference.
    chip: chip.config,
  };
  const config = deepMerge(generated, opts.configOverrides ?? {}) as ConfigInput;
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, '# Generated by hw-sim: the daemon config for the virtual kiosk.\n' + YAML.stringify(config));
  return {
    broker,
    scanner,
    printer,
    camera,
    panel,
    gateway,
    identity,
    faces,
    chip: chip.chip,
    daemonEnv: { ...process.env, ...camera.env },
    showFace,
    get face() {
      return face;
    },
    ticketsDir,
    deviceId,
    config,
    configPath,
    dir,
    async stop() {
      await scanner.stop();
      await printer.stop();
      await camera.stop();
      await panel.stop();
      await identity.stop();
      await gateway.stop();
      await chip.stop();
      await broker.close();
    },
  };
}
