import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Leds } from '../../src/hal/ports.js';
import type { Clock } from '../../src/util/clock.js';
import { configSchema } from '../../src/config/schema.js';
import { startKioskSim, type KioskSim } from '../kiosk.js';
import { MqttRecorder, logLine } from './mqtt-log.js';
import type { ScenarioFile } from './parse.js';

/** One virtual kiosk and what records it. */
export interface Bench {
  readonly kiosk: KioskSim;
  readonly mqtt: MqttRecorder;
  readonly leds: Array<{ at: number; leds: Leds }>;
  /** How much of the daemon's output is in daemon.log already. */
  logged: number;
  /** The daemon's card duplicate window: the same card within it counts once, even across scenarios. */
  readonly duplicateWindowMs: number;
  lastScanAt: number | null;
  /** Its state directory is a tmpfs hw-sim mounted (disk steps): unmounted when it stops. */
  readonly tmpfs: boolean;
}

/** Files with a disk step (each has a kiosk of its own): its state directory is a small tmpfs. */
export function usesDisk(files: readonly ScenarioFile[]): boolean {
  return files.some((f) => f.scenario.steps.some((s) => s.kind === 'disk'));
}

/** How long a run with chip scenarios waits for another process (a test, a hw-sim start) to free the machine's pcscd. */
const CHIP_LOCK_WAIT_MS = 180_000;

/** How big the tmpfs under a disk scenario's state directory is: the database and journal need well under 1 MB. */
const DISK_TMPFS = '8m';

export async function startBench(
  faceid: boolean,
  config: Record<string, unknown>,
  clock: Clock,
  mqttLog: ((line: string) => void) | undefined,
  opts: { readonly tmpfs?: boolean; readonly chip?: boolean } = {},
): Promise<Bench> {
  const tmpfs = opts.tmpfs === true;
  const made: { mqtt?: MqttRecorder } = {};
  const leds: Bench['leds'] = [];
  const kiosk = await startKioskSim({
    // A free port: runs side by side (CI, a technician's own hw-sim on 1883) must not collide.
    brokerPort: 0,
    faceid,
    clock,
    configOverrides: config,
    // The machine's one pcscd: a test elsewhere may hold it for a while.
    ...(opts.chip ? { chip: 'require' as const, chipLockWaitMs: CHIP_LOCK_WAIT_MS } : {}),
    // The log starts before the daemon does, so its first messages are in it too.
    beforeDaemon: async (sim) => {
      if (tmpfs) {
        // A real small filesystem under kioskd's state directory, so disk steps can fill it.
        const dir = join(sim.dir, 'state');
        mkdirSync(dir, { recursive: true });
        const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_TMPFS},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
        if (m.status !== 0)
          throw new Error(`could not mount a tmpfs for kioskd's state directory (disk steps need root): ${m.stderr.trim() || m.error?.message}`);
      }
      made.mqtt = await MqttRecorder.start(sim.broker.url, (r) => mqttLog?.(logLine(r)));
      sim.panel.onLeds((l) => leds.push({ at: clock.now(), leds: l }));
    },
  }).catch(async (err: unknown) => {
    await made.mqtt?.stop();
    throw err;
  });
  const parsed = configSchema.safeParse(kiosk.sim.config);
  const card = parsed.success ? (parsed.data.hal.card as { duplicateWindowSec?: number }) : {};
  return { kiosk, mqtt: made.mqtt!, leds, logged: 0, duplicateWindowMs: (card.duplicateWindowSec ?? 5) * 1000, lastScanAt: null, tmpfs };
}

export async function stopBench(b: Bench): Promise<void> {
  const dir = b.kiosk.sim.dir;
  await b.kiosk.stop();
  await b.mqtt.stop();
  if (b.tmpfs) spawnSync('umount', ['-l', join(dir, 'state')], { stdio: 'ignore' });
  // The state database holds check-ins of sample patients only, but nothing of a run should pile up in /tmp.
  rmSync(dir, { recursive: true, force: true });
}
