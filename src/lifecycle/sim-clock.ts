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

/** Answers hw-sim's clock requests until the returned function is called. */
export function serveClockAdvances(proc: NodeJS.Process, adj: AdjustableClock, timeZone: string, log: Logger): () => void {
  const onMessage = (m: unknown): void => {
    if (!isAdvance(m)) return;
    let reply: ClockAdvanceReply;
    try {
      const ms = 'toLocal' in m ? msUntilLocalTime(adj.wallClock(), String(m.toLocal), timeZone) : m.ms;
      adj.advance(ms);
      reply = { type: 'kioskd.clock.advanced', id: m.id, offsetMs: adj.offsetMs(), wallClock: adj.wallClock().toISOString() };
      log.info({ advancedMs: ms, offsetMs: adj.offsetMs() }, 'hw-sim moved the clock forward');
    } catch (err) {
      reply = { type: 'kioskd.clock.error', id: m.id, message: err instanceof Error ? err.message : String(err) };
    }
    proc.send?.(reply);
  };
  proc.on('message', onMessage);
  // The channel alone must not keep a stopping daemon alive.
  proc.channel?.unref();
  return () => proc.off('message', onMessage);
}
