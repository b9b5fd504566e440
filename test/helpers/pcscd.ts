/**
 * A throwaway pcscd with its own reader.conf (chip.md §10): Debian's vpcd driver on free ports,
 * so hw-sim's virtual card can be read through the real PC/SC stack.
 *
 * pcscd's socket (/run/pcscd/pcscd.comm) is machine-wide: only one pcscd can run on a machine.
 * Test files run in parallel processes, so startPcscd takes a lock file in os.tmpdir() and waits
 * for it (any file may use this helper); within a file use `pcscdTest` (test.serial). A pcscd
 * this helper did not start (a system one) is never touched: the test fails and says so.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';
const RUN_DIR = '/run/pcscd';
const COMM = join(RUN_DIR, 'pcscd.comm');
const PID_FILE = join(RUN_DIR, 'pcscd.pid');
const LOCK = join(tmpdir(), 'kioskd-pcscd.lock');
const INSTALL = 'sudo apt-get install -y pcscd vsmartcard-vpcd libpcsclite-dev';

function findPcscd(): string | null {
  const which = spawnSync('sh', ['-c', 'command -v pcscd || ls /usr/sbin/pcscd'], { encoding: 'utf8' });
  return which.stdout.trim().split('\n')[0] || null;
}

/** What the PC/SC tests lack on this machine, or null. */
export function pcscdMissing(): string | null {
  if (process.platform !== 'linux') return 'pcscd and vpcd (Linux only)';
  if (!findPcscd()) return `pcscd (${INSTALL})`;
  if (!existsSync(VPCD_DRIVER)) return `the vpcd driver (${INSTALL})`;
  try {
    createRequire(import.meta.url)('smartcard');
  } catch (e) {
    return `the smartcard module (npm install; it builds with libpcsclite-dev): ${(e as Error).message.split('\n')[0]}`;
  }
  return null;
}

/**
 * A test that needs pcscd, run serially: missing pieces fail in CI and say what is missing;
 * elsewhere the test is skipped and its title says why (never a silent skip).
 */
export function pcscdTest(title: string, fn: (t: ExecutionContext) => Promise<void>): void {
  const missing = pcscdMissing();
  if (missing === null) test.serial(title, fn);
  else if (process.env['CI']) test.serial(title, (t) => t.fail(`CI needs ${missing}`));
  else test.skip(`${title} [skipped: needs ${missing}]`, fn);
}

export interface TestPcscd {
  /** FRIENDLYNAME in reader.conf: pcscd lists "<name> 00 00" and "<name> 00 01". */
  readonly name: string;
  /** vpcd's port for slot 0; slot 1 is port + 1. */
  readonly port: number;
  /** The PC/SC name of slot n and the port its card dials. */
  slot(n: 0 | 1): { readonly reader: string; readonly port: number };
  /** What pcscd printed (for a failing test's message). */
  output(): string;
  /** SIGKILL, as a crash; its stale socket is removed so that restart() works. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** SIGTERM, then the lock and the config directory go. */
  stop(): Promise<void>;
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

async function takeLock(timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(LOCK, String(process.pid), { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = readPid(LOCK);
    if (owner === process.pid) throw new Error('this process already runs a test pcscd: stop() it first (use pcscdTest, which is serial)');
    if (owner === null || !alive(owner)) rmSync(LOCK, { force: true });
    else if (Date.now() > until) throw new Error(`another test process (pid ${owner}) has held ${LOCK} for ${timeoutMs} ms`);
    else await sleep(100);
  }
}

const CONF_PREFIX = 'kioskd-pcscd-';

/** Whether `pid` is a pcscd this helper started (its config directory says so). */
function ours(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(tmpdir(), CONF_PREFIX));
  } catch {
    return false;
  }
}

/** pcscds of ours still running: with the lock held they belong to test processes that died. */
const orphans = (): number[] =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => pid !== process.pid && alive(pid) && ours(pid));

/**
 * Removes /run/pcscd's files when the pcscd they name is gone (pcscd refuses to start over
 * them). Called with the lock held: a pcscd of ours still running then belongs to a test
 * process that died (an ava timeout kills workers), and is ended; any other pcscd is left alone.
 */
async function clearStale(): Promise<void> {
  const pid = readPid(PID_FILE);
  if (pid !== null && alive(pid) && !ours(pid))
    throw new Error(`a pcscd this test did not start is running (pid ${pid}): stop it (systemctl stop pcscd.socket pcscd) and run again`);
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
    const p = await freePort();
    if (p < 65535 && !listening().has(p + 1)) return p;
  }
}

function readerConf(name: string, port: number): string {
  const hex = `0x${port.toString(16).toUpperCase()}`;
  return [`FRIENDLYNAME "${name}"`, `DEVICENAME   /dev/null:${hex}`, `LIBPATH      ${VPCD_DRIVER}`, `CHANNELID    ${hex}`, ''].join('\n');
}

/**
 * Starts pcscd with one vpcd reader (two slots) and waits until it serves. One reader only:
 * Debian's vpcd 3.3 keeps one card connection per slot number across all its readers, so a
 * second reader.conf entry would alias the first one's slots (observed).
 */
export async function startPcscd(opts: { name?: string } = {}): Promise<TestPcscd> {
  const bin = findPcscd();
  if (!bin) throw new Error(`pcscd is not installed: ${INSTALL}`);
  await takeLock(120_000);
  let proc: ChildProcess | null = null;
  let out = '';
  const dir = mkdtempSync(join(tmpdir(), CONF_PREFIX));
  const onExit = (): void => {
    proc?.kill('SIGKILL');
    rmSync(LOCK, { force: true });
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
      proc = p;
      const until = Date.now() + 10_000;
      for (;;) {
        if (p.exitCode !== null || p.signalCode !== null) throw new Error(`pcscd exited at start:\n${out}`);
        const ports = listening();
        if (ports.has(port) && ports.has(port + 1) && (await commAnswers())) return;
        if (Date.now() > until) throw new Error(`pcscd did not get ready within 10 s:\n${out}`);
        await sleep(50);
      }
    };
    const end = async (signal: NodeJS.Signals): Promise<void> => {
      const p = proc;
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
        if (readPid(LOCK) === process.pid) unlinkSync(LOCK);
      },
    };
  } catch (e) {
    onExit();
    process.removeListener('exit', onExit);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
