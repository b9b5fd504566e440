import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { spawnDaemon, stopDaemon, type DaemonExit } from '../../hw-sim/daemon.js';
import { deepMerge } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';

export interface DaemonProc {
  readonly proc: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForOutput(re: RegExp, ms?: number): Promise<string>;
}

export function writeConfig(config: ConfigInput): string {
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-test-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, YAML.stringify(config));
  return file;
}

/** Runs the real daemon (from source) as a child process and keeps its output for assertions. */
export function runDaemon(config: ConfigInput, env: NodeJS.ProcessEnv = {}): DaemonProc {
  // Face models only where a test asks for them (they take seconds and ~200 MB per daemon).
  // Each daemon its own state directory (queue database, journal, restart record), never the
  // machine's /var/lib/kioskd: one test's crash must not count as another's crash loop.
  const stateDir = mkdtempSync(join(tmpdir(), 'kioskd-state-'));
  const withDefaults = deepMerge({ faceid: { enabled: false }, kiosk: { stateDir } }, config as Record<string, unknown>) as ConfigInput;
  const proc = spawnDaemon(writeConfig(withDefaults), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  // 'close', not 'exit': the last lines a daemon writes before exiting may still be in the pipe at 'exit'.
  const exited = new Promise<DaemonExit>((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    output: () => out,
    exited,
    async waitForOutput(re, ms = 15_000) {
      const end = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > end || proc.exitCode !== null) throw new Error(`output did not match ${re} within ${ms} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return out;
    },
  };
}

/** SIGKILL at once, through hw-sim's one stop path for kioskd (the signal is sent before this returns). */
export function killQuietly(d: DaemonProc): void {
  void stopDaemon(d.proc, { graceMs: 0 });
}
