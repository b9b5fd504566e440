import { every, type Clock } from './clock.js';

/**
 * At most `perWindow` events are let through in each window of `windowMs`; the rest are
 * counted, and `summary` gets the count once at the end of a window that had any. For what a
 * hostile or broken device can produce without bound (a scanner streaming garbage): the kiosk
 * keeps handling every item, but only so many reach the log and the broker.
 */
export function rateGate(
  clock: Clock,
  perWindow: number,
  windowMs: number,
  summary: (suppressed: number) => void,
): { allow(): boolean; stop(): void } {
  let passed = 0;
  let suppressed = 0;
  const stop = every(clock, windowMs, () => {
    if (suppressed > 0) summary(suppressed);
    passed = 0;
    suppressed = 0;
  });
  return {
    allow() {
      if (passed < perWindow) {
        passed++;
        return true;
      }
      suppressed++;
      return false;
    },
    stop,
  };
}
