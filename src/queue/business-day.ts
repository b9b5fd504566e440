/**
 * Which numbering day an instant belongs to: the local date in the hospital's time zone, with
 * the day starting at the configured reset time (a 05:00 reset keeps a night's late patients
 * in the previous day's sequence). Pure.
 */
export function businessDay(at: Date, timeZone: string, resetAt: string): string {
  const [h, m] = resetAt.split(':').map(Number) as [number, number];
  const d = localDate(new Date(at.getTime() - (h * 60 + m) * 60_000), timeZone);
  return `${d.year}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
}

/** The local calendar date (YYYY-MM-DD) in a time zone, for ages. */
export function localDate(at: Date, timeZone: string): { year: number; month: number; day: number } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at).map((p) => [p.type, p.value]),
  );
  return { year: Number(parts['year']), month: Number(parts['month']), day: Number(parts['day']) };
}

/** Milliseconds from `at` to the next HH:MM on the clocks of `timeZone` (a full day when it is that minute now). */
export function msUntilLocalTime(at: Date, hhmm: string, timeZone: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  if (!m) throw new RangeError(`a local time is HH:MM (00:00–23:59), got "${hhmm}"`);
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  const nowMs = ((Number(parts['hour']) * 60 + Number(parts['minute'])) * 60 + Number(parts['second'])) * 1000 + at.getUTCMilliseconds();
  const targetMs = (Number(m[1]) * 60 + Number(m[2])) * 60_000;
  const day = 86_400_000;
  const ahead = (((targetMs - nowMs) % day) + day) % day;
  return ahead === 0 ? day : ahead;
}
