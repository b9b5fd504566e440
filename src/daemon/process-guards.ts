/**
 * What the daemon asks of its process: an uncaught error ends it (exit 70, systemd restarts a
 * clean one), SIGTERM/SIGINT stop it cleanly (a second one forces exit), and under hw-sim it
 * stops when its parent dies. Installed first, so they hold during start-up too.
 */
import type { Logger } from '../log/logger.js';
import { every, type Clock } from '../util/clock.js';

export const EX_SOFTWARE = 70;

export interface ProcessGuards {
  /** Aborts when a stop is requested (a signal, or the parent died). */
  readonly signal: AbortSignal;
  /** Resolves with the reason once a stop is requested. */
  readonly stopRequested: Promise<string>;
  /** Called with the error's message before the process exits on an uncaught error. */
  onCrash(listener: (message: string) => void): () => void;
}

export function installProcessGuards(opts: { log: Logger; realClock: Clock; exitWithParent: boolean }): ProcessGuards {
  const { log } = opts;
  const crashListeners = new Set<(message: string) => void>();
  const fatal = (err: unknown): void => {
    log.fatal({ err }, 'uncaught error; exiting so systemd restarts a clean process');
    for (const l of crashListeners) {
      try {
        l(err instanceof Error ? err.message : String(err));
      } catch {
        /* best effort */
      }
    }
    // Give the alert a moment to leave, but never hang on a dead broker.
    setTimeout(() => process.exit(EX_SOFTWARE), 500).unref();
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  const boot = new AbortController();
  let requested: ((reason: string) => void) | undefined;
  const stopRequested = new Promise<string>((resolve) => (requested = resolve));
  const requestStop = (reason: string): void => {
    if (!boot.signal.aborted) {
      boot.abort();
      requested!(reason);
      return;
    }
    log.warn({ signal: reason }, 'second signal: exiting now');
    process.exit(1);
  };
  process.on('SIGTERM', requestStop);
  process.on('SIGINT', requestStop);
  if (opts.exitWithParent) {
    // A supervisor killed with SIGKILL cannot stop us; being re-parented is the sign. Watched
    // from the first moment: a parent may die while the face models are still loading.
    const parent = process.ppid;
    const stopWatch = every(opts.realClock, 1000, () => {
      if (process.ppid === parent) return;
      stopWatch();
      if (!boot.signal.aborted) requestStop('parent exited');
    });
  }
  return {
    signal: boot.signal,
    stopRequested,
    onCrash(listener) {
      crashListeners.add(listener);
      return () => crashListeners.delete(listener);
    },
  };
}
