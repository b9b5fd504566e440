/**
 * A pcscd of hw-sim's own with its own reader.conf (chip.md §10): Debian's vpcd driver on free
 * ports, so the virtual CCCD is read through the real PC/SC stack by kioskd's real driver.
 *
 * pcscd's socket (/run/pcscd/pcscd.comm) is machine-wide: only one pcscd can run on a machine.
 * hw-sim and the tests (many at once) therefore take a lock file in os.tmpdir() first; whoever
 * cannot take it gets a PcscdUnavailable saying who holds it. A pcscd hw-sim did not start (a
 * system one) is never touched. Used by `hw-sim start`, the scenario runner and
 * test/helpers/pcscd.ts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenLoopback } from '../devices/listen.js';

export const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';
export const PCSCD_INSTALL = 'sudo apt-get install -y pcscd vsmartcard-vpcd libpcsclite-dev';
const RUN_DIR = '/run/pcscd';
const COMM = join(RUN_DIR, 'pcscd.comm');
const PID_FILE = join(RUN_DIR, 'pcscd.pid');
/** Shared with every hw-sim and test process on the machine: its content is the holder's pid. */
export const PCSCD_LOCK = join(tmpdir(), 'kioskd-pcscd.lock');
/** Config directories of the pcscds started here: how a pcscd of ours is told from a system one. */
const CONF_PREFIX = 'kioskd-pcscd-';

/**
 * Why no pcscd could be had: `missing` pcscd or the vpcd driver is not installed; `busy` another
 * process holds the lock; `foreign` a pcscd not started by hw-sim runs; `failed` pcscd would not start.
 */
export type PcscdProblem = 'missing' | 'busy' | 'foreign' | 'failed';

export class PcscdUnavailable extends Error {
  constructor(
    readonly problem: PcscdProblem,
    message: string,
  ) {
    super(message);
    this.name = 'PcscdUnavailable';
  }
}

export interface ManagedPcscd {
  /** FRIENDLYNAME in reader.conf: pcscd lists "<name> 00 00" and "<name> 00 01". */
  readonly name: string;
  /** vpcd's port for slot 0; slot 1 is port + 1. */
  readonly port: number;
  readonly pid: number | undefined;
  /** The PC/SC name of slot n and the port its card dials. */
  slot(n: 0 | 1): { readonly reader: string; readonly port: number };
  /** What pcscd printed (for a failure's message). */
  output(): string;
  /** SIGKILL, as a crash; its stale socket is removed so that restart() works. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** SIGTERM, then the lock and the config directory go. */
  stop(): Promise<void>;
}

function findPcscd(): string | null {
  const which = spawnSync('sh', ['-c', 'command -v pcscd || ls /usr/sbin/pcscd'], { encoding: 'utf8' });
  return which.stdout.trim().split('\n')[0] || null;
}

/** What of pcscd and vpcd this machine lacks, or null. */
export function pcscdMissing(): string | null {
  if (process.platform !== 'linux') return 'pcscd and vpcd (Linux only)';
  if (!findPcscd()) return `pcscd (${PCSCD_INSTALL})`;
  if (!existsSync(VPCD_DRIVER)) return `the vpcd driver (${PCSCD_INSTALL})`;
  return null;
}

/** A zombie (exited, not yet reaped: an orphan's parent may be slow to) counts as gone. */
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const readPid = (file: string): number | null => {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
};
/** "pid 123: node hw-sim/main.ts start", for a message saying who holds the lock. */
const whoIs = (pid: number): string => {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return `pid ${pid}${cmd ? `: ${cmd.length > 100 ? cmd.slice(0, 97) + '…' : cmd}` : ''}`;
  } catch {
    return `pid ${pid}`;
  }
};

async function takeLock(waitMs: number): Promise<void> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      writeFileSync(PCSCD_LOCK, String(process.pid), { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = readPid(PCSCD_LOCK);
    if (owner === process.pid) throw new PcscdUnavailable('busy', 'this process already runs a pcscd: stop it first');
    if (owner === null || !alive(owner)) rmSync(PCSCD_LOCK, { force: true });
    else if (Date.now() >= until)
      throw new PcscdUnavailable(
        'busy',
        `another process runs the machine's one pcscd (${whoIs(owner)}; lock ${PCSCD_LOCK}${waitMs > 0 ? `, waited ${Math.round(waitMs / 1000)} s` : ''})`,
      );
    else await sleep(100);
  }
}

/** Whether `pid` is a pcscd started here (its config directory says so). */
function ours(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(tmpdir(), CONF_PREFIX));
  } catch {
    return false;
  }
}

/** pcscds of ours still running: with the lock held they belong to processes that died. */
const orphans = (): number[] =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => pid !== process.pid && alive(pid) && ours(pid));

/**
 * Removes /run/pcscd's files when the pcscd they name is gone (pcscd refuses to start over
 * them). Called with the lock held: a pcscd of ours still running then belongs to a process
 * that died (an ava timeout kills workers, kill -9 of hw-sim), and is ended; any other pcscd
 * is left alone.
 */
async function clearStale(): Promise<void> {
  const pid = readPid(PID_FILE);
  if (pid !== null && alive(pid) && !ours(pid))
    throw new PcscdUnavailable('foreign', `a pcscd hw-sim did not start is running (pid ${pid}): stop it (systemctl stop pcscd.socket pcscd)`);
  for (const orphan of orphans()) {
    process.kill(orphan, 'SIGKILL');
    for (let i = 0; i < 100 && alive(orphan); i++) await sleep(20);
  }
  rmSync(COMM, { force: true });
  rmSync(PID_FILE, { force: true });
}

/** Ports in LISTEN state, from /proc/net/tcp (connecting to a vpcd port would insert a card). */
function listening(): Set<number> {
  const ports = new Set<number>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] === '0A' && f[1]) ports.add(parseInt(f[1].split(':')[1] ?? '', 16));
  }
  return ports;
}

const commAnswers = (): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(COMM);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/** A free port whose successor is free too (vpcd's second slot). */
async function freePortPair(): Promise<number> {
  for (;;) {
    const srv = createServer();
    const p = await listenLoopback(srv, 0);
    await new Promise<void>((r) => srv.close(() => r()));
    if (p < 65535 && !listening().has(p + 1)) return p;
  }
}

function readerConf(name: string, port: number): string {
  const hex = `0x${port.toString(16).toUpperCase()}`;
  return [`FRIENDLYNAME "${name}"`, `DEVICENAME   /dev/null:${hex}`, `LIBPATH      ${VPCD_DRIVER}`, `CHANNELID    ${hex}`, ''].join('\n');
}

export interface StartPcscdOptions {
  /** The reader's FRIENDLYNAME; default "Kiosk Test PCD". */
  readonly name?: string;
  /** How long to wait for another process's lock; 0 (default): refuse at once. */
  readonly lockWaitMs?: number;
}

/**
 * Starts pcscd with one vpcd reader (two slots) and waits until it serves. One reader only:
 * Debian's vpcd 3.3 keeps one card connection per slot number across all its readers, so a
 * second reader.conf entry would alias the first one's slots (observed).
 */
export async function startPcscd(opts: StartPcscdOptions = {}): Promise<ManagedPcscd> {
  const missing = pcscdMissing();
  const bin = findPcscd();
  if (missing !== null || bin === null) throw new PcscdUnavailable('missing', `not installed: ${missing ?? 'pcscd'}`);
  await takeLock(opts.lockWaitMs ?? 0);
  let proc: ChildProcess | null = null;
  let out = '';
  const dir = mkdtempSync(join(tmpdir(), CONF_PREFIX));
  // Also on a crash (process.exit): no pcscd and no lock outlive this process.
  const onExit = (): void => {
    proc?.kill('SIGKILL');
    if (readPid(PCSCD_LOCK) === process.pid) rmSync(PCSCD_LOCK, { force: true });
  };
  try {
    await clearStale();
    const name = opts.name ?? 'Kiosk Test PCD';
    const port = await freePortPair();
    writeFileSync(join(dir, 'reader.conf'), readerConf(name, port));
    const start = async (): Promise<void> => {
      const p = spawn(bin, ['--foreground', '-c', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      const keep = (d: Buffer): void => void (out = (out + d.toString()).slice(-20_000));
      p.stdout?.on('data', keep);
      p.stderr?.on('data', keep);
      p.on('error', (e) => keep(Buffer.from(`\n${e.message}\n`)));
      proc = p;
      const until = Date.now() + 10_000;
      for (;;) {
        if (p.exitCode !== null || p.signalCode !== null) throw new PcscdUnavailable('failed', `pcscd exited at start:\n${out.trim()}`);
        const ports = listening();
        if (ports.has(port) && ports.has(port + 1) && (await commAnswers())) return;
        if (Date.now() > until) throw new PcscdUnavailable('failed', `pcscd did not get ready within 10 s:\n${out.trim()}`);
        await sleep(50);
      }
    };
    const end = async (signal: NodeJS.Signals): Promise<void> => {
      const p = proc as ChildProcess | null;
      proc = null;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill(signal);
      const late = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(late);
      if (readPid(PID_FILE) === p.pid) await clearStale();
    };
    process.once('exit', onExit);
    await start();
    return {
      name,
      port,
      get pid() {
        return (proc as ChildProcess | null)?.pid;
      },
      slot: (n) => ({ reader: `${name} 00 0${n}`, port: port + n }),
      output: () => out,
      kill: () => end('SIGKILL'),
      restart: async () => {
        await end('SIGTERM');
        await start();
      },
      async stop() {
        await end('SIGTERM');
        process.removeListener('exit', onExit);
        rmSync(dir, { recursive: true, force: true });
        if (readPid(PCSCD_LOCK) === process.pid) unlinkSync(PCSCD_LOCK);
      },
    };
  } catch (e) {
    onExit();
    process.removeListener('exit', onExit);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
