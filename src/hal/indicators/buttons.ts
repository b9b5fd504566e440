import type { Logger } from '../../log/logger.js';
import type { ButtonId, Unsubscribe } from '../ports.js';

/** Button presses to every listener; a throwing listener is logged and never stops the others. */
export function createButtonFanout(log: Logger): { emit(id: ButtonId): void; onButton(listener: (id: ButtonId) => void): Unsubscribe } {
  const listeners = new Set<(b: ButtonId) => void>();
  return {
    emit(id) {
      for (const l of listeners) {
        try {
          l(id);
        } catch (err) {
          log.error({ err: err instanceof Error ? err.message : String(err), button: id }, 'a button listener failed');
        }
      }
    },
    onButton(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
