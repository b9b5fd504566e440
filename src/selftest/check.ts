import type { Port, PortState } from '../hal/ports.js';
import type { Clock } from '../util/clock.js';

/** The checks, in the order they run and are reported. */
export const CHECK_NAMES = ['printer', 'camera', 'lamps', 'scanner', 'broker', 'bhyt', 'clock'] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

/** One line of the report. A skipped check counts as ok (it does not fail the run). */
export interface CheckResult {
  readonly name: CheckName;
  readonly ok: boolean;
  readonly skipped: boolean;
  readonly detail: string;
  readonly ms: number;
}

/** What a check's body concludes; the runner adds the name and the time. */
export interface Verdict {
  readonly kind: 'pass' | 'fail' | 'skip';
  readonly detail: string;
}

export const pass = (detail: string): Verdict => ({ kind: 'pass', detail });
export const fail = (detail: string): Verdict => ({ kind: 'fail', detail });
export const skip = (detail: string): Verdict => ({ kind: 'skip', detail });

export interface Check {
  readonly name: CheckName;
  /** Its own time limit; past it the signal aborts and, shortly after, the runner gives up on it. */
  readonly limitMs: number;
  /** May throw: the runner turns that into a failure. */
  run(signal: AbortSignal): Promise<Verdict>;
}

/** Port not fitted: a failure when the kiosk needs it to take patients, else nothing to test. */
export function absentVerdict(what: string, configKey: string, required: boolean): Verdict {
  return required ? fail(`not configured (${configKey}: none), but kiosk.requiredPorts needs it`) : skip(`no ${what} configured`);
}

/**
 * The port's first real state after open(): ports connect in the background and start as
 * "connecting". Resolves null if the signal aborts first (the device never answered).
 */
export function firstState(port: Port, signal: AbortSignal): Promise<PortState | null> {
  return new Promise((resolve) => {
    const settled = (): boolean => {
      const s = port.state();
      if (s.kind === 'connecting') return false;
      done(s);
      return true;
    };
    const done = (s: PortState | null): void => {
      off();
      signal.removeEventListener('abort', onAbort);
      resolve(s);
    };
    const onAbort = (): void => done(null);
    const off = port.onStateChange(() => void settled());
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    settled();
  });
}

/** Resolves after `ms`, or early (false) when the signal aborts. */
export function pause(clock: Clock, ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const t = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clock.clearTimeout(t);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

/** First line of an error, for a report line. */
export function errorText(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split('\n')[0] ?? m;
}
