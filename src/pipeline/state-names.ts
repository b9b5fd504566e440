import type { KioskMode } from './session.js';

/** The machine's state value in the words of status reports (mode, check-in step). */
const MODE_OF: Record<string, KioskMode> = {
  booting: 'booting',
  idle: 'idle',
  inSession: 'in-session',
  outOfService: 'out-of-service',
  maintenance: 'maintenance',
  stopping: 'stopping',
};

export function modeOf(value: unknown): KioskMode {
  const top = typeof value === 'string' ? value : (Object.keys(value as object)[0] ?? '');
  const mode = MODE_OF[top];
  if (!mode) throw new Error(`unknown machine state ${JSON.stringify(value)}`);
  return mode;
}

/** The check-in step, for status reports: the innermost state inside a session. */
export function stepOf(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const inner = (value as Record<string, unknown>)['inSession'];
  if (typeof inner !== 'string') return null;
  return inner.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
