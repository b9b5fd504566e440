const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "500ms", "1.5s", "2m", "25h", "1d" → milliseconds; null when it is not a duration with a unit. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

/** The other way, for reports: 90000 → "1.5 min". */
export function formatDuration(ms: number): string {
  if (ms >= 86_400_000 && ms % 3_600_000 === 0) return ms % 86_400_000 === 0 ? `${ms / 86_400_000} d` : `${ms / 3_600_000} h`;
  if (ms >= 3_600_000) return `${+(ms / 3_600_000).toFixed(2)} h`;
  if (ms >= 60_000) return `${+(ms / 60_000).toFixed(2)} min`;
  if (ms >= 1000) return `${ms / 1000} s`;
  return `${ms} ms`;
}
