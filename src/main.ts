#!/usr/bin/env node
/**
 * kioskd's only composition root: every concrete object is built here and handed to the
 * modules that use it. Nothing else in src/ keeps module state.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, EX_CONFIG, loadConfigFile, type LoadedConfig } from './config/load.js';
import { configJsonSchema, configSchema } from './config/schema.js';
import { createBhytClient } from './bhyt/client.js';
import { reconcileOnce } from './checkin/reconcile.js';
import { createSessions } from './checkin/sessions.js';
import { bhytCodeOf, bhytState, createCheckinSteps } from './checkin/steps.js';
import { decodeScans } from './cli/card-decode.js';
import type { CheckinConfig } from './config/schema.js';
import { FaceEngine } from './faceid/engine.js';
import { faceEngineOptions } from './faceid/options.js';
import { maskId } from './hal/card/types.js';
import { frameLimit } from './hal/camera/rpicam.js';
import { createHal } from './hal/factory.js';
import { createPortraitClient } from './identity/portrait-client.js';
import { describePortState, PORT_IDS, type PortStates } from './hal/ports.js';
import { createNotifier, watchdogPingMs } from './hal/systemd-notify.js';
import { HealthMonitor } from './lifecycle/health.js';
import { bootId, noteCleanStop, noteStart } from './lifecycle/restarts.js';
import { serveClockAdvances, simClockProblem } from './lifecycle/sim-clock.js';
import { createLogger } from './log/logger.js';
import { serveCommands } from './mqtt/commands.js';
import { operatorCommands, PATIENT_ONLY_COMMANDS } from './mqtt/operator-commands.js';
import { MqttLink, redactUrl } from './mqtt/link.js';
import { createPublisher, dropReportEvent } from './mqtt/publisher.js';
import { kioskTopics, type FaceIdInfo, type InfoPayload } from './mqtt/topics.js';
import { createPrinting } from './printing/setup.js';
import { ledsFor } from './pipeline/leds.js';
import { priorityOf } from './pipeline/priority.js';
import { createKioskRuntime, type KioskStatus } from './pipeline/runtime.js';
import type { CheckinPolicy } from './pipeline/steps.js';
import { localDate } from './queue/business-day.js';
import { openQueueStore } from './queue/store.js';
import { adjustableClock, every, systemClock } from './util/clock.js';
import { rateGate } from './util/rate-gate.js';
import { packageVersion } from './version.js';

const EX_SOFTWARE = 70;
const DEFAULT_CONFIG = '/etc/kioskd/config.yaml';

const USAGE = `Usage:
  kioskd [--config FILE]        run the kiosk daemon (default config: ${DEFAULT_CONFIG})
         [--exit-with-parent]   stop cleanly when the launching process dies (hw-sim uses it)
         [--sim-clock OFFSET_MS] hw-sim only (hal.mode: sim): time starts OFFSET_MS ahead and
                                hw-sim may move it forward ("advance time")
  kioskd check-config FILE      validate a config file and exit (78 if invalid)
  kioskd config-schema          print the config's JSON Schema
  kioskd card decode [--reveal] parse scanner bytes from stdin (masked unless --reveal; 65 if rejected)
  kioskd calibrate --data DIR [--data DIR…] [--groups CSV] --far 1e-3 --out FILE
                  [--recognizer faceapi|MODEL.onnx|model.json] [--config FILE]
                                fit the face-match threshold of a recogniser (default: the configured
                                one) on labelled photos (DIR/<identity>/<n>.jpg)
  kioskd monitor --broker URL [--prefix P] [--once] [--json]
                                live table of every kiosk on a broker (JSON lines when not a TTY)
  kioskd selftest [--config FILE] [--skip CHECK…] [--timeout-sec N] [--expect-face] [--scan-sec N] [--json]
                                on the kiosk (service stopped): test ticket, camera + face detection,
                                lamps, scanner, broker, BHYT token, clock sync; exit 1 names failures
  kioskd --version | --help

Environment: KIOSKD__SECTION__KEY=value overrides a config key, e.g. KIOSKD__MQTT__URL=mqtt://broker:1883.`;

function parseCommandLine(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      'exit-with-parent': { type: 'boolean' },
      'sim-clock': { type: 'string' },
      reveal: { type: 'boolean' },
      data: { type: 'string', multiple: true },
      groups: { type: 'string' },
      far: { type: 'string' },
      out: { type: 'string' },
      recognizer: { type: 'string' },
    },
  });
}

async function main(argv: string[]): Promise<number> {
  // Tools with their own options; loaded only when asked for.
  if (argv[0] === 'monitor') return (await import('./cli/monitor.js')).monitorMain(argv.slice(1));
  if (argv[0] === 'selftest') return (await import('./cli/selftest.js')).selftestMain(argv.slice(1));
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    // A mistyped option is a usage error (64) with one line, not a crash with a stack.
    if (!String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')) throw err;
    process.stderr.write(`kioskd: ${(err as Error).message}\nkioskd --help lists the commands and options\n`);
    return 64;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (values.version) {
    process.stdout.write(packageVersion() + '\n');
    return 0;
  }
  const [command = 'run', ...rest] = positionals;
  switch (command) {
    case 'config-schema':
      process.stdout.write(JSON.stringify(configJsonSchema(), null, 2) + '\n');
      return 0;
    case 'card': {
      if (rest[0] !== 'decode') {
        process.stderr.write('usage: kioskd card decode [--reveal] < scanner-bytes\n');
        return 64;
      }
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      const now = new Date();
      const out = decodeScans(Buffer.concat(chunks), {
        reveal: values.reveal === true,
        today: { year: now.getFullYear(), month: now.getMonth() + 1, day: now.getDate() },
      });
      for (const l of out.stdout) process.stdout.write(l + '\n');
      for (const l of out.stderr) process.stderr.write(l + '\n');
      return out.exitCode;
    }
    case 'calibrate': {
      const far = Number(values.far ?? '1e-3');
      if (!values.data?.length || !values.out || !(far > 0 && far < 0.5)) {
        process.stderr.write(
          'usage: kioskd calibrate --data DIR [--data DIR…] [--groups CSV] --far 1e-3 --out FILE [--recognizer MODEL] [--config FILE]\n',
        );
        return 64;
      }
      // The recogniser: --recognizer, else the one the config names (when --config is given), else the bundled one.
      const loaded = values.config ? loadOrExplain(values.config) : null;
      if (values.config && !loaded) return EX_CONFIG;
      const faceid = loaded?.config.faceid ?? configSchema.shape.faceid.parse(undefined);
      const engine = faceEngineOptions(
        faceid,
        values.recognizer ? { recognizer: { ...faceEngineOptions(faceid).recognizer, model: resolve(values.recognizer) } } : {},
      );
      const { calibrate } = await import('./cli/calibrate.js');
      return calibrate(
        { data: values.data, groups: values.groups, far, out: values.out, engine },
        createLogger({ level: 'warn', pretty: 'auto' }),
        (l) => process.stdout.write(l + '\n'),
      );
    }
    case 'check-config': {
      const file = rest[0] ?? values.config;
      if (!file) {
        process.stderr.write('check-config needs a FILE\n' + USAGE + '\n');
        return 64;
      }
      const loaded = loadOrExplain(file);
      if (!loaded) return EX_CONFIG;
      process.stdout.write(`${file}: configuration is valid (kiosk id "${loaded.deviceId}", broker ${redactUrl(loaded.config.mqtt.url)})\n`);
      return 0;
    }
    case 'run': {
      const loaded = loadOrExplain(values.config ?? DEFAULT_CONFIG);
      if (!loaded) return EX_CONFIG;
      const simClock = values['sim-clock'];
      const problem = simClock === undefined ? null : simClockProblem(simClock, loaded.config.hal.mode, typeof process.send === 'function');
      if (problem) {
        process.stderr.write(problem + '\n');
        return 64;
      }
      return runDaemon(loaded, {
        exitWithParent: values['exit-with-parent'] === true,
        simClockOffsetMs: simClock === undefined ? null : Number(simClock),
      });
    }
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
      return 64;
  }
}

function loadOrExplain(file: string): LoadedConfig | null {
  try {
    return loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.format() + '\n');
      return null;
    }
    throw err;
  }
}

function clientIdFor(deviceId: string): string {
  // machine-id makes two kiosks that were given the same id still differ (MQTT brokers kick
  // duplicate client ids, and the two would then knock each other off forever).
  try {
    const machineId = readFileSync('/etc/machine-id', 'utf8').trim();
    if (machineId) return `kioskd-${deviceId}-${createHash('sha256').update(machineId).digest('hex').slice(0, 8)}`;
  } catch {
    /* containers may have none */
  }
  return `kioskd-${deviceId}`;
}

async function runDaemon(loaded: LoadedConfig, opts: { exitWithParent: boolean; simClockOffsetMs: number | null }): Promise<number> {
  const { config, deviceId, secrets } = loaded;
  const log = createLogger({ level: config.log.level, pretty: config.log.pretty });
  // Under hw-sim, time can be moved forward (a technician's "advance time"); never on a kiosk.
  // `clock` is the kiosk's business time: step limits, the queue day, retries, purge, health.
  // Devices, the BHYT gateway and the process's own guards (liveness, stop deadline) keep
  // `realClock`, so a jump never times out a call in flight or looks like a stall.
  const realClock = systemClock();
  const simTime = opts.simClockOffsetMs === null ? null : adjustableClock(realClock, Date.now, opts.simClockOffsetMs);
  const clock = simTime?.clock ?? realClock;
  const wallClock = simTime?.wallClock ?? (() => new Date());
  const stopClockService = simTime ? serveClockAdvances(process, simTime, config.ticket.timeZone, log.child({ ns: 'sim-clock' })) : () => {};
  const startedAt = wallClock().toISOString();
  const version = packageVersion();
  log.info({ version, config: loaded.source, device: deviceId, hal: config.hal.mode }, 'kioskd starting');
  // Installed first, so a failure during start-up also ends as exit 70 for systemd to restart.
  let alertCrash: (message: string) => void = () => {};
  const fatal = (err: unknown): void => {
    log.fatal({ err }, 'uncaught error; exiting so systemd restarts a clean process');
    try {
      alertCrash(err instanceof Error ? err.message : String(err));
    } catch {
      /* best effort */
    }
    // Give the alert a moment to leave, but never hang on a dead broker.
    setTimeout(() => process.exit(EX_SOFTWARE), 500).unref();
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  // Signals are honoured from the first moment: one arriving during start-up aborts what can
  // be aborted, and the daemon then stops the normal way (publishing "stopped").
  const boot = new AbortController();
  let stopReason: string | null = null;
  let beginStop: ((reason: string) => void) | null = null;
  const requestStop = (reason: string): void => {
    if (stopReason === null) {
      stopReason = reason;
      boot.abort();
      beginStop?.(reason);
      return;
    }
    log.warn({ signal: reason }, 'second signal: exiting now');
    process.exit(1);
  };
  process.on('SIGTERM', requestStop);
  process.on('SIGINT', requestStop);
  if (opts.exitWithParent) {
    // A supervisor killed with SIGKILL cannot stop us; being re-parented is the sign. Watched
    // from the first moment: a parent may die while the face models are still loading.
    const parent = process.ppid;
    const stopWatch = every(realClock, 1000, () => {
      if (process.ppid !== parent) {
        stopWatch();
        if (stopReason === null) requestStop('parent exited');
      }
    });
  }

  const notifier = await createNotifier(process.env, log.child({ ns: 'systemd' }));
  // A crash loop waits longer each time (systemd 252 cannot): see lifecycle/restarts.ts.
  const thisStart = noteStart(config.kiosk.stateDir, bootId(), Date.now());
  if (thisStart.delayMs > 0 && !boot.signal.aborted) {
    log.warn(
      { restarts_since_boot: thisStart.restartsSinceBoot, quick_restarts: thisStart.quickRestarts, wait_s: Math.round(thisStart.delayMs / 1000) },
      `restarted ${thisStart.quickRestarts} times in a row after failures: waiting ${Math.round(thisStart.delayMs / 1000)} s before starting (crash-loop backoff)`,
    );
    notifier.status(`crash-loop backoff: starting in ${Math.round(thisStart.delayMs / 1000)} s`);
    notifier.extendStart(thisStart.delayMs + 150_000);
    await new Promise<void>((resolve) => {
      const timer = realClock.setTimeout(resolve, thisStart.delayMs);
      boot.signal.addEventListener('abort', () => (realClock.clearTimeout(timer), resolve()), { once: true });
    });
  }
  // The hospital's calendar date (the board's clock may run in UTC): card dates and ages use it.
  const localToday = () => localDate(wallClock(), config.ticket.timeZone);
  const hal = await createHal(config.hal, {
    log: log.child({ ns: 'hal' }),
    clock: realClock,
    random: Math.random,
    today: localToday,
    storage: { dir: config.kiosk.stateDir, ...config.kiosk.storage },
  });
  const initialPorts = Object.fromEntries(PORT_IDS.map((id) => [id, hal.ports[id].state()])) as PortStates;
  // Queue numbers and the check-in audit (SQLite, WAL). A kiosk that cannot number tickets
  // must not take patients: failing here exits 70 and systemd retries.
  const store = openQueueStore({ path: join(config.kiosk.stateDir, 'kioskd.db'), timeZone: config.ticket.timeZone, ...config.checkin.numbering });
  const sessions = createSessions();
  /** A database error (full SD card, a technician's lock) is logged; it must not kill a kiosk mid-session. */
  const guarded = <T>(what: string, fn: () => T): T | null => {
    try {
      return fn();
    } catch (err) {
      log.error({ err: err instanceof Error ? err.message : String(err) }, what);
      return null;
    }
  };
  const bhyt = config.bhyt.enabled
    ? createBhytClient({
        url: config.bhyt.url,
        username: config.bhyt.username!,
        password: secrets.bhytPassword ?? '',
        officerName: config.bhyt.officerName!,
        officerId: config.bhyt.officerId!,
        timeoutMs: config.bhyt.timeoutMs,
        breaker: config.bhyt.breaker,
        clock: realClock,
        wallClock,
        log: log.child({ ns: 'bhyt' }),
      })
    : null;
  // Filled in once the face models have loaded; until then check-ins follow the no-portrait policy.
  let faces: FaceEngine | null = null;
  let printingRef: Awaited<ReturnType<typeof createPrinting>> | null = null;
  let alertKiosk: (code: string, message: string) => void = () => {};
  const steps = createCheckinSteps({
    sessions,
    camera: hal.ports.camera,
    faces: () => faces,
    portraits: config.identity.url
      ? createPortraitClient({
          url: config.identity.url,
          timeoutMs: config.identity.timeoutMs,
          token: secrets.identityToken,
          log: log.child({ ns: 'identity' }),
        })
      : null,
    bhyt,
    store,
    submit: (ticket, signal) => printingRef!.spooler.submit(ticket, signal),
    checkin: config.checkin,
    wallClock,
    alert: (code, message) => alertKiosk(code, message),
    // A full disk takes the kiosk out of service before the next patient, not at the next check.
    writeFailed: () => void hal.ports.storage.check(),
    log: log.child({ ns: 'checkin' }),
  });
  const runtime = createKioskRuntime({
    clock,
    ports: initialPorts,
    // A kiosk that cannot record a number takes no patient: storage is always required.
    requiredPorts: [...new Set([...config.kiosk.requiredPorts, 'storage' as const])],
    heartbeatMs: config.kiosk.heartbeatMs,
    heartbeatClock: realClock,
    resultHoldMs: config.kiosk.resultHoldMs,
    policy: checkinPolicy(config.checkin),
    steps,
  });
  const health = new HealthMonitor({
    clock: realClock,
    maxLoopLagMs: config.watchdog.maxLoopLagMs,
    heartbeatMs: config.kiosk.heartbeatMs,
    lastBeat: () => runtime.lastBeat(),
  });

  const topics = kioskTopics(config.mqtt.topicPrefix, deviceId);
  const base = config.mqtt.reconnectBaseMs;
  const tls = config.mqtt.tls ? { rejectUnauthorized: config.mqtt.tls.rejectUnauthorized, ...secrets.tls } : undefined;
  const link = new MqttLink({
    url: config.mqtt.url,
    clientId: config.mqtt.clientId ?? clientIdFor(deviceId),
    ...(config.mqtt.username !== undefined ? { username: config.mqtt.username } : {}),
    ...(secrets.mqttPassword !== undefined ? { password: secrets.mqttPassword } : {}),
    ...(tls ? { tls } : {}),
    protocol: config.mqtt.protocol,
    keepaliveSec: config.mqtt.keepaliveSec,
    reconnectPeriodMs: base + Math.floor(Math.random() * base),
    will: { topic: topics.retained('status'), payload: 'offline' },
    ringSize: config.mqtt.eventRingSize,
    subscriptions: [topics.commandFilter],
    // Room for the topic and headers; a payload between the two limits still gets a clear refusal.
    maxIncomingBytes: config.mqtt.commands.maxPayloadBytes * 4,
    dropReport: dropReportEvent(topics, config.mqtt.eventExpirySec, wallClock),
    clock,
    log: log.child({ ns: 'mqtt' }),
  });
  const publish = createPublisher(link, topics, config.mqtt.eventExpirySec, wallClock);
  alertCrash = (message) => publish.event('alert', { level: 'critical', code: 'daemon.crashed', message });
  alertKiosk = (code, message) => publish.event('alert', { level: 'error', code, message });
  const drivers = { ...hal.drivers, sd_notify: notifier.kind };

  const statusLine = (s: KioskStatus): string =>
    `${s.mode}; ${PORT_IDS.map((id) => `${id}=${describePortState(s.ports[id])}`).join(' ')}; mqtt=${link.connected() ? 'connected' : 'connecting'}`;
  let since = startedAt;
  const publishState = (s: KioskStatus): void =>
    publish.retained('state', { mode: s.mode, step: s.step, session_id: s.sessionId, ports: s.ports, leds: ledsFor(s), since });

  // Face models load at boot (a few seconds), in their worker, while the devices open.
  // A camera frame larger than the camera is configured for is refused before it is decoded.
  const cam = config.hal.camera;
  const engine = config.faceid.enabled
    ? new FaceEngine(faceEngineOptions(config.faceid, cam.driver === 'rpicam' ? { maxFrame: frameLimit(cam) } : {}), log.child({ ns: 'faceid' }))
    : null;
  let faceInfo: FaceIdInfo | null = null;
  const info = (): InfoPayload => ({
    schema: 1,
    version,
    hal_mode: hal.mode,
    drivers,
    mqtt_protocol: link.protocol(),
    started_at: startedAt,
    faceid: faceInfo,
    restarts_since_boot: thisStart.restartsSinceBoot,
  });
  publish.retained('status', 'online');
  publish.retained('info', info());
  let lastMode = runtime.status().mode;
  const checkinLog = log.child({ ns: 'checkin' });
  runtime.onSession((r) => {
    const s = r.session;
    if (r.type === 'started') {
      // The audit row exists from the first moment: a check-in killed before numbering is still recorded (completed by store.finish).
      guarded('the check-in could not be recorded', () => store.begin({ checkinId: s.id, card: s.card, startedAt: sessions.get(s.id).startedAt }));
      publish.event('checkin.started', { session_id: s.id, card: s.card, priority: sessions.get(s.id).priority !== null });
      return;
    }
    const data = sessions.get(s.id);
    const stepsMs = Object.fromEntries(Object.entries(r.stepsMs).map(([k, v]) => [k, Math.round(v)]));
    const bhytCode = bhytCodeOf(s.insurance);
    try {
      store.finish({
        checkinId: s.id,
        card: s.card,
        startedAt: data.startedAt,
        endedAt: wallClock(),
        outcome: s.outcome!,
        reason: s.reason,
        department: s.ticket === 'counter' ? 'counter' : s.department,
        ticket: s.ticket,
        faceVerified: s.faceVerified,
        faceScore: s.score,
        bhytCode,
        bhytState: bhytState(s.insurance),
        stepsMs,
        totalMs: r.totalMs,
      });
      // Only a patient who holds a ticket needs the lookup made later; the queue row is the
      // only personal data on disk and goes once the gateway has answered.
      if (s.number !== null && s.insurance?.kind === 'unchecked') {
        store.queueLookup(
          s.id,
          { cardId: data.identity.idNumber, fullName: data.identity.fullName, dateOfBirth: data.identity.dateOfBirth },
          wallClock(),
        );
      }
    } catch (err) {
      log.error({ err: err instanceof Error ? err.message : String(err), session: s.id }, 'the check-in could not be recorded');
    }
    const ticket = s.number === null && !s.printed ? null : s.ticket;
    publish.event(s.outcome === 'printed' ? 'checkin.completed' : 'checkin.failed', {
      session_id: s.id,
      outcome: s.outcome!,
      reason: s.reason,
      ticket,
      number: s.number,
      ticket_printed: s.printed,
      department: s.ticket === 'counter' ? 'counter' : s.department,
      face_verified: s.faceVerified,
      attempts: s.attempt,
      bhyt_code: bhytCode,
      bhyt: bhytState(s.insurance),
      steps_ms: stepsMs,
      total_ms: Math.round(r.totalMs),
    });
    // steps_ms as text: the logger redacts any key named "portrait", and one step is called that.
    checkinLog.info(
      {
        session: s.id,
        card: s.card,
        outcome: s.outcome,
        reason: s.reason,
        number: s.number,
        steps_ms: JSON.stringify(stepsMs),
        total_ms: Math.round(r.totalMs),
      },
      `check-in ${s.outcome}`,
    );
    sessions.drop(s.id);
  });
  runtime.subscribe((s) => {
    if (s.mode !== lastMode) {
      since = wallClock().toISOString();
      log.info(
        { from: lastMode, to: s.mode, ports: PORT_IDS.map((id) => `${id}=${describePortState(s.ports[id])}`).join(' ') },
        'kiosk mode changed',
      );
      lastMode = s.mode;
    }
    hal.ports.indicators.setLeds(ledsFor(s));
    publishState(s);
    notifier.status(statusLine(s));
  });
  hal.ports.indicators.onButton((button) => {
    const st = runtime.status();
    log.info({ button, mode: st.mode, step: st.step }, 'button pressed');
    if (button === 'help') publish.event('help.requested', { mode: st.mode, step: st.step, session_id: st.sessionId });
    else if (st.step === 'consent') runtime.consent(button === 'consent-yes');
  });
  link.onConnect(() => {
    // info carries the protocol actually negotiated (auto may have fallen back to 3.1.1).
    publish.retained('info', info());
    notifier.status(statusLine(runtime.status()));
  });
  for (const id of PORT_IDS) {
    hal.ports[id].onStateChange((state) => {
      runtime.portChanged(id, state);
      // Central monitoring is told when a device needs a person (paper out, cover open …).
      if (state.kind === 'faulted' || state.kind === 'degraded') {
        publish.event('alert', {
          level: state.kind === 'faulted' ? 'error' : 'warning',
          code: `${id}.${state.reason.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`,
          message: `${id} ${state.kind}: ${state.reason}`,
          port: id,
        });
      }
    });
  }
  const printing = await createPrinting(config, {
    printer: hal.ports.printer,
    clock,
    wallClock,
    log: log.child({ ns: 'tickets' }),
    event: (kind, data) => {
      publish.event(kind, data);
      // A ticket held for a reprint settles later: the audit follows it.
      guarded('the ticket state could not be recorded', () => {
        if (kind === 'ticket.reprinted') store.markPrinted(data.ticket_id);
        if (kind === 'ticket.voided') store.markVoid(data.ticket_id, (data as { reason: string }).reason);
      });
    },
  });
  printingRef = printing;
  // What a previous run left open (it crashed, was killed, lost power). A number still allocated
  // is unknown, not void: the process may have died after the printer took the ticket, so it
  // is never given again and staff are told it may be in a patient's hand. Never ticket.voided:
  // that says the number is not on paper. Check-ins never completed are recorded interrupted.
  const settled = store.settleAfterCrash('the kiosk stopped before the check-in ended');
  if (settled.unknown.length > 0) {
    const numbers = settled.unknown.map((v) => v.number);
    log.warn(
      { numbers, tickets: settled.unknown.map((v) => v.checkinId) },
      'queue numbers of the previous run may or may not have printed: recorded unknown',
    );
    for (const v of settled.unknown)
      printing.journal.record({
        ticketId: v.checkinId,
        number: v.number,
        department: v.department,
        event: 'unknown',
        reason: 'the kiosk restarted while it was printing',
      });
    publish.event('alert', {
      level: 'warning',
      code: 'ticket.fate-unknown',
      message: `the kiosk restarted while ${numbers.length === 1 ? 'a ticket was' : 'tickets were'} printing; it is not known whether ${numbers.slice(0, 20).join(', ')}${numbers.length > 20 ? ' …' : ''} came out: recorded unknown, never given again`,
      count: numbers.length,
    });
  }
  if (settled.interrupted > 0) log.warn({ checkins: settled.interrupted }, 'check-ins of the previous run never completed: recorded interrupted');
  // The clock against what numbering has already used: behind it, numbering carries on in the later day (never a number twice).
  const clockAtStart = store.clockCheck(wallClock());
  if (clockAtStart.steppedBack) {
    log.warn(
      { clock_day: clockAtStart.clockDay, numbering_day: clockAtStart.highDay, newest_checkin: clockAtStart.newest },
      'the clock is behind what numbering has already used: numbers carry on in the later day',
    );
    publish.event('alert', {
      level: 'error',
      code: 'clock.stepped-back',
      message: `the clock (${clockAtStart.clockDay}) is behind the queue numbering's day (${clockAtStart.highDay ?? 'today'}) or the newest check-in: numbers carry on without a reset until the clock catches up; check the time source`,
    });
  }
  /** The newest record the last refused purge measured from: alerted once per episode (the purge runs every 6 hours). */
  let purgeRefusedAt: string | null = null;
  const purge = (): void =>
    void guarded('old check-in records could not be deleted', () => {
      const p = store.purge(wallClock(), config.checkin.retentionDays, 72);
      if (p.checkins || p.lookups) log.info({ checkins: p.checkins, lookups: p.lookups }, 'old check-in records deleted (retention)');
      if (p.refused) {
        log.warn(
          { ahead_h: p.refused.aheadHours, newest_checkin: p.refused.newest },
          'the clock is implausibly far past the newest check-in: old records are not deleted',
        );
        if (purgeRefusedAt !== p.refused.newest.toISOString())
          publish.event('alert', {
            level: 'error',
            code: 'clock.implausible',
            message: `the clock is ${p.refused.aheadHours} h past the newest check-in (${p.refused.newest.toISOString()}): the audit purge is held back; check the time source (a kiosk off that long needs nothing: the purge resumes after the next check-in)`,
          });
      }
      purgeRefusedAt = p.refused ? p.refused.newest.toISOString() : null;
    });
  purge();
  const printLifetime = new AbortController();
  // One pass at a time, whether the timer or a technician's command started it.
  let reconciling: Promise<{ done: number; left: number }> | null = null;
  const reconcile = (client: NonNullable<typeof bhyt>): Promise<{ done: number; left: number }> =>
    (reconciling ??= reconcileOnce(reconcileDeps(client), printLifetime.signal).finally(() => (reconciling = null)));
  const reconcileDeps = (client: NonNullable<typeof bhyt>) => ({
    store,
    bhyt: client,
    log: log.child({ ns: 'bhyt' }),
    reconciled: (r: { sessionId: string; number: string | null; code: string; route: 'proceed' | 'counter'; reason: string }) =>
      publish.event('checkin.reconciled', { session_id: r.sessionId, number: r.number, bhyt_code: r.code, route: r.route, reason: r.reason }),
  });
  hal.ports.printer.onStateChange(() => printing.spooler.printerChanged(printLifetime.signal));
  const cardLog = log.child({ ns: 'card' });
  // A scanner streaming garbage makes thousands of rejections a second: every one is handled,
  // at most 20 a minute are logged and published, the rest are counted once a minute.
  const rejections = rateGate(clock, 20, 60_000, (n) => {
    cardLog.warn({ suppressed: n }, `${n} more scans rejected in the last minute (not logged one by one)`);
    publish.event('alert', {
      level: 'warning',
      code: 'card.rejected_flood',
      message: `${n} more scans were rejected in the last minute than were reported one by one: is something wrong with the scanner?`,
      port: 'card',
      count: n,
    });
  });
  hal.ports.card.onScan((scan) => {
    if (scan.kind === 'rejected') {
      if (!rejections.allow()) return;
      const { rejection: r, summary } = scan;
      cardLog.info(
        { code: r.code, bytes: summary.bytes, fields: summary.fields, card: summary.idLast4 ? `********${summary.idLast4}` : null },
        `scan rejected: ${r.message}`,
      );
      publish.event('card.rejected', { code: r.code, message: r.message, bytes: summary.bytes, fields: summary.fields, card_last4: summary.idLast4 });
      return;
    }
    // The identity stays in memory, in the session store, for this check-in; only the masked number leaves.
    const card = maskId(scan.identity.idNumber);
    const mode = runtime.status().mode;
    const sessionId = randomUUID();
    sessions.open(sessionId, scan.identity, wallClock(), priorityOf(scan.identity.dateOfBirth, localToday()));
    const started = runtime.cardRead(sessionId, card);
    if (!started) sessions.drop(sessionId);
    cardLog.info(
      { card, form: scan.identity.form, repairs: scan.identity.repairs, session: started ? sessionId : null },
      started ? 'card read; session started' : `card read while ${mode}; ignored`,
    );
    publish.event('card.read', { card, form: scan.identity.form, repairs: scan.identity.repairs, session_id: started ? sessionId : null, mode });
    return started;
  });

  // Operators' commands only: the patient's answers come from the kiosk's own buttons.
  const stopCommands = serveCommands({
    link,
    topics,
    handlers: operatorCommands({
      runtime,
      spooler: printing.spooler,
      lifetime: printLifetime.signal,
      clock: realClock,
      wallClock,
      uptimeSec: () => process.uptime(),
      reconcile: bhyt ? () => reconcile(bhyt) : null,
      testPrintEverySec: config.mqtt.commands.testPrintEverySec,
    }),
    refusals: PATIENT_ONLY_COMMANDS,
    limits: config.mqtt.commands,
    clock: realClock,
    log: log.child({ ns: 'cmd' }),
    overflow: (counts) =>
      publish.event('alert', {
        level: 'warning',
        code: 'mqtt.commands_limited',
        message: `commands over the rate limit were dropped: ${Object.entries(counts)
          .map(([k, n]) => `${k} ×${n}`)
          .join(', ')}`,
        count: Object.values(counts).reduce((a, b) => a + b, 0),
      }),
  });

  runtime.start();
  publishState(runtime.status());
  link.start();
  const loadingFaces = engine
    ?.start()
    .then((f) => {
      faces = engine;
      faceInfo = {
        backend: f.backend,
        recognizer: f.recognizer.name,
        model_sha256: f.recognizer.sha256,
        threshold: f.calibration!.threshold,
        target_far: f.calibration!.target_far,
        load_ms: Math.round(f.loadMs),
        warmup_ms: Math.round(f.warmupMs),
      };
      publish.retained('info', info());
    })
    .catch((err: unknown) => {
      // The kiosk still runs (check-ins without a face match follow the no-portrait policy); staff are told.
      const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
      log.error({ err: message }, 'face models did not load: face verification is unavailable');
      publish.event('alert', { level: 'error', code: 'faceid.unavailable', message: `face verification unavailable: ${message}` });
    });
  await hal.open(boot.signal).catch((err: unknown) => {
    if (!boot.signal.aborted) throw err;
  });
  await Promise.race([loadingFaces, new Promise((r) => boot.signal.addEventListener('abort', r, { once: true }))]);
  runtime.bootDone();

  log.info(
    `drivers loaded: ${Object.entries(drivers)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
  // READY after local init: the broker and the devices are reported on, not waited for.
  notifier.ready(statusLine(runtime.status()));

  const publishHealth = (): void => {
    // One instant for the count and its time: a monitor adds only check-ins after `ts` to the count.
    const at = wallClock();
    publish.retained('health', {
      ...health.report(),
      tensors: faces ? faces.lastTensors : null,
      ...(engine ? { faceid_restarts: engine.restarts } : {}),
      checkins_today: guarded('the check-in count could not be read', () => store.countToday(at)) ?? 0,
      mqtt: link.stats(),
      ts: at.toISOString(),
    });
  };
  publishHealth();
  const stopHealth = every(clock, config.mqtt.healthIntervalSec * 1000, publishHealth);
  const stopPurge = every(clock, 6 * 3600_000, purge);
  const stopReconcile = bhyt
    ? every(clock, config.bhyt.reconcileEverySec * 1000, () => {
        void reconcile(bhyt).catch((err: unknown) =>
          log.warn({ err: err instanceof Error ? err.message : String(err) }, 'BHYT reconcile pass failed'),
        );
      })
    : () => {};
  const pingMs = watchdogPingMs(process.env, process.pid);
  let livenessFailure: string | null = null;
  const stopWatchdog =
    pingMs > 0
      ? every(clock, pingMs, () => {
          const l = health.liveness();
          if (l.ok) {
            if (livenessFailure) log.info('liveness restored; watchdog pings resumed');
            livenessFailure = null;
            notifier.watchdog();
          } else if (l.reason !== livenessFailure) {
            livenessFailure = l.reason;
            log.error({ reason: l.reason }, 'liveness check failed; withholding watchdog pings');
          }
        })
      : () => {};

  publish.event('lifecycle', { phase: 'started' });
  // Any start after a run that did not stop cleanly, however long that run lasted, is told.
  if (thisStart.afterFailure) {
    const loop = thisStart.quickRestarts > 0 ? `${thisStart.quickRestarts} in a row; ` : '';
    publish.event('alert', {
      level: thisStart.quickRestarts >= 3 ? 'error' : 'warning',
      code: 'daemon.restarted',
      message: `kioskd restarted after a failure (${loop}${thisStart.restartsSinceBoot} restarts since boot)`,
      count: thisStart.restartsSinceBoot,
    });
  }

  return new Promise<number>((resolve) => {
    const stop = async (reason: string): Promise<void> => {
      // If stopping hangs (a device that never answers), exit anyway before systemd's
      // TimeoutStopSec turns it into a SIGKILL.
      const deadline = realClock.setTimeout(() => {
        log.error({ afterMs: config.kiosk.shutdownGraceMs + 5000 }, 'stopping took too long; exiting now');
        process.exit(1);
      }, config.kiosk.shutdownGraceMs + 5000);
      log.info({ signal: reason }, 'stopping: no new patients; a second signal forces exit');
      notifier.stopping(`stopping (${reason})`);
      publish.event('lifecycle', { phase: 'stopping', reason });
      runtime.shutdown();
      stopWatchdog();
      stopHealth();
      stopPurge();
      stopReconcile();
      stopClockService();
      stopCommands();
      rejections.stop();
      // A ticket on its way to the printer may finish (its number must not be torn off).
      await printing.spooler.settle(config.kiosk.shutdownGraceMs);
      printing.spooler.close();
      printLifetime.abort(new Error('stopping'));
      await printing.encoder.close();
      await link.stop({ topic: topics.retained('status'), payload: 'stopped' }, 3000);
      await hal.close();
      await engine?.stop();
      await printing.journal.flush();
      runtime.stop();
      store.close();
      health.close();
      realClock.clearTimeout(deadline);
      noteCleanStop(config.kiosk.stateDir);
      log.info('stopped');
      resolve(0);
    };
    beginStop = (reason) => void stop(reason);
    if (stopReason !== null) void stop(stopReason); // a signal came during start-up
  });
}

function checkinPolicy(c: CheckinConfig): CheckinPolicy {
  return {
    consentTimeoutMs: c.consentTimeoutSec * 1000,
    verifyAttempts: c.verifyAttempts,
    retryPauseMs: c.retryPauseMs,
    noPortrait: c.noPortrait,
    departments: c.departments.map((d) => d.id),
    defaultDepartment: c.departments[0]!.id,
    departmentChoiceMs: c.departmentChoiceSec * 1000,
    timeouts: c.timeouts,
  };
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Open handles (a dead broker's reconnect timer) must not keep a finished daemon alive.
    setTimeout(() => process.exit(code), 50).unref();
  },
  (err: unknown) => {
    process.stderr.write(`kioskd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(EX_SOFTWARE);
  },
);
