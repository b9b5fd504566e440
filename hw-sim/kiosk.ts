import type { ChildProcess } from 'node:child_process';
import { kioskFilter, kioskTopics, parseKioskTopic, type KioskTopicNames } from '../src/mqtt/topics.js';
import { systemClock, type Clock } from '../src/util/clock.js';
import { advanceDaemonClock, daemonExit, spawnDaemon, stopDaemon, type ClockMove, type DaemonExit } from './daemon.js';
import { SAMPLE_IDENTITIES } from './identities.js';
import { startSim, TOPIC_PREFIX, type Sim, type SimOptions } from './sim.js';
import type { PrintedTicket } from './devices/printer.js';
import { until } from './wait.js';
import { Watcher, type Seen } from './watch.js';

/**
 * A virtual kiosk: hw-sim's devices and broker (startSim), and the real daemon as its own
 * process, as `npm start` runs them. The one assembly of the three: `hw-sim start`, the web
 * panel's tests, the scenario runner and the tests all start a kiosk here, and stop its daemon
 * through `stopDaemon` (hw-sim/daemon.ts).
 */
export interface Kiosk {
  readonly sim: Sim;
  /** The kioskd process now running (or that ran last); null when the kiosk runs none (`daemon: false`). */
  readonly daemon: ChildProcess | null;
  /** kioskd's output so far (with `daemonOutput: 'capture'`). */
  output(): string;
  /** Moves kioskd's time forward (it survives a restart); absent when the kiosk runs no kioskd. */
  readonly advanceClock?: (move: ClockMove) => Promise<{ offsetMs: number; wallClock: string }>;
  /** Starts kioskd again; `clockBackMs` sets its clock that much earlier than the last one's (not before real time). */
  restartDaemon(opts?: { clockBackMs?: number }): Promise<void>;
  /** Stops kioskd: SIGTERM, then SIGKILL after `graceMs` (default: the kiosk's own grace). */
  stopDaemon(graceMs?: number): Promise<DaemonExit | null>;
  /** Stops kioskd (as stopDaemon), then the devices and the broker. */
  stop(graceMs?: number): Promise<void>;
}

export interface KioskOptions extends SimOptions {
  /** Runs once the devices and the broker are up, before the daemon starts (the scenario runner starts its MQTT log here). */
  readonly beforeDaemon?: (sim: Sim) => Promise<void>;
  /** For the stop grace's timer. */
  readonly clock?: Clock;
  /** Run kioskd (default), or only the devices and the broker (`hw-sim start --no-daemon`). */
  readonly daemon?: boolean;
  /** kioskd's output: kept for `output()` (default), or on this terminal as it writes it (`hw-sim start`). */
  readonly daemonOutput?: 'capture' | 'inherit';
  /** How long `stop()` lets kioskd shut down on SIGTERM before it kills it. Default 15 s. */
  readonly stopGraceMs?: number;
}

/** A whole virtual kiosk for scenarios and tests: up once kioskd is idle, with its MQTT traffic recorded. */
export interface KioskSim extends Kiosk {
  readonly daemon: ChildProcess;
  readonly watch: Watcher;
  /** `kiosk/<device id>` */
  readonly base: string;
  /** The kiosk's topics, from the contract's builders. */
  readonly topics: KioskTopicNames;
  readonly advanceClock: NonNullable<Kiosk['advanceClock']>;
  /** Shows face N (or `face`) to the camera, scans sample identity N (1-based) and answers the consent question when asked. */
  checkIn(
    n: number,
    opts?: { consent?: 'yes' | 'no' | 'none'; face?: number | 'stranger' | 'empty'; timeoutMs?: number },
  ): Promise<{ end: Record<string, unknown>; ticket: PrintedTicket | null }>;
  waitEvent(kind: string, pred?: (data: Record<string, unknown>) => boolean, timeoutMs?: number, from?: number): Promise<Record<string, unknown>>;
  waitState(pred: (state: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export type KioskSimOptions = Omit<KioskOptions, 'daemon' | 'daemonOutput'>;

const STOP_GRACE_MS = 15_000;

/** Starts the devices, the broker and (unless told not to) kioskd; does not wait for kioskd to be ready. */
export async function startKiosk(opts: KioskOptions = {}): Promise<Kiosk> {
  const clock = opts.clock ?? systemClock();
  const grace = opts.stopGraceMs ?? STOP_GRACE_MS;
  const sim = await startSim(opts);
  try {
    await opts.beforeDaemon?.(sim);
  } catch (err) {
    await sim.stop();
    throw err;
  }
  const capture = (opts.daemonOutput ?? 'capture') === 'capture';
  let out = '';
  // How far kioskd's clock has been moved: a restarted daemon starts where the last one was.
  let clockOffsetMs = 0;
  const spawn = (): ChildProcess => {
    const d = spawnDaemon(sim.configPath, {
      ...(capture ? { stdio: ['ignore', 'pipe', 'pipe'], env: { ...sim.daemonEnv, KIOSKD__LOG__PRETTY: 'never' } } : { env: sim.daemonEnv }),
      simClockOffsetMs: clockOffsetMs,
    });
    d.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    d.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    return d;
  };
  let daemon: ChildProcess | null = null;
  try {
    if (opts.daemon !== false) daemon = spawn();
  } catch (err) {
    await sim.stop();
    throw err;
  }
  const stopIt = async (graceMs = grace): Promise<DaemonExit | null> => (daemon ? stopDaemon(daemon, { graceMs, clock }) : null);
  const running = (): ChildProcess => {
    if (!daemon) throw new Error('this virtual kiosk runs no kioskd (--no-daemon)');
    return daemon;
  };
  return {
    sim,
    get daemon() {
      return daemon;
    },
    output: () => out,
    ...(daemon
      ? {
          async advanceClock(move: ClockMove) {
            const r = await advanceDaemonClock(running(), move);
            clockOffsetMs = r.offsetMs;
            return r;
          },
        }
      : {}),
    async restartDaemon(o = {}) {
      running();
      if (o.clockBackMs !== undefined) {
        // kioskd's sim clock only runs at or ahead of real time: it can go back only as far as it went ahead.
        if (o.clockBackMs > clockOffsetMs)
          throw new Error(
            `kioskd's clock is only ${Math.round(clockOffsetMs / 1000)} s ahead: it cannot go back ${Math.round(o.clockBackMs / 1000)} s (advance it first)`,
          );
        clockOffsetMs -= o.clockBackMs;
      }
      daemon = spawn();
      await until(() => /drivers loaded/.test(out.split('kioskd starting').at(-1) ?? ''), 30_000, 'the restarted daemon');
    },
    stopDaemon: stopIt,
    async stop(graceMs) {
      await stopIt(graceMs);
      await sim.stop();
    },
  };
}

/** startKiosk with face models on by default, its MQTT traffic watched, and resolved once kioskd is idle. */
export async function startKioskSim(opts: KioskSimOptions = {}): Promise<KioskSim> {
  const made: { watch?: Watcher; topics?: KioskTopicNames } = {};
  const kiosk = await startKiosk({
    faceid: true,
    ...opts,
    beforeDaemon: async (sim) => {
      made.topics = kioskTopics(TOPIC_PREFIX, sim.deviceId);
      made.watch = await Watcher.start(sim.broker.url, kioskFilter(TOPIC_PREFIX, sim.deviceId));
      await opts.beforeDaemon?.(sim);
    },
  }).catch(async (err: unknown) => {
    await made.watch?.stop();
    throw err;
  });
  const watch = made.watch!;
  const topics = made.topics!;
  const payloadOf = (m: Seen): Record<string, unknown> => JSON.parse(m.payload) as Record<string, unknown>;
  const { sim } = kiosk;
  /** True for this kiosk's events of one of `kinds`. */
  const isEvent = (m: Seen, ...kinds: string[]): boolean => {
    const t = parseKioskTopic(TOPIC_PREFIX, m.topic);
    return t?.kind === 'event' && t.kiosk === sim.deviceId && kinds.includes(t.event);
  };
  const k: KioskSim = {
    sim,
    watch,
    base: topics.base,
    topics,
    get daemon() {
      return kiosk.daemon!;
    },
    output: () => kiosk.output(),
    advanceClock: kiosk.advanceClock!,
    restartDaemon: (o) => kiosk.restartDaemon(o),
    stopDaemon: (g) => kiosk.stopDaemon(g),
    async stop(graceMs) {
      await kiosk.stopDaemon(graceMs);
      await watch.stop();
      await sim.stop();
    },
    async waitEvent(kind, pred = () => true, timeoutMs = 20_000, from = 0) {
      const m = await watch.waitFor((m) => isEvent(m, kind) && pred((payloadOf(m)['data'] ?? {}) as Record<string, unknown>), timeoutMs, from);
      return payloadOf(m)['data'] as Record<string, unknown>;
    },
    async waitState(pred, timeoutMs = 20_000) {
      // The kiosk's current state is the last one published; only it, or a later one, counts.
      const isState = (m: Seen): boolean => m.topic === topics.retained('state');
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
        isEvent(m, 'checkin.completed', 'checkin.failed') &&
        (payloadOf(m)['data'] as Record<string, unknown>)['session_id'] === started['session_id'];
      const end = payloadOf(await watch.waitFor(endOf, o.timeoutMs ?? 30_000, from))['data'] as Record<string, unknown>;
      await sim.printer.settled();
      const ticket = sim.printer.tickets.length > ticketsBefore ? sim.printer.tickets.at(-1)! : null;
      return { end, ticket };
    },
  };
  // A daemon that exits while starting (a config error: 78) will never be idle: say so at once.
  const exited = daemonExit(k.daemon).then((e) => {
    throw new Error(`kioskd exited while starting (${e.signal ? `signal ${e.signal}` : `code ${e.code}`})`);
  });
  try {
    await Promise.race([k.waitState((s) => s['mode'] === 'idle', 45_000), exited]);
  } catch (err) {
    // Nothing may outlive a kiosk that did not come up; its last words say why.
    await k.stop().catch(() => {});
    const tail = kiosk.output().trimEnd().split('\n').slice(-15).join('\n');
    throw new Error(
      `the virtual kiosk did not become idle: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\nkioskd's last output:\n${tail}`,
    );
  }
  // The race's loser must not become an unhandled rejection when kioskd exits later.
  exited.catch(() => {});
  return k;
}
