import { deepMerge, envOverrides } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { LOCAL_TIME, MAX_ADVANCE_MS } from '../../src/lifecycle/sim-clock.js';
import { localClock } from '../../src/printing/ticket/layout.js';
import type { ClockMove } from '../daemon.js';
import type { Sim } from '../sim.js';

/** hw-sim's way of moving kioskd's clock (advanceDaemonClock on the daemon it started). */
export type AdvanceClock = (move: ClockMove) => Promise<{ offsetMs: number; wallClock: string }>;

/** What kioskd last said its time was: in answer to a move, or in a health report heard live. */
export interface KioskTime {
  /** kioskd's wall clock when it said so (ISO, UTC). */
  readonly wallClock: string;
  /** kioskd's clock minus this machine's. */
  readonly offsetMs: number;
  /** This machine's wall ms when the panel heard it. */
  readonly heardAt: number;
  readonly via: 'move' | 'health';
}

/** The largest single move the panel accepts: a slip of a finger should not cost a year. */
const MAX_MOVE_MS = MAX_ADVANCE_MS;
const HH_MM = LOCAL_TIME;

/** A move from a request body: `{ ms }` (a positive whole number) or `{ toLocal: 'HH:MM' }`; the message says what is wrong. */
export function clockMoveOf(body: Record<string, unknown>): ClockMove | string {
  const { ms, toLocal } = body;
  if ((ms === undefined) === (toLocal === undefined)) return 'give either ms (how far to move) or toLocal (HH:MM)';
  if (toLocal !== undefined) return typeof toLocal === 'string' && HH_MM.test(toLocal) ? { toLocal } : 'toLocal must be HH:MM (00:00-23:59)';
  return typeof ms === 'number' && Number.isInteger(ms) && ms > 0 && ms <= MAX_MOVE_MS
    ? { ms }
    : `ms must be a whole number of milliseconds, 1 to ${MAX_MOVE_MS}`;
}

/** kioskd's time from a health report heard live; null for one replayed by the broker (retained), whose age is unknown. */
export function timeFromHealth(health: Record<string, unknown> | null, heardAt: number): KioskTime | null {
  const ts = health?.['ts'];
  const wall = typeof ts === 'string' ? Date.parse(ts) : NaN;
  if (Number.isNaN(wall)) return null;
  // Whole seconds: the report's trip through the broker adds a few ms that would only make the figure flicker.
  return { wallClock: new Date(wall).toISOString(), offsetMs: Math.round((wall - heardAt) / 1000) * 1000, heardAt, via: 'health' };
}

/** The newer of two reports of kioskd's time. */
export function latest(a: KioskTime | null, b: KioskTime | null): KioskTime | null {
  if (!a || !b) return a ?? b;
  return b.heardAt >= a.heardAt ? b : a;
}

/**
 * The hospital's time zone as kioskd sees it: the sim's config with the KIOSKD__ environment
 * overrides kioskd also applies (ticket.timeZone, Asia/Ho_Chi_Minh by default); UTC if unreadable.
 */
export function kioskTimeZone(sim: Sim): string {
  const merged = deepMerge(sim.config, envOverrides(sim.daemonEnv).overrides) as { ticket?: unknown };
  const parsed = configSchema.shape.ticket.safeParse(merged.ticket);
  return parsed.success ? parsed.data.timeZone : 'UTC';
}

/** "2026-11-25 07:00:00" on the hospital's clocks. */
export function localTime(iso: string, timeZone: string): string {
  const p = localClock(new Date(iso), timeZone, true);
  return `${p['year']}-${p['month']}-${p['day']} ${p['hour']}:${p['minute']}:${p['second']}`;
}

/** "1 d 6 h ahead", "14 h 23 min ahead", "on time": to the minute, as a technician reads it. */
export function aheadText(offsetMs: number): string {
  const a = Math.abs(offsetMs);
  // A health report's trip through the broker blurs its offset a little: a few seconds is on time.
  if (a < 5000) return 'on time';
  const side = offsetMs > 0 ? 'ahead' : 'behind';
  if (a < 60_000) return `${Math.round(a / 1000)} s ${side}`;
  const mins = Math.round(a / 60_000);
  const parts: Array<[number, string]> = [
    [Math.floor(mins / 1440), 'd'],
    [Math.floor((mins % 1440) / 60), 'h'],
    [mins % 60, 'min'],
  ];
  return `${parts
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n} ${unit}`)
    .join(' ')} ${side}`;
}

/** The action's answer: kioskd's new time, as it reported it. */
export function movedMessage(r: { offsetMs: number; wallClock: string }, timeZone: string): string {
  const ahead = aheadText(r.offsetMs);
  return `kioskd's clock now reads ${localTime(r.wallClock, timeZone)} (${timeZone}), ${ahead === 'on time' ? ahead : `${ahead} of this machine's`}`;
}
