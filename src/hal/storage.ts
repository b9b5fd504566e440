import { statfs } from 'node:fs/promises';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../log/logger.js';
import type { Port, PortState } from './ports.js';
import { createStateCell } from './supervised-port.js';

export interface StorageWatchOptions {
  /** kiosk.stateDir: the queue database, the journal, the restart record. */
  readonly dir: string;
  /** Below this the kiosk warns (storage.low) and keeps working. */
  readonly lowBytes: number;
  /** Below this it can no longer be sure to record a number: out of service (storage.full). */
  readonly minBytes: number;
  readonly everyMs: number;
  readonly clock: Clock;
  readonly log: Logger;
  /** Free bytes for an unprivileged writer; fs.statfs by default (tests pass their own). */
  readonly freeBytes?: (dir: string) => Promise<number>;
}

export interface StorageWatch extends Port {
  /** Look again now (a write just failed, or the technician freed space): resolves with the new state. */
  check(): Promise<PortState>;
}

/**
 * The state directory's free space as a port, so the state machine treats a full disk like a
 * printer out of paper: `degraded(low)` warns, `faulted(full)` takes the kiosk out of service
 * before it takes a patient whose number it could not record, and `ready` again when space
 * returns (checked every `everyMs`). The margin between `minBytes` and zero is what lets a
 * patient already in a session still be recorded.
 */
export function createStorageWatch(o: StorageWatchOptions): StorageWatch {
  const free =
    o.freeBytes ??
    (async (dir: string) => {
      const s = await statfs(dir);
      return s.bavail * s.bsize;
    });
  const cell = createStateCell({ kind: 'connecting', attempt: 0 });
  let timer: unknown = null;
  let closed = false;
  const mb = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MB`;

  const check = async (): Promise<PortState> => {
    try {
      const bytes = await free(o.dir);
      const next: PortState =
        bytes < o.minBytes
          ? { kind: 'faulted', code: 'full', reason: 'full' }
          : bytes < o.lowBytes
            ? { kind: 'degraded', code: 'low', reason: 'low' }
            : { kind: 'ready' };
      const state = cell.state();
      if (next.kind !== state.kind) {
        const fields = { dir: o.dir, free: mb(bytes), low: mb(o.lowBytes), min: mb(o.minBytes) };
        if (next.kind === 'faulted') o.log.error(fields, 'the state directory is (nearly) full: out of service until there is room again');
        else if (next.kind === 'degraded') o.log.warn(fields, 'the state directory is running out of space');
        else if (state.kind !== 'connecting') o.log.info(fields, 'the state directory has room again');
      }
      cell.set(next);
    } catch (err) {
      // The directory is gone or unreadable: the queue database cannot be written either.
      o.log.error({ dir: o.dir, err: err instanceof Error ? err.message : String(err) }, 'the state directory cannot be checked');
      cell.set({ kind: 'faulted', code: 'unreadable', reason: 'unreadable' });
    }
    return cell.state();
  };

  const loop = (): void => {
    if (closed) return;
    void check().finally(() => {
      if (!closed) timer = o.clock.setTimeout(loop, o.everyMs);
    });
  };

  return {
    id: 'storage',
    driver: 'statfs',
    async open() {
      closed = false;
      await check();
      // Stopped while the first check ran (a shutdown during boot): no timer after close.
      if (!closed) timer = o.clock.setTimeout(loop, o.everyMs);
    },
    async close() {
      closed = true;
      if (timer !== null) o.clock.clearTimeout(timer);
    },
    state: cell.state,
    onStateChange: cell.onStateChange,
    check,
  };
}
