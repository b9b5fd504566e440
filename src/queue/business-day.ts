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
