#!/usr/bin/env node
/**
 * kioskd's command line: which command runs. The daemon itself is put together in
 * src/daemon/ (build.ts wires it, features.ts lists what it does).
 */
import { configJsonSchema } from './config/schema.js';
import { calibrateCommand, cardCommand } from './cli/calibrate-command.js';
import { checkConfig, run } from './cli/config-commands.js';
import { EX_USAGE, parseCommandLine, USAGE } from './cli/usage.js';
import { EX_SOFTWARE } from './daemon/process-guards.js';
import { packageVersion } from './version.js';

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
    return EX_USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help) return print(USAGE);
  if (values.version) return print(packageVersion());
  const [command = 'run', ...rest] = positionals;
  switch (command) {
    case 'config-schema':
      return print(JSON.stringify(configJsonSchema(), null, 2));
    case 'card':
      return cardCommand(rest, values);
    case 'calibrate':
      return calibrateCommand(values);
    case 'check-config':
      return checkConfig(rest[0] ?? values.config);
    case 'run':
      return run(values);
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
      return EX_USAGE;
  }
}

function print(text: string): number {
  process.stdout.write(text + '\n');
  return 0;
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
