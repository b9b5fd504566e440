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

/** A clock that can be moved forward: hw-sim's "advance time" for a technician's scenario. */
export interface AdjustableClock {
  readonly clock: Clock;
  /** Wall time moved by the same offset (queue days, retention, timestamps). */
  readonly wallClock: () => Date;
  /** Moves time forward by `ms`. Timers that fall due fire at once, earliest first; the rest keep their due time. */
  advance(ms: number): void;
  offsetMs(): number;
}

/**
 * `base` plus an offset that only grows. Timers are kept by due time, so a jump of a day fires
 * each pending timer once (as after a suspend), not once per missed period.
 */
export function adjustableClock(base: Clock, wallMs: () => number, initialOffsetMs = 0): AdjustableClock {
  if (!Number.isFinite(initialOffsetMs) || initialOffsetMs < 0)
    throw new RangeError(`clock offset must be a non-negative number of ms, got ${initialOffsetMs}`);
  let offset = initialOffsetMs;
  interface Pending {
    readonly due: number;
    readonly fn: () => void;
    handle: unknown;
  }
  const pending = new Map<object, Pending>();
  const now = (): number => base.now() + offset;
  const arm = (key: object, t: Pending): void => {
    t.handle = base.setTimeout(
      () => {
        pending.delete(key);
        t.fn();
      },
      Math.max(0, t.due - now()),
    );
  };
  const clock: Clock = {
    now,
    setTimeout(fn, ms) {
      const key = {};
      const t: Pending = { due: now() + Math.max(0, ms), fn, handle: undefined };
      pending.set(key, t);
      arm(key, t);
      return key;
    },
    clearTimeout(key) {
      const t = typeof key === 'object' && key !== null ? pending.get(key) : undefined;
      if (!t) return;
      base.clearTimeout(t.handle);
      pending.delete(key as object);
    },
  };
  return {
    clock,
    wallClock: () => new Date(wallMs() + offset),
    offsetMs: () => offset,
    advance(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`time only moves forward: ${ms} ms`);
      offset += ms;
      // Re-armed in due order: the base clock fires equal delays in the order they were set.
      for (const [key, t] of [...pending].sort((a, b) => a[1].due - b[1].due)) {
        base.clearTimeout(t.handle);
        arm(key, t);
      }
    },
  };
}
