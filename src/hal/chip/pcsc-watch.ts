/**
 * Which readers pcscd has and which hold a card, kept current by the binding's native monitor
 * thread (no libuv pool thread is held while waiting). When pcscd goes away the monitor's
 * context is dead for good: it is stopped, and a fresh one is made once pcscd answers again.
 */
import type { Clock } from '../../util/clock.js';
import { message, quietly, type ScMonitor, type ScMonitorEvent, type ScReader, type SmartcardModule } from './pcsc-link.js';

export interface ReaderWatch {
  /** Starts watching (the hooks may run before this returns). */
  start(): void;
  /** The reader in use (the first matching one pcscd listed) and whether a card is on it; null: none. */
  chosen(): { readonly reader: string; readonly present: boolean } | null;
  /** Whether `reader` is still attached with a card on it. */
  holdsCard(reader: string): boolean;
  close(): void;
}

export interface WatchHooks {
  readonly clock: Clock;
  /** How soon pcscd is looked for again once it could not be reached. */
  readonly retryMs: number;
  /** After every change of readers or cards while pcscd answers. */
  readonly onChange: () => void;
  /** pcscd could not be reached or went away (the readers are forgotten); looked for again after retryMs. */
  readonly onServiceDown: (why: string) => void;
}

/**
 * After a monitor error its thread sleeps 1 s before looking again, and stopping it joins that
 * thread on the JS thread: stopping it just before it wakes keeps the event loop from stalling.
 */
const DEAD_MONITOR_STOP_MS = 900;

/** One monitor event applied to the matching readers; false when it says nothing about them. */
export function applyEvent(readers: Map<string, boolean>, ev: ScMonitorEvent, matches: (name: string) => boolean, presentFlag: number): boolean {
  switch (ev.type) {
    case 'reader-attached':
      if (!matches(ev.reader)) return false;
      readers.set(ev.reader, (ev.state & presentFlag) !== 0);
      return true;
    case 'reader-detached':
      return readers.delete(ev.reader);
    case 'card-inserted':
    case 'card-removed':
      if (!readers.has(ev.reader)) return false;
      readers.set(ev.reader, ev.type === 'card-inserted');
      return true;
    default:
      return false;
  }
}

export function watchReaders(mod: SmartcardModule, matches: (name: string) => boolean, h: WatchHooks): ReaderWatch {
  const readers = new Map<string, boolean>();
  let monitor: ScMonitor | null = null;
  const dying = new Set<ScMonitor>();
  let retry: unknown = null;
  let closed = false;

  const stopMonitor = (m: ScMonitor, soon: boolean): void => {
    const stop = (): void => {
      dying.delete(m);
      quietly(() => m.stop());
    };
    if (!soon) return stop();
    dying.add(m);
    h.clock.setTimeout(stop, DEAD_MONITOR_STOP_MS);
  };

  const down = (why: string): void => {
    readers.clear();
    h.onServiceDown(why);
    if (!closed) retry = h.clock.setTimeout(start, h.retryMs);
  };

  const onEvent =
    (m: ScMonitor) =>
    (ev: ScMonitorEvent): void => {
      if (m !== monitor || closed) return;
      if (ev.type === 'error') {
        monitor = null;
        stopMonitor(m, true);
        return down(ev.reader);
      }
      if (applyEvent(readers, ev, matches, mod.SCARD_STATE_PRESENT)) h.onChange();
    };

  function start(): void {
    retry = null;
    if (closed) return;
    let list: ScReader[];
    let m: ScMonitor;
    try {
      const ctx = new mod.Context();
      try {
        list = ctx.listReaders();
      } finally {
        ctx.close();
      }
      m = new mod.ReaderMonitor();
      m.start(onEvent(m));
    } catch (e) {
      return down(message(e));
    }
    monitor = m;
    readers.clear();
    // The monitor reports these readers again as it starts: applyEvent makes that a no-op.
    for (const r of list) if (matches(r.name)) readers.set(r.name, (r.state & mod.SCARD_STATE_PRESENT) !== 0);
    h.onChange();
  }

  return {
    start,
    chosen() {
      const reader = readers.keys().next().value;
      return reader === undefined ? null : { reader, present: readers.get(reader) === true };
    },
    holdsCard: (reader) => readers.get(reader) === true,
    close() {
      closed = true;
      h.clock.clearTimeout(retry);
      if (monitor) stopMonitor(monitor, false);
      for (const m of [...dying]) stopMonitor(m, false);
      monitor = null;
    },
  };
}
