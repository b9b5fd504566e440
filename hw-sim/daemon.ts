import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClockAdvance, ClockAdvanceReply } from '../src/lifecycle/sim-clock.js';
import { systemClock, type Clock } from '../src/util/clock.js';

export interface SpawnDaemonOptions {
  readonly stdio?: StdioOptions;
  readonly env?: NodeJS.ProcessEnv;
  readonly args?: string[];
  /** Starts kioskd on a clock hw-sim can move forward (`advanceDaemonClock`), this many ms ahead. */
  readonly simClockOffsetMs?: number;
}

/**
 * glibc's allocator settings kioskd runs with, here and in systemd/kioskd.service (a test keeps
 * the two equal). The camera stream passes ~18 MB/s of pipe chunks and 1.8 MB frames through
 * malloc: with a heap per thread and the threshold glibc raises after each freed frame, the
 * frames came from fragmented heaps that never shrank (~60 MiB of RSS over `bench checkin`).
 */
export const DAEMON_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };

let cachedEntry: { readonly nodeArgs: readonly string[]; readonly entry: string } | null = null;

/**
 * How to run kioskd: the build when hw-sim runs built; from source (hw-sim under tsx, as in the
 * tests) the build too when it is newer than every source file, else the source through tsx.
 * tsx compiles kioskd's ~100 modules at every start: on a loaded 2-core machine that took
 * seconds per daemon, and tests that spawn dozens of daemons timed out by chance.
 */
export function kioskdEntry(): { readonly nodeArgs: readonly string[]; readonly entry: string } {
  if (cachedEntry) return cachedEntry;
  const here = dirname(fileURLToPath(import.meta.url));
  const fromSource = import.meta.url.endsWith('.ts');
  if (!fromSource) return (cachedEntry = { nodeArgs: ['--enable-source-maps'], entry: join(here, '..', 'src', 'main.js') });
  const root = join(here, '..');
  const built = join(root, 'dist', 'src', 'main.js');
  const fresh = existsSync(built) && newestSource(join(root, 'src')) < statSync(built).mtimeMs;
  return (cachedEntry = fresh
    ? { nodeArgs: ['--enable-source-maps'], entry: built }
    : { nodeArgs: ['--import', 'tsx'], entry: join(root, 'src', 'main.ts') });
}

/** node's arguments that run kioskd (before kioskd's own): `[...kioskdArgv(), 'card', 'decode']`. */
export function kioskdArgv(): string[] {
  const { nodeArgs, entry } = kioskdEntry();
  return [...nodeArgs, entry];
}

/** The newest modification time of the files below `dir` (ms). */
function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

/**
 * Starts the real kioskd as its own process, the way systemd would (see `kioskdEntry` for which
 * build).
 */
export function spawnDaemon(configPath: string, opts: SpawnDaemonOptions = {}): ChildProcess {
  const { nodeArgs, entry } = kioskdEntry();
  if (!existsSync(entry)) throw new Error(`kioskd entry point not found at ${entry}; run npm run build`);
  const simClock = opts.simClockOffsetMs === undefined ? [] : ['--sim-clock', String(Math.round(opts.simClockOffsetMs))];
  const stdio = opts.stdio ?? 'inherit';
  // The clock is moved over node's IPC channel: a fourth descriptor beside the usual three.
  const withIpc: StdioOptions =
    simClock.length === 0 ? stdio : typeof stdio === 'string' ? [stdio, stdio, stdio, 'ipc'] : [...stdio.slice(0, 3), 'ipc'];
  return spawn(process.execPath, [...nodeArgs, entry, '--config', configPath, '--exit-with-parent', ...simClock, ...(opts.args ?? [])], {
    stdio: withIpc,
    env: { ...(opts.env ?? process.env), ...DAEMON_MALLOC_ENV },
    // Own process group: a Ctrl-C in the terminal reaches hw-sim only, which then stops the
    // daemon once, instead of the daemon seeing two signals and forcing its exit.
    detached: true,
  });
}

export interface DaemonExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export function daemonRunning(d: ChildProcess): boolean {
  return d.exitCode === null && d.signalCode === null;
}

/** Resolves when the process has exited (at once if it has). */
export function daemonExit(d: ChildProcess): Promise<DaemonExit> {
  if (!daemonRunning(d)) return Promise.resolve({ code: d.exitCode, signal: d.signalCode as NodeJS.Signals | null });
  return new Promise((resolve) => d.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * The one way hw-sim and the tests stop kioskd: SIGTERM (after SIGCONT: a daemon paused by the
 * scenario runner's broker restart would not act on it), then SIGKILL if it is still running
 * after `graceMs` (Infinity: never; 0: SIGKILL at once, sent before this returns).
 */
export async function stopDaemon(d: ChildProcess, o: { readonly graceMs: number; readonly clock?: Clock }): Promise<DaemonExit> {
  const exited = daemonExit(d);
  if (!daemonRunning(d)) return exited;
  if (o.graceMs <= 0) {
    d.kill('SIGKILL');
    return exited;
  }
  d.kill('SIGCONT');
  d.kill('SIGTERM');
  if (o.graceMs === Infinity) return exited;
  // A daemon stuck in its shutdown must not keep whoever waits on it forever.
  const clock = o.clock ?? systemClock();
  const timer = clock.setTimeout(() => d.kill('SIGKILL'), o.graceMs);
  try {
    return await exited;
  } finally {
    clock.clearTimeout(timer);
  }
}

/** How far to move: by `ms`, or to the next HH:MM on the hospital's clocks (kioskd's ticket.timeZone). */
export type ClockMove = { readonly ms: number } | { readonly toLocal: string };

/** Moves a sim-clocked kioskd's time forward; resolves with its new offset and wall time. */
export function advanceDaemonClock(daemon: ChildProcess, move: ClockMove, timeoutMs = 5000): Promise<{ offsetMs: number; wallClock: string }> {
  return new Promise((resolve, reject) => {
    if (!daemon.connected || !daemon.send)
      return reject(new Error("kioskd is not running on hw-sim's clock (not started by hw-sim, or it has exited)"));
    const id = Math.floor(Math.random() * 2 ** 31);
    const done = (err: Error | null, value?: { offsetMs: number; wallClock: string }): void => {
      clearTimeout(timer);
      daemon.off('message', onMessage);
      daemon.off('exit', onExit);
      if (err) reject(err);
      else resolve(value!);
    };
    const onMessage = (m: unknown): void => {
      const r = m as ClockAdvanceReply;
      if (typeof r !== 'object' || r === null || r.id !== id) return;
      if (r.type === 'kioskd.clock.advanced') done(null, { offsetMs: r.offsetMs, wallClock: r.wallClock });
      else if (r.type === 'kioskd.clock.error') done(new Error(`kioskd refused to move its clock: ${r.message}`));
    };
    const onExit = (): void => done(new Error('kioskd exited before its clock moved'));
    const timer = setTimeout(() => done(new Error(`kioskd did not answer the clock request within ${timeoutMs / 1000} s`)), timeoutMs);
    daemon.on('message', onMessage);
    daemon.once('exit', onExit);
    const request: ClockAdvance = { type: 'kioskd.clock.advance', id, ...move };
    daemon.send(request, (err) => err && done(err));
  });
}
