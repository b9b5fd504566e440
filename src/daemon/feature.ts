/**
 * The daemon's one lifecycle: an ordered list of features, started in order and stopped in
 * reverse under one deadline (zigbee2mqtt's Controller/Extension pattern). A feature owns one
 * piece of behaviour; everything it needs is handed to it by src/daemon/build.ts.
 */
import type { Logger } from '../log/logger.js';

export interface Feature {
  readonly name: string;
  /** Long waits end early when `signal` aborts (a stop requested during start-up). */
  start(signal: AbortSignal): Promise<void> | void;
  /** Undoes start; never throws on purpose (a throw is logged and the next feature still stops). */
  stop(): Promise<void> | void;
}

/** A feature with only one half: a resource built by the wiring and only closed, or an action only started. */
export const onStop = (name: string, stop: () => Promise<void> | void): Feature => ({ name, start: () => {}, stop });
export const onStart = (name: string, start: (signal: AbortSignal) => Promise<void> | void): Feature => ({ name, start, stop: () => {} });

/**
 * Starts every feature in order, even after `signal` aborted: a stop requested during start-up
 * cuts long waits short, and the daemon then stops the normal way (the full reverse list).
 */
export async function startAll(features: readonly Feature[], signal: AbortSignal): Promise<void> {
  for (const f of features) await f.start(signal);
}

/** Stops in reverse order. `deadlineMs` is checked by the caller's timer; this only sequences. */
export async function stopAll(features: readonly Feature[], log: Logger): Promise<void> {
  for (const f of [...features].reverse()) {
    try {
      await f.stop();
    } catch (err) {
      log.error({ feature: f.name, err: err instanceof Error ? err.message : String(err) }, 'a feature failed to stop; stopping the rest');
    }
  }
}
