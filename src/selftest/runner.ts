import type { Clock } from '../util/clock.js';
import { errorText, seconds, type Check, type CheckResult, type Verdict } from './check.js';

/**
 * After a check's time limit its signal aborts; it then has this long to say what it was
 * waiting for (more useful than "timed out") before the runner gives up on it.
 */
export const GRACE_MS = 1500;

export interface RunOptions {
  readonly clock: Clock;
  /** Aborts every check still to run or running (Ctrl-C). */
  readonly signal: AbortSignal;
  /** Each result as soon as it is known, so a technician watches the run progress. */
  readonly onResult?: (r: CheckResult) => void;
}

/** Runs the checks one after another; a check never throws past here and never runs past its limit. */
export async function runChecks(checks: readonly Check[], o: RunOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    const started = o.clock.now();
    const v = o.signal.aborted ? { kind: 'fail' as const, detail: 'interrupted' } : await runOne(check, o);
    const r: CheckResult = {
      name: check.name,
      ok: v.kind !== 'fail',
      skipped: v.kind === 'skip',
      detail: v.detail,
      ms: Math.round(o.clock.now() - started),
    };
    results.push(r);
    o.onResult?.(r);
  }
  return results;
}

function runOne(check: Check, o: RunOptions): Promise<Verdict> {
  const limit = new AbortController();
  const signal = AbortSignal.any([limit.signal, o.signal]);
  return new Promise<Verdict>((resolve) => {
    let settled = false;
    let giveUp: unknown = null;
    const finish = (v: Verdict): void => {
      if (settled) return;
      settled = true;
      o.clock.clearTimeout(timer);
      o.clock.clearTimeout(giveUp);
      o.signal.removeEventListener('abort', onInterrupt);
      resolve(v);
    };
    const timer = o.clock.setTimeout(() => {
      limit.abort(new Error('time limit'));
      giveUp = o.clock.setTimeout(() => finish({ kind: 'fail', detail: `did not finish within ${seconds(check.limitMs)}` }), GRACE_MS);
    }, check.limitMs);
    const onInterrupt = (): void => finish({ kind: 'fail', detail: 'interrupted' });
    o.signal.addEventListener('abort', onInterrupt, { once: true });
    check.run(signal).then(
      (v) => finish(v.kind === 'fail' && o.signal.aborted ? { kind: 'fail', detail: 'interrupted' } : v),
      (err: unknown) => finish({ kind: 'fail', detail: limit.signal.aborted ? `did not finish within ${seconds(check.limitMs)}` : errorText(err) }),
    );
  });
}
