/**
 * `kioskd selftest`: on the kiosk, with the service stopped (the checks take the devices the
 * daemon would hold), tests each part a check-in needs and says in one line each what works
 * and what does not. Exit 0 when nothing failed, 1 when something did, 78 for a bad config.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ConfigError, EX_CONFIG, loadConfigFile, type LoadedConfig } from '../config/load.js';
import { faceEngineFor, halFor } from '../daemon/wiring.js';
import { runProgram } from '../platform/run-program.js';
import { createLogger, type Logger } from '../log/logger.js';
import { bhytCheck } from '../selftest/bhyt.js';
import { brokerCheck } from '../selftest/broker.js';
import { cameraCheck } from '../selftest/camera.js';
import { CHECK_NAMES, skip, type Check, type CheckName } from '../selftest/check.js';
import { builtAt, clockCheck } from '../selftest/clock.js';
import { lampsCheck } from '../selftest/lamps.js';
import { printerCheck } from '../selftest/printer.js';
import { formatLine, formatSummary, jsonReport, tally } from '../selftest/report.js';
import { runChecks } from '../selftest/runner.js';
import { scannerCheck } from '../selftest/scanner.js';
import { systemClock } from '../util/clock.js';
import { packageVersion } from '../version.js';

const DEFAULT_CONFIG = '/etc/kioskd/config.yaml';
const EX_USAGE = 64;
const DEFAULT_TIMEOUT_SEC = 15;
const LAMP_MS = 1000;

const USAGE = `Usage: kioskd selftest [options]
  Run on the kiosk with the service stopped (systemctl stop kioskd): the checks use the devices.
  Checks, in order: ${CHECK_NAMES.join(', ')}.
    printer  prints a test ticket; fails if the printer is unreachable, out of paper, cover open …
    camera   captures one frame and runs face detection on it ("no face in view" is only a note)
    lamps    blinks the ready, busy and error lamps for 1 s each (watch them), then turns them off
    scanner  the card scanner is present and opens
    broker   connects to the MQTT broker with the kiosk's credentials and subscribes to its status
    bhyt     takes a token from the BHYT gateway (skipped when bhyt.enabled is false)
    clock    the clock is synchronised (NTP) and not earlier than this release
Options:
  --config FILE       the kiosk's config (default ${DEFAULT_CONFIG}); KIOSKD__… overrides apply
  --skip CHECK        leave a check out (repeatable)
  --timeout-sec N     time limit of each check (default ${DEFAULT_TIMEOUT_SEC}; printing and loading the face
                      models get their own time on top)
  --expect-face       someone stands in front of the camera: no face detected is a failure
  --scan-sec N        also wait up to N s for a card to be scanned, and check that it reads
  --json              one JSON report on stdout instead of lines
  --verbose           device logs on stderr (JSON lines)
Exit status: 0 all passed (skipped checks included), 1 a check failed, 78 bad config, 64 bad usage,
  130 interrupted.`;

interface Options {
  readonly configFile: string;
  readonly skip: ReadonlySet<CheckName>;
  readonly timeoutMs: number;
  readonly expectFace: boolean;
  readonly scanMs: number;
  readonly json: boolean;
  readonly verbose: boolean;
}

export async function selftestMain(argv: string[]): Promise<number> {
  let opts: Options | 'help';
  try {
    opts = parseOptions(argv);
  } catch (err) {
    process.stderr.write(`kioskd selftest: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return EX_USAGE;
  }
  if (opts === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  let loaded: LoadedConfig;
  try {
    loaded = loadConfigFile(opts.configFile);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(err.format() + '\n');
    return EX_CONFIG;
  }
  const log = opts.verbose
    ? createLogger({ level: 'debug', pretty: 'never', destination: pino.destination({ fd: 2, sync: true }) })
    : createLogger({ level: 'silent', pretty: 'never' });
  const out = (line: string): void => void (opts.json || process.stdout.write(line + '\n'));
  const version = packageVersion();
  out(`kioskd selftest ${version}: kiosk ${loaded.deviceId}, config ${loaded.source}`);

  const interrupt = new AbortController();
  const onSignal = (): void => interrupt.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const env = await buildChecks(loaded, opts, log);
  try {
    const results = await runChecks(env.checks, { clock: systemClock(), signal: interrupt.signal, onResult: (r) => out(formatLine(r)) });
    for (const line of formatSummary(results)) out(line);
    if (opts.json) process.stdout.write(jsonReport(results, { kiosk: loaded.deviceId, version, at: new Date() }) + '\n');
    if (interrupt.signal.aborted) return 130; // Ctrl-C: the shell's convention, not a device verdict
    return tally(results).failed > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await env.close();
  }
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      skip: { type: 'string', multiple: true },
      'timeout-sec': { type: 'string' },
      'expect-face': { type: 'boolean' },
      'scan-sec': { type: 'string' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const skipped = new Set<CheckName>();
  for (const s of (values.skip ?? []).flatMap((v) => v.split(','))) {
    const name = s.trim();
    if (!(CHECK_NAMES as readonly string[]).includes(name)) throw new Error(`--skip ${name}: no such check (${CHECK_NAMES.join(', ')})`);
    skipped.add(name as CheckName);
  }
  const seconds = (flag: string, v: string | undefined, dflt: number, min: number): number => {
    if (v === undefined) return dflt * 1000;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > 3600) throw new Error(`--${flag} wants a number of seconds from ${min} to 3600, not "${v}"`);
    return Math.round(n * 1000);
  };
  return {
    configFile: values.config ?? DEFAULT_CONFIG,
    skip: skipped,
    timeoutMs: seconds('timeout-sec', values['timeout-sec'], DEFAULT_TIMEOUT_SEC, 1),
    expectFace: values['expect-face'] === true,
    scanMs: seconds('scan-sec', values['scan-sec'], 0, 1),
    json: values.json === true,
    verbose: values.verbose === true,
  };
}

/** The same devices, engine and clients the daemon builds from this config; closed at the end. */
async function buildChecks(loaded: LoadedConfig, o: Options, log: Logger): Promise<{ checks: Check[]; close(): Promise<void> }> {
  const { config, deviceId, secrets } = loaded;
  const clock = systemClock();
  const wallClock = (): Date => new Date();
  const limitMs = o.timeoutMs;
  const hal = await halFor(config, { log, clock, wallClock });
  // The models load (seconds) while the printer check runs.
  const wantFaces = !o.skip.has('camera') && config.faceid.enabled && config.hal.camera.driver !== 'none';
  const engine = wantFaces ? faceEngineFor(config, log, clock) : null;
  const ready = engine?.start();
  ready?.catch(() => {}); // reported by the camera check
  const build: Record<CheckName, () => Check> = {
    printer: () => printerCheck({ config, deviceId, printer: hal.ports.printer, wallClock, log: log.child({ ns: 'printer' }), limitMs }),
    camera: () =>
      cameraCheck({ config, camera: hal.ports.camera, faces: engine && ready ? { engine, ready } : null, expectFace: o.expectFace, limitMs }),
    lamps: () => lampsCheck({ config, indicators: hal.ports.indicators, clock, eachMs: LAMP_MS, limitMs }),
    scanner: () => scannerCheck({ config, card: hal.ports.card, clock, scanMs: o.scanMs, prompt: (l) => process.stderr.write(l + '\n'), limitMs }),
    broker: () => brokerCheck({ config, deviceId, secrets, clock, limitMs }),
    bhyt: () => bhytCheck({ config, secrets, clock, wallClock, log: log.child({ ns: 'bhyt' }), limitMs }),
    clock: () => clockCheck({ run: runProgram, wallClock, builtAt: builtAt(), limitMs }),
  };
  const checks = CHECK_NAMES.map((name): Check => (o.skip.has(name) ? { name, limitMs, run: async () => skip('--skip') } : build[name]()));
  return {
    checks,
    async close() {
      await hal.close();
      await engine?.stop();
    },
  };
}
