/**
 * Time enters the daemon only through this interface, so the state machine, backoff and
 * health checks can be driven by XState's SimulatedClock in tests. It is shaped like
 * XState's `Clock` so the same object is handed to `createActor`.
 */
export interface Clock {
  /** Monotonic milliseconds; never goes backwards when NTP steps the wall clock. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export function systemClock(): Clock {
  return {
    now: () => performance.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  };
}

/** Repeats `fn` every `ms` on the given clock until the returned stop function is called. */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let handle: unknown;
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    fn();
    if (!stopped) handle = clock.setTimeout(tick, ms);
  };
  handle = clock.setTimeout(tick, ms);
  return () => {
    stopped = true;
    clock.clearTimeout(handle);
  };
}
