import type { Logger } from '../log/logger.js';
import { msUntilLocalTime } from '../queue/business-day.js';
import type { AdjustableClock } from '../util/clock.js';

/**
 * hw-sim's "advance time": over the IPC channel of the process that started the daemon, and only
 * for a hw-sim configuration, so a kiosk in service can never have its time moved by anyone.
 */
export type ClockAdvance = { readonly type: 'kioskd.clock.advance'; readonly id: number } & (
  | { readonly ms: number }
  /** To the next HH:MM on the hospital's clocks (ticket.timeZone). */
  | { readonly toLocal: string }
);
export type ClockAdvanceReply =
  | { readonly type: 'kioskd.clock.advanced'; readonly id: number; readonly offsetMs: number; readonly wallClock: string }
  | { readonly type: 'kioskd.clock.error'; readonly id: number; readonly message: string };

/** Why `--sim-clock VALUE` cannot be honoured here, or null. */
export function simClockProblem(value: string, halMode: 'real' | 'sim', hasIpc: boolean): string | null {
  if (!/^\d+$/.test(value)) return `--sim-clock takes the clock offset in whole milliseconds (0 to start on time), got "${value}"`;
  if (halMode !== 'sim') return '--sim-clock is for hw-sim only: the config must say hal.mode: sim';
  if (!hasIpc) return '--sim-clock needs the IPC channel of hw-sim, which starts the daemon with it';
  return null;
}

const isAdvance = (m: unknown): m is ClockAdvance => typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'kioskd.clock.advance';

/** The longest single jump: a slip of the unit must not throw the kiosk's dates out of range. */
export const MAX_ADVANCE_MS = 366 * 86_400_000;
/** A local time of day, HH:MM (00:00–23:59): where "advance to" goes. */
export const LOCAL_TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

/** How far a request moves the clock, or why it cannot. */
function jumpOf(m: ClockAdvance, adj: AdjustableClock, timeZone: string): number | string {
  if ('toLocal' in m)
    return typeof m.toLocal === 'string' && LOCAL_TIME.test(m.toLocal)
      ? msUntilLocalTime(adj.wallClock(), m.toLocal, timeZone)
      : `toLocal must be HH:MM, got ${JSON.stringify(m.toLocal)}`;
  const ms = (m as { ms?: unknown }).ms;
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1 || ms > MAX_ADVANCE_MS)
    return `ms must be a whole number of milliseconds from 1 to ${MAX_ADVANCE_MS} (366 days), got ${JSON.stringify(ms)}`;
  return ms;
}

/** Answers hw-sim's clock requests until the returned function is called. */
export function serveClockAdvances(proc: NodeJS.Process, adj: AdjustableClock, timeZone: string, log: Logger): () => void {
  const onMessage = (m: unknown): void => {
    if (!isAdvance(m)) return;
    const ms = jumpOf(m, adj, timeZone);
    let reply: ClockAdvanceReply;
    if (typeof ms === 'string') {
      reply = { type: 'kioskd.clock.error', id: m.id, message: ms };
    } else {
      adj.advance(ms);
      reply = { type: 'kioskd.clock.advanced', id: m.id, offsetMs: adj.offsetMs(), wallClock: adj.wallClock().toISOString() };
      log.info({ advancedMs: ms, offsetMs: adj.offsetMs() }, 'hw-sim moved the clock forward');
    }
    // hw-sim may be gone by now: a closed channel is not the kiosk's problem.
    proc.send?.(reply, (err: Error | null) => err && log.warn({ err: err.message }, 'could not answer hw-sim'));
  };
  proc.on('message', onMessage);
  // The channel alone must not keep a stopping daemon alive.
  proc.channel?.unref();
  return () => proc.off('message', onMessage);
}
