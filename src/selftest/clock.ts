import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fail, pass, type Check, type Verdict } from './check.js';

/**
 * No release of this code was built before this day. A Raspberry Pi has no real-time clock:
 * until NTP answers it runs from the last saved time, or from 1970; a time before this is
 * certainly wrong (tickets, BHYT tokens and TLS certificates all depend on the date).
 */
export const RELEASE_FLOOR = new Date('2026-11-23T00:00:00Z');
/** Build machines' clocks drift too; a clock wrong by less than this is NTP's business, not this test's. */
const SLACK_MS = 24 * 3600_000;

/** A program run directly with a time limit (src/platform/run-program.ts). */
export type RunProgram = (
  file: string,
  args: readonly string[],
  o: { timeoutMs: number; signal: AbortSignal },
) => Promise<{ exit: number | string; stdout: string }>;

export interface ClockCheckDeps {
  readonly run: RunProgram;
  readonly wallClock: () => Date;
  /** When this build was made; see `builtAt`. */
  readonly builtAt: Date;
  readonly exists?: (path: string) => boolean;
  readonly limitMs: number;
}

type Sync = { readonly synced: boolean; readonly source: string } | null;

/**
 * The clock is right: not before this release was built, and synchronised by NTP. Asked of
 * timedatectl (the kernel's own flag, set by timesyncd and chrony alike); where it cannot
 * answer (no systemd), the timesyncd flag file, then chronyc.
 */
export function clockCheck(d: ClockCheckDeps): Check {
  const exists = d.exists ?? existsSync;
  return {
    name: 'clock',
    limitMs: d.limitMs,
    async run(signal): Promise<Verdict> {
      const now = d.wallClock();
      const shown = now
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC');
      if (now.getTime() < d.builtAt.getTime() - SLACK_MS)
        return fail(`${shown}, earlier than this release was built (${d.builtAt.toISOString().slice(0, 10)}): the clock was never set`);
      const each = Math.max(1000, Math.floor(d.limitMs / 3));
      const sync = (await fromTimedatectl(d.run, each, signal)) ?? fromTimesyncd(exists) ?? (await fromChrony(d.run, each, signal));
      if (!sync) return fail('cannot tell whether the clock is synchronised: no timedatectl, systemd-timesyncd or chronyc answered');
      if (!sync.synced) return fail(`not synchronised (NTP), per ${sync.source}; the time now is ${shown}`);
      return pass(`synchronised (${sync.source}), ${shown}`);
    },
  };
}

async function fromTimedatectl(run: RunProgram, timeoutMs: number, signal: AbortSignal): Promise<Sync> {
  const r = await run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeoutMs, signal });
  const v = r.stdout.trim();
  if (r.exit !== 0 || (v !== 'yes' && v !== 'no')) return null; // not installed, or no systemd (a container)
  return { synced: v === 'yes', source: 'timedatectl' };
}

/** timesyncd touches this file once it has synchronised; its absence proves nothing (chrony may run). */
function fromTimesyncd(exists: (p: string) => boolean): Sync {
  return exists('/run/systemd/timesync/synchronized') ? { synced: true, source: 'systemd-timesyncd' } : null;
}

async function fromChrony(run: RunProgram, timeoutMs: number, signal: AbortSignal): Promise<Sync> {
  const r = await run('chronyc', ['tracking'], { timeoutMs, signal });
  const leap = /^Leap status\s*:\s*(.+)$/m.exec(r.stdout)?.[1]?.trim();
  if (r.exit !== 0 || !leap) return null;
  return { synced: leap === 'Normal', source: `chronyc (leap status ${leap})` };
}

/**
 * When this build was made: the floor above, or the time the running code was written to
 * disk by a build or a checkout, if later. Installed packages carry npm's fixed 1985 file
 * times, so the floor is what counts there.
 */
export function builtAt(moduleUrl: string = import.meta.url): Date {
  try {
    const m = statSync(fileURLToPath(moduleUrl)).mtime;
    return m > RELEASE_FLOOR ? m : RELEASE_FLOOR;
  } catch {
    return RELEASE_FLOOR;
  }
}
