/**
 * Reconnect delay for attempt n (0-based): exponential up to `maxMs`, with "equal jitter"
 * (half fixed, half random) so a fleet of kiosks that lost the same device or server does not
 * retry in step, yet no retry comes sooner than half the step.
 */
export function backoffMs(attempt: number, o: { baseMs: number; maxMs: number }, random: () => number): number {
  const step = Math.min(o.maxMs, o.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + random() * (step / 2));
}
