import { execFile } from 'node:child_process';
import type { Logger } from '../log/logger.js';

/**
 * sd_notify(3) for Type=notify units. Node cannot send on a unix datagram socket by itself,
 * so this uses the optional native `sd-notify` package (built against libsystemd-dev) and,
 * when that is not installed, the `systemd-notify` command (which needs NotifyAccess=all,
 * because the message then comes from a child process).
 */
export interface Notifier {
  /** "native", "systemd-notify-cli" or "off" (no NOTIFY_SOCKET: not run by systemd). */
  readonly kind: 'native' | 'systemd-notify-cli' | 'off';
  ready(status: string): void;
  status(status: string): void;
  stopping(status: string): void;
  watchdog(): void;
  /** EXTEND_TIMEOUT_USEC: the start may take `ms` more (a crash-loop wait before READY). */
  extendStart(ms: number): void;
}

/** One line only: a STATUS= value must not contain a newline. */
const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ').slice(0, 200);

export async function createNotifier(env: NodeJS.ProcessEnv, log: Logger): Promise<Notifier> {
  if (!env['NOTIFY_SOCKET']) {
    const noop = (): void => {};
    return { kind: 'off', ready: noop, status: noop, stopping: noop, watchdog: noop, extendStart: noop };
  }
  const native = await import('sd-notify').catch(() => null);
  if (native) {
    const sendState = native.sendState ?? (native as unknown as { default: { sendState: (s: string) => void } }).default.sendState;
    return {
      kind: 'native',
      ready: (s) => sendState(`READY=1\nSTATUS=${oneLine(s)}`),
      status: (s) => sendState(`STATUS=${oneLine(s)}`),
      stopping: (s) => sendState(`STOPPING=1\nSTATUS=${oneLine(s)}`),
      watchdog: () => sendState('WATCHDOG=1'),
      extendStart: (ms) => sendState(`EXTEND_TIMEOUT_USEC=${Math.round(ms * 1000)}`),
    };
  }
  // An error: the shipped unit (NotifyAccess=main) refuses a child's READY=1, so systemd will time the start out.
  log.error('optional package sd-notify is not installed; using the systemd-notify command (the unit needs NotifyAccess=all)');
  const send = (...assignments: string[]): void => {
    execFile('systemd-notify', [`--pid=${process.pid}`, ...assignments], { env: { ...env } }, (err) => {
      if (err) log.warn({ err: err.message }, 'systemd-notify failed');
    });
  };
  return {
    kind: 'systemd-notify-cli',
    ready: (s) => send('READY=1', `STATUS=${oneLine(s)}`),
    status: (s) => send(`STATUS=${oneLine(s)}`),
    stopping: (s) => send('STOPPING=1', `STATUS=${oneLine(s)}`),
    watchdog: () => send('WATCHDOG=1'),
    extendStart: (ms) => send(`EXTEND_TIMEOUT_USEC=${Math.round(ms * 1000)}`),
  };
}

/** Half of WATCHDOG_USEC, in ms, if systemd asked this process for watchdog pings; else 0. */
export function watchdogPingMs(env: NodeJS.ProcessEnv, pid: number): number {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isFinite(usec) || usec <= 0) return 0;
  const forPid = env['WATCHDOG_PID'];
  if (forPid !== undefined && forPid !== '' && Number(forPid) !== pid) return 0;
  return Math.max(1, Math.floor(usec / 2000));
}
