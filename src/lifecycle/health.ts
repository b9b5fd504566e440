import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Clock } from '../util/clock.js';

export interface Liveness {
  readonly ok: boolean;
  /** Why liveness failed, in one line; null when ok. */
  readonly reason: string | null;
}

export interface HealthMonitorOptions {
  readonly clock: Clock;
  readonly maxLoopLagMs: number;
  readonly heartbeatMs: number;
  /** When the state machine last handled a heartbeat (clock time). */
  readonly lastBeat: () => number;
}

export interface ProcessSample {
  readonly uptime_s: number;
  readonly rss_mb: number;
  readonly heap_used_mb: number;
  readonly loop_lag_p99_ms: number;
}

/**
 * Liveness is what feeds systemd's watchdog: the event loop answers in time and the state
 * machine keeps handling its heartbeat. A faulted printer is not a liveness failure; a
 * wedged process is.
 */
export class HealthMonitor {
  // Two histograms: the watchdog's window and the health report's window are reset independently.
  private readonly watchdogLag: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private readonly reportLag: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });

  constructor(private readonly opts: HealthMonitorOptions) {
    this.watchdogLag.enable();
    this.reportLag.enable();
  }

  /** For the watchdog: judges the event loop since the previous call. */
  liveness(): Liveness {
    const p99 = nsToMs(this.watchdogLag.percentile(99));
    this.watchdogLag.reset();
    return this.judge(p99);
  }

  /** For the health report: process figures and liveness since the previous report. */
  report(): ProcessSample & { liveness: Liveness } {
    const mem = process.memoryUsage();
    const p99 = nsToMs(this.reportLag.percentile(99));
    this.reportLag.reset();
    return {
      uptime_s: Math.round(process.uptime()),
      rss_mb: mb(mem.rss),
      heap_used_mb: mb(mem.heapUsed),
      loop_lag_p99_ms: p99,
      liveness: this.judge(p99),
    };
  }

  private judge(p99: number): Liveness {
    if (p99 > this.opts.maxLoopLagMs) return { ok: false, reason: `event-loop delay p99 ${p99} ms exceeds ${this.opts.maxLoopLagMs} ms` };
    const sinceBeat = this.opts.clock.now() - this.opts.lastBeat();
    if (sinceBeat > 3 * this.opts.heartbeatMs) {
      return { ok: false, reason: `state machine has not handled a heartbeat for ${Math.round(sinceBeat)} ms` };
    }
    return { ok: true, reason: null };
  }

  close(): void {
    this.watchdogLag.disable();
    this.reportLag.disable();
  }
}

const RESOLUTION_MS = 10;
/** The histogram records the whole interval between its timer's ticks: the lag is what exceeds the tick. */
const nsToMs = (ns: number): number => (Number.isFinite(ns) ? Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 10) / 10) : 0);
const mb = (bytes: number): number => Math.round(bytes / 104857.6) / 10;
