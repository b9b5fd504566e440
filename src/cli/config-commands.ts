/** The commands that read a config file: check-config, run, and the loader they share. */
import { ConfigError, EX_CONFIG, loadConfigFile, type LoadedConfig } from '../config/load.js';
import { runDaemon } from '../daemon/run.js';
import { simClockProblem } from '../lifecycle/sim-clock.js';
import { redactUrl } from '../mqtt/link.js';
import { DEFAULT_CONFIG, EX_USAGE, USAGE, type CommandLine } from './usage.js';

/** The config, or null after every error was printed (the caller exits 78). */
export function loadOrExplain(file: string): LoadedConfig | null {
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

export function checkConfig(file: string | undefined): number {
  if (!file) {
    process.stderr.write('check-config needs a FILE\n' + USAGE + '\n');
    return EX_USAGE;
  }
  const loaded = loadOrExplain(file);
  if (!loaded) return EX_CONFIG;
  process.stdout.write(`${file}: configuration is valid (kiosk id "${loaded.deviceId}", broker ${redactUrl(loaded.config.mqtt.url)})\n`);
  return 0;
}

export function run(values: CommandLine): Promise<number> | number {
  const loaded = loadOrExplain(values.config ?? DEFAULT_CONFIG);
  if (!loaded) return EX_CONFIG;
  const simClock = values['sim-clock'];
  const problem = simClock === undefined ? null : simClockProblem(simClock, loaded.config.hal.mode, typeof process.send === 'function');
  if (problem) {
    process.stderr.write(problem + '\n');
    return EX_USAGE;
  }
  return runDaemon(loaded, {
    exitWithParent: values['exit-with-parent'] === true,
    simClockOffsetMs: simClock === undefined ? null : Number(simClock),
  });
}
