import type { ChildProcess } from 'node:child_process';
import { systemClock, type Clock } from '../src/util/clock.js';
import { advanceDaemonClock, spawnDaemon, type ClockMove } from './daemon.js';
import { SAMPLE_IDENTITIES } from './identities.js';
import { startSim, type Sim, type SimOptions } from './sim.js';
import type { PrintedTicket } from './devices/printer.js';
import { until } from './wait.js';
import { Watcher, type Seen } from './watch.js';

/**
 * A whole virtual kiosk for scenarios (the runner, tests, the web panel): hw-sim's devices and broker, and the real daemon
 * (face models loaded) as its own process, as `npm start` runs them.
 */
export interface KioskSim {
  readonly sim: Sim;
  readonly watch: Watcher;
  daemon: ChildProcess;
  output(): string;
  readonly base: string;
  /** Shows face N (or `face`) to the camera, scans sample identity N (1-based) and answers the consent question when asked. */
  checkIn(
    n: number,
    opts?: { consent?: 'yes' | 'no' | 'none'; face?: number | 'stranger' | 'empty'; timeoutMs?: number },
  ): Promise<{ end: Record<string, unknown>; ticket: PrintedTicket | null }>;
  waitEvent(kind: string, pred?: (data: Record<string, unknown>) => boolean, timeoutMs?: number, from?: number): Promise<Record<string, unknown>>;
  waitState(pred: (state: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Starts kioskd again; `clockBackMs` sets its clock that much earlier than the last one's (not before real time). */
  restartDaemon(opts?: { clockBackMs?: number }): Promise<void>;
  /** Moves kioskd's time forward (it survives a restart); resolves with kioskd's new wall time. */
  advanceClock(move: ClockMove): Promise<{ offsetMs: number; wallClock: string }>;
  stop(): Promise<void>;
}

export interface KioskSimOptions extends SimOptions {
  readonly faceid?: boolean;
  /** Runs once the devices and the broker are up, before the daemon starts (the scenario runner starts its MQTT log here). */
  readonly beforeDaemon?: (sim: Sim) => Promise<void>;
  /** For `stop()`'s time limit. */
  readonly clock?: Clock;
}

/** How long `stop()` lets kioskd shut down on SIGTERM before it kills it. */
const STOP_GRACE_MS = 15_000;

export async function startKioskSim(opts: KioskSimOptions = {}): Promise<KioskSim> {
  const clock = opts.clock ?? systemClock();
  const sim = await startSim({ faceid: true, ...opts });
  const base = `kiosk/${sim.deviceId}`;
  const watch = await Watcher.start(sim.broker.url, `${base}/#`);
  try {
    await opts.beforeDaemon?.(sim);
  } catch (err) {
    await watch.stop();
    await sim.stop();
    throw err;
  }
  let out = '';
  // How far kioskd's clock has been moved: a restarted daemon starts where the last one was.
  let clockOffsetMs = 0;
  const spawn = (): ChildProcess => {
    const d = spawnDaemon(sim.configPath, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...sim.daemonEnv, KIOSKD__LOG__PRETTY: 'never' },
      simClockOffsetMs: clockOffsetMs,
    });
    d.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    d.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    return d;
  };
  const payloadOf = (m: Seen): Record<string, unknown> => JSON.parse(m.payload) as Record<string, unknown>;
  const k: KioskSim = {
    sim,
    watch,
    daemon: spawn(),
    output: () => out,
    base,
    async waitEvent(kind, pred = () => true, timeoutMs = 20_000, from = 0) {
      const m = await watch.waitFor(
        (m) => m.topic === `${base}/event/${kind}` && pred((payloadOf(m)['data'] ?? {}) as Record<string, unknown>),
        timeoutMs,
        from,
      );
      return payloadOf(m)['data'] as Record<string, unknown>;
    },
    async waitState(pred, timeoutMs = 20_000) {
      // The kiosk's current state is the last one published; only it, or a later one, counts.
      const isState = (m: Seen): boolean => m.topic === `${base}/state`;
      const last = watch.seen.findLastIndex(isState);
      return payloadOf(await watch.waitFor((m) => isState(m) && pred(payloadOf(m)), timeoutMs, Math.max(0, last)));
    },
    async checkIn(n, o = {}) {
      // A patient steps up only when the kiosk is ready for them.
      await k.waitState((st) => st['mode'] === 'idle', 20_000);
      const from = watch.mark();
      const ticketsBefore = sim.printer.tickets.length;
      await sim.showFace(o.face ?? n);
      await sim.scanner.scan(SAMPLE_IDENTITIES[n - 1]!);
      const started = await k.waitEvent('checkin.started', () => true, 10_000, from);
      if ((o.consent ?? 'yes') !== 'none') {
        await sim.panel.waitForLeds((l) => l.ready === 'blink', 10_000);
        if (!sim.panel.press(o.consent === 'no' ? 'consent-no' : 'consent-yes')) throw new Error('kioskd is not connected to the button panel');
      }
      const endOf = (m: Seen): boolean =>
        (m.topic === `${base}/event/checkin.completed` || m.topic === `${base}/event/checkin.failed`) &&
        (payloadOf(m)['data'] as Record<string, unknown>)['session_id'] === started['session_id'];
      const end = payloadOf(await watch.waitFor(endOf, o.timeoutMs ?? 30_000, from))['data'] as Record<string, unknown>;
      await sim.printer.settled();
      const ticket = sim.printer.tickets.length > ticketsBefore ? sim.printer.tickets.at(-1)! : null;
      return { end, ticket };
    },
    async advanceClock(move) {
      const r = await advanceDaemonClock(k.daemon, move);
      clockOffsetMs = r.offsetMs;
      return r;
    },
    async restartDaemon(opts = {}) {
      if (opts.clockBackMs !== undefined) {
        // kioskd's sim clock only runs at or ahead of real time: it can go back only as far as it went ahead.
        if (opts.clockBackMs > clockOffsetMs)
          throw new Error(
            `kioskd's clock is only ${Math.round(clockOffsetMs / 1000)} s ahead: it cannot go back ${Math.round(opts.clockBackMs / 1000)} s (advance it first)`,
          );
        clockOffsetMs -= opts.clockBackMs;
      }
      k.daemon = spawn();
      await until(() => /drivers loaded/.test(out.split('kioskd starting').at(-1) ?? ''), 30_000, 'the restarted daemon');
    },
    async stop() {
      const d = k.daemon;
      if (d.exitCode === null && d.signalCode === null) {
        const exited = new Promise((r) => d.once('exit', r));
        // A daemon paused (SIGSTOP, the scenario runner's broker restart) would not act on SIGTERM.
        d.kill('SIGCONT');
        d.kill('SIGTERM');
        // A daemon stuck in its shutdown must not keep the kiosk (and whoever waits on it) forever.
        const timer = clock.setTimeout(() => d.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clock.clearTimeout(timer);
      }
      await watch.stop();
      await sim.stop();
    },
  };
  // A daemon that exits while starting (a config error: 78) will never be idle: say so at once.
  const exited = new Promise<never>((_, reject) =>
    k.daemon.once('exit', (code, signal) => reject(new Error(`kioskd exited while starting (${signal ? `signal ${signal}` : `code ${code}`})`))),
  );
  try {
    await Promise.race([k.waitState((s) => s['mode'] === 'idle', 45_000), exited]);
  } catch (err) {
    // Nothing may outlive a kiosk that did not come up; its last words say why.
    await k.stop().catch(() => {});
    const tail = out.trimEnd().split('\n').slice(-15).join('\n');
    throw new Error(
      `the virtual kiosk did not become idle: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\nkioskd's last output:\n${tail}`,
    );
  }
  return k;
}
