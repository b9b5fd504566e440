import type { Clock } from '../util/clock.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export type Admission = { readonly ok: true; readonly probe: boolean } | { readonly ok: false; readonly reason: string };

/**
 * A consecutive-failure circuit breaker on the injected clock. While the gateway is down a
 * patient should not stand through a timeout per lookup: after `failures` failures in a row
 * calls are refused for `openMs`, then one trial call (half-open) decides.
 */
export interface Breaker {
  state(): BreakerState;
  /** Ask before a call. An admitted call must end in success(), failure() or release(). */
  admit(): Admission;
  success(): void;
  failure(): void;
  /** The admitted call ended without a verdict (cancelled): a probe slot is freed. */
  release(probe: boolean): void;
}

export function createBreaker(o: { failures: number; openMs: number; clock: Clock }): Breaker {
  let failures = 0;
  let openUntil: number | null = null;
  let probing = false;

  const state = (): BreakerState => (openUntil === null ? 'closed' : o.clock.now() < openUntil ? 'open' : 'half-open');

  return {
    state,
    admit() {
      const s = state();
      if (s === 'closed') return { ok: true, probe: false };
      if (s === 'open') {
        const left = Math.ceil((openUntil! - o.clock.now()) / 1000);
        return { ok: false, reason: `gateway circuit open after ${failures} failures in a row; next try in ${left} s` };
      }
      if (probing) return { ok: false, reason: 'gateway circuit half-open: a trial lookup is in flight' };
      probing = true;
      return { ok: true, probe: true };
    },
    success() {
      failures = 0;
      openUntil = null;
      probing = false;
    },
    failure() {
      failures += 1;
      // A failed trial reopens at once; otherwise the count decides.
      if (state() === 'half-open' || failures >= o.failures) openUntil = o.clock.now() + o.openMs;
      probing = false;
    },
    release(probe) {
      if (probe) probing = false;
    },
  };
}
