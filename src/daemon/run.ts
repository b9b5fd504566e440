/**
 * `kioskd run`: the daemon's process. Guards first (signals, crashes), then the clocks, a
 * crash-loop wait if the last runs failed, the wiring, and the feature list started in order;
 * a stop request stops it in reverse under one deadline.
 */
import type { LoadedConfig } from '../config/load.js';
import { bootId, noteStart } from '../lifecycle/restarts.js';
import { serveClockAdvances } from '../lifecycle/sim-clock.js';
import { createLogger } from '../log/logger.js';
import { createNotifier, watchdogPingMs, type Notifier } from '../platform/systemd-notify.js';
import { adjustableClock, systemClock, type Clock } from '../util/clock.js';
import { packageVersion } from '../version.js';
import { buildKiosk } from './build.js';
import { onStop, startAll, stopAll } from './feature.js';
import { installProcessGuards } from './process-guards.js';

export interface RunOptions {
  readonly exitWithParent: boolean;
  /** hw-sim only: time starts this far ahead and hw-sim may move it forward. */
  readonly simClockOffsetMs: number | null;
}

export async function runDaemon(loaded: LoadedConfig, opts: RunOptions): Promise<number> {
  const { config, deviceId } = loaded;
  const log = createLogger({ level: config.log.level, pretty: config.log.pretty });
  // `clock` is business time, which hw-sim may move forward ("advance time"), never on a kiosk.
  // Devices, the gateway and the process's own guards keep `realClock`, so a jump never times
  // out a call in flight or looks like a stall.
  const realClock = systemClock();
  const simTime = opts.simClockOffsetMs === null ? null : adjustableClock(realClock, Date.now, opts.simClockOffsetMs);
  const clock = simTime?.clock ?? realClock;
  const wallClock = simTime?.wallClock ?? (() => new Date());
  const stopClockService = simTime ? serveClockAdvances(process, simTime, config.ticket.timeZone, log.child({ ns: 'sim-clock' })) : () => {};
  const startedAt = wallClock().toISOString();
  const version = packageVersion();
  log.info({ version, config: loaded.source, device: deviceId, hal: config.hal.mode }, 'kioskd starting');
  const guards = installProcessGuards({ log, realClock, exitWithParent: opts.exitWithParent });
  let stopReason = '';
  void guards.stopRequested.then((r) => (stopReason = r));
  const notifier = await createNotifier(process.env, log.child({ ns: 'systemd' }));
  const thisStart = await crashLoopWait(config.kiosk.stateDir, notifier, realClock, guards.signal, log);
  const features = await buildKiosk(loaded, {
    log,
    clock,
    realClock,
    wallClock,
    notifier,
    watchdogPingMs: watchdogPingMs(process.env, process.pid),
    version,
    startedAt,
    thisStart,
    stopReason: () => stopReason,
    onCrash: guards.onCrash,
    uptimeSec: () => process.uptime(),
  });
  features.splice(1, 0, onStop('sim-clock', stopClockService));
  await startAll(features, guards.signal);
  await guards.stopRequested;
  // If stopping hangs (a device that never answers), exit anyway before systemd's
  // TimeoutStopSec turns it into a SIGKILL.
  const graceMs = config.kiosk.shutdownGraceMs + 5000;
  const deadline = realClock.setTimeout(() => {
    log.error({ afterMs: graceMs }, 'stopping took too long; exiting now');
    process.exit(1);
  }, graceMs);
  await stopAll(features, log);
  realClock.clearTimeout(deadline);
  log.info('stopped');
  return 0;
}

/** A crash loop waits longer each time (systemd 252 cannot): see lifecycle/restarts.ts. */
async function crashLoopWait(stateDir: string, notifier: Notifier, realClock: Clock, signal: AbortSignal, log: ReturnType<typeof createLogger>) {
  const thisStart = noteStart(stateDir, bootId(), Date.now());
  if (thisStart.delayMs <= 0 || signal.aborted) return thisStart;
  const waitS = Math.round(thisStart.delayMs / 1000);
  log.warn(
    { restarts_since_boot: thisStart.restartsSinceBoot, quick_restarts: thisStart.quickRestarts, wait_s: waitS },
    `restarted ${thisStart.quickRestarts} times in a row after failures: waiting ${waitS} s before starting (crash-loop backoff)`,
  );
  notifier.status(`crash-loop backoff: starting in ${waitS} s`);
  notifier.extendStart(thisStart.delayMs + 150_000);
  await new Promise<void>((resolve) => {
    const timer = realClock.setTimeout(resolve, thisStart.delayMs);
    signal.addEventListener('abort', () => (realClock.clearTimeout(timer), resolve()), { once: true });
  });
  return thisStart;
}
