/**
 * Memory readings of another process for the soak benchmarks: RSS split by kind from
 * /proc/<pid>/status, V8 heap per isolate from the daemon's own `--trace-gc` lines, and the
 * least-squares slope that tells a steady climb from a one-off step.
 */
import { readFileSync } from 'node:fs';

export interface RssReading {
  /** Resident set, MiB. */
  readonly rss: number;
  /** Anonymous (heaps, wasm memory, Buffers, SQLite cache), MiB. */
  readonly anon: number;
  /** File-backed (code, mapped models and fonts), MiB. */
  readonly file: number;
}

export function readRss(pid: number): RssReading {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1]) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

/**
 * Least-squares line through (x, y): its slope, and the slope's standard error (how far the
 * slope could move on noise alone; NaN with fewer than three points). NaN slope when x does
 * not vary.
 */
export function fitLine(xs: readonly number[], ys: readonly number[]): { slope: number; se: number } {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return { slope: NaN, se: NaN };
  const mx = xs.slice(0, n).reduce((a, b) => a + b, 0) / n;
  const my = ys.slice(0, n).reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  if (sxx === 0) return { slope: NaN, se: NaN };
  const slope = sxy / sxx;
  let ssr = 0;
  for (let i = 0; i < n; i++) ssr += (ys[i]! - (my + slope * (xs[i]! - mx))) ** 2;
  return { slope, se: n > 2 ? Math.sqrt(ssr / (n - 2) / sxx) : NaN };
}

// [pid:isolate]  1234 ms: Mark-Compact (reduce) 10.2 (13.4) -> 8.1 (11.2) MB, …
const GC_LINE =
  /^\[\d+:(0x[0-9a-f]+)\]\s+\d+ ms: (Scavenge|Minor Mark-Compact|Mark-Compact|Mark-sweep)\b[^\d]*[\d.]+ \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB/;

/**
 * Reads `--trace-gc` output (V8 prints it on stdout for every isolate: the main thread and each
 * worker). The heap left after the latest full collection is the live set: young-generation
 * scavenges only say how much garbage was lying about.
 */
export class GcTrace {
  private readonly live = new Map<string, number>();
  private readonly fullGcs = new Map<string, number>();
  private rest = '';

  /** Feeds a chunk of the daemon's stdout; other lines (logs) are passed to `other`. */
  feed(chunk: Buffer | string, other: (line: string) => void = () => {}): void {
    const lines = (this.rest + chunk.toString()).split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) {
      const m = GC_LINE.exec(line);
      if (!m) {
        if (line.trim() !== '') other(line);
        continue;
      }
      const [, isolate, kind, after] = m;
      if (!this.live.has(isolate!)) this.live.set(isolate!, Number(after));
      if (kind === 'Mark-Compact' || kind === 'Mark-sweep') {
        this.live.set(isolate!, Number(after));
        this.fullGcs.set(isolate!, (this.fullGcs.get(isolate!) ?? 0) + 1);
      }
    }
  }

  /** Live heap (MiB) per isolate, in the order they first collected (the main thread first). */
  heaps(): number[] {
    return [...this.live.values()];
  }

  fullCollections(): number[] {
    return [...this.live.keys()].map((k) => this.fullGcs.get(k) ?? 0);
  }
}
