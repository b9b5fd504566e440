import type { Logger } from '../log/logger.js';

/** A database error (full SD card, a technician's lock) is logged; it must not kill a kiosk mid-session. */
export function guarded<T>(log: Logger, what: string, fn: () => T): T | null {
  try {
    return fn();
  } catch (err) {
    log.error({ err: err instanceof Error ? err.message : String(err) }, what);
    return null;
  }
}
