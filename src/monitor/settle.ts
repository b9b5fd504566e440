/** Retained values arrive in a burst right after subscribing; the fleet counts as complete after this much quiet. */
const SETTLE_QUIET_MS = { once: 1000, live: 300 };
/** …or after this long, for a broker that never goes quiet. */
const SETTLE_MAX_MS = 5000;

/**
 * Retained values arrive in a burst right after subscribing: the fleet counts as complete after
 * a quiet moment (`quiet()` on each message restarts it; --once waits longer), or after
 * SETTLE_MAX_MS at most. `start()` after each granted subscription; `onSettled` runs once.
 */
export function settler(once: boolean, onSettled: () => void) {
  let settled = false;
  let quietTimer: ReturnType<typeof setTimeout> | undefined;
  let maxTimer: ReturnType<typeof setTimeout> | undefined;
  const settle = (): void => {
    if (settled) return;
    settled = true;
    clearTimeout(quietTimer);
    clearTimeout(maxTimer);
    onSettled();
  };
  return {
    done: (): boolean => settled,
    start(): void {
      quietTimer ??= setTimeout(settle, once ? SETTLE_QUIET_MS.once : SETTLE_QUIET_MS.live);
      maxTimer ??= setTimeout(settle, SETTLE_MAX_MS);
    },
    quiet(): void {
      if (!settled) quietTimer?.refresh();
    },
    cancel(): void {
      clearTimeout(quietTimer);
      clearTimeout(maxTimer);
    },
  };
}
