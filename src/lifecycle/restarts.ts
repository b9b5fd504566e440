import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Crash loops. systemd restarts kioskd after a failure 5 s later (RestartSec), forever (the
 * unit sets no start limit: a kiosk that stays down helps nobody). The growing delay systemd
 * 254 could give (RestartSteps=) is not in Bookworm's 252, so kioskd keeps it itself: each
 * start is noted in `restarts.json` in its state directory, and a start soon after one that
 * did not stop cleanly waits longer before it opens anything (5 s, 10 s, 20 s … at most 5 min,
 * counted with systemd's own 5 s). The count of starts since boot (the kernel's boot id) goes
 * to central monitoring in `info`.
 */
export interface StartRecord {
  /** Starts since the machine booted, this one excluded: what systemd restarted. */
  readonly restartsSinceBoot: number;
  /** The run before this one (same boot) did not stop cleanly: it crashed, was killed or hung. */
  readonly afterFailure: boolean;
  /** Starts in a row, each within QUICK_MS of the last, after one that did not stop cleanly. */
  readonly quickRestarts: number;
  /** How long this start waits before it opens the devices (0 when not in a crash loop). */
  readonly delayMs: number;
}

interface Stored {
  readonly boot: string;
  readonly starts: number;
  readonly lastStartMs: number;
  readonly quick: number;
  readonly clean: boolean;
}

const FILE = 'restarts.json';
/** A start within this of the one before, which crashed, is part of a loop. */
export const QUICK_MS = 10 * 60_000;
const FIRST_DELAY_MS = 5_000;
export const MAX_DELAY_MS = 5 * 60_000;
/** systemd's RestartSec: already waited before kioskd runs. */
const SYSTEMD_WAIT_MS = 5_000;

/** Delay (beyond systemd's 5 s) for the n-th quick restart in a row: 0, 5 s, 15 s, 35 s … up to 5 min in all. */
export function crashLoopDelayMs(quick: number): number {
  if (quick <= 1) return 0;
  return Math.max(0, Math.min(FIRST_DELAY_MS * 2 ** (quick - 1), MAX_DELAY_MS) - SYSTEMD_WAIT_MS);
}

/** Notes this start; never throws (a kiosk with a read-only or full disk still starts, undelayed). */
export function noteStart(dir: string, bootId: string, nowMs: number): StartRecord {
  const prev = read(dir);
  const sameBoot = prev !== null && prev.boot === bootId;
  const starts = sameBoot ? prev.starts + 1 : 1;
  const quick = sameBoot && !prev.clean && nowMs - prev.lastStartMs >= 0 && nowMs - prev.lastStartMs < QUICK_MS ? prev.quick + 1 : 0;
  write(dir, { boot: bootId, starts, lastStartMs: nowMs, quick, clean: false });
  return { restartsSinceBoot: starts - 1, afterFailure: sameBoot && !prev.clean, quickRestarts: quick, delayMs: crashLoopDelayMs(quick) };
}

/** A clean stop (SIGTERM, systemctl restart): the next start is not part of a crash loop. */
export function noteCleanStop(dir: string): void {
  const prev = read(dir);
  if (prev) write(dir, { ...prev, quick: 0, clean: true });
}

/** The kernel's id of this boot; a fixed word where there is none (not Linux). */
export function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown-boot';
  }
}

function read(dir: string): Stored | null {
  try {
    const v = JSON.parse(readFileSync(join(dir, FILE), 'utf8')) as Partial<Stored>;
    if (typeof v.boot !== 'string' || typeof v.starts !== 'number' || typeof v.lastStartMs !== 'number' || typeof v.quick !== 'number') return null;
    return { boot: v.boot, starts: v.starts, lastStartMs: v.lastStartMs, quick: v.quick, clean: v.clean === true };
  } catch {
    return null;
  }
}

function write(dir: string, v: Stored): void {
  try {
    // Not recursive: Node's recursive mkdir can spin for ever on a path it may not create (/proc).
    if (!existsSync(dir)) mkdirSync(dir, { mode: 0o700 });
    const tmp = join(dir, `${FILE}.tmp`);
    writeFileSync(tmp, JSON.stringify(v) + '\n', { mode: 0o600 });
    renameSync(tmp, join(dir, FILE));
  } catch {
    /* best effort: see noteStart */
  }
}
