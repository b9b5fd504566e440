import { backoffMs } from '../../util/backoff.js';
import type { DriverDeps, PortState, PrintOutcome, TicketPrinter, Unsubscribe } from '../ports.js';
import { decodeStatus, portStateOf, type PrinterStatus } from './status.js';
import type { PrinterLink, PrinterLinkOpener } from './transport.js';

export interface PrinterOptions {
  readonly driver: string;
  readonly where: string;
  readonly openLink: PrinterLinkOpener;
  /** Status poll while idle. */
  readonly pollMs: number;
  readonly statusTimeoutMs: number;
  /** A whole job, from the first byte to the printer having taken the last. */
  readonly jobTimeoutMs: number;
  readonly reconnect: { readonly baseMs: number; readonly maxMs: number };
}

export type PrinterDeps = DriverDeps;

/**
 * A receipt printer behind any PrinterLink. It keeps itself connected, polls DLE EOT while
 * idle, and checks the status before and after each job, so "printed" means the printer took
 * the whole ticket and still had paper afterwards. Jobs and polls never overlap.
 */
export function createTicketPrinter(o: PrinterOptions, deps: PrinterDeps): TicketPrinter {
  const { clock, log } = deps;
  let state: PortState = { kind: 'connecting', attempt: 1 };
  let status: PrinterStatus | null = null;
  const listeners = new Set<(s: PortState) => void>();
  let link: PrinterLink | null = null;
  let stopped = true;
  let attempt = 0;
  let timer: unknown = null;
  let lifetime = new AbortController();
  /** Serialises jobs and polls on the one link. */
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  const setState = (next: PortState): void => {
    if (JSON.stringify(next) === JSON.stringify(state)) return;
    const before = state;
    state = next;
    if (next.kind === 'faulted' || next.kind === 'degraded') log.warn({ where: o.where, state: next }, 'printer needs attention');
    else if (next.kind === 'ready' && (before.kind === 'faulted' || before.kind === 'degraded')) log.info({ where: o.where }, 'printer is ready again');
    for (const l of listeners) l(next);
  };

  const readStatus = async (l: PrinterLink, signal: AbortSignal): Promise<PrinterStatus> => {
    const printer = await l.query(1, o.statusTimeoutMs, signal);
    const cause = await l.query(2, o.statusTimeoutMs, signal);
    const paper = await l.query(4, o.statusTimeoutMs, signal);
    return decodeStatus(printer, cause, paper);
  };

  /** Reads the status into the port state. False if the printer did not answer. */
  const refresh = async (signal: AbortSignal): Promise<boolean> => {
    const l = link;
    if (!l) return false;
    try {
      status = await readStatus(l, signal);
      setState(portStateOf(status));
      return true;
    } catch (err) {
      if (signal.aborted || link !== l) return false;
      status = null;
      setState({ kind: 'faulted', reason: 'not-answering' });
      log.debug({ err }, 'status request failed');
      return false;
    }
  };

  const schedulePoll = (): void => {
    clock.clearTimeout(timer);
    if (stopped) return;
    timer = clock.setTimeout(() => {
      void exclusive(() => refresh(lifetime.signal)).finally(() => {
        if (link) schedulePoll();
      });
    }, o.pollMs);
  };

  const connect = async (): Promise<void> => {
    if (stopped) return;
    attempt++;
    try {
      const l = await o.openLink(lifetime.signal);
      if (stopped) return l.close();
      link = l;
      l.onClose((reason) => {
        if (link !== l) return;
        link = null;
        status = null;
        if (stopped) return;
        log.warn({ where: o.where, reason }, 'printer connection lost; retrying');
        attempt = 0;
        setState({ kind: 'faulted', reason: 'disconnected' });
        scheduleReconnect();
      });
      attempt = 0;
      await exclusive(() => refresh(lifetime.signal));
      schedulePoll();
    } catch (err) {
      if (stopped) return;
      const reason = errorReason(err);
      if (state.kind !== 'faulted' || state.reason !== reason) log.warn({ where: o.where, reason }, 'cannot reach the printer; retrying');
      setState({ kind: 'faulted', reason });
      scheduleReconnect();
    }
  };

  const scheduleReconnect = (): void => {
    clock.clearTimeout(timer);
    if (stopped) return;
    timer = clock.setTimeout(() => void connect(), backoffMs(attempt, o.reconnect, deps.random));
  };

  const print = (bytes: Uint8Array, signal: AbortSignal): Promise<PrintOutcome> =>
    exclusive(async (): Promise<PrintOutcome> => {
      const started = clock.now();
      const l = link;
      if (!l) return { ok: false, reason: state.kind === 'faulted' ? state.reason : 'not-connected' };
      const job = AbortSignal.any([signal, lifetime.signal, AbortSignal.timeout(o.jobTimeoutMs)]);
      if (!(await refresh(job))) return { ok: false, reason: 'not-answering' };
      if (state.kind === 'faulted') return { ok: false, reason: state.reason };
      try {
        await l.write(bytes, job);
      } catch (err) {
        const reason = signal.aborted ? 'cancelled' : job.aborted ? 'timeout' : 'disconnected';
        log.warn({ where: o.where, reason, err: errorReason(err) }, 'print job failed while sending');
        if (reason === 'timeout') l.close(); // a stuck printer: start again from a fresh connection
        return { ok: false, reason };
      }
      // The printer has every byte; what it did with them shows in its status.
      if (!(await refresh(job))) return { ok: false, reason: 'not-answering' };
      const after = state as PortState; // refresh() just changed it
      if (after.kind === 'faulted') return { ok: false, reason: after.reason };
      return { ok: true, ms: clock.now() - started, bytes: bytes.length };
    });

  return {
    id: 'printer',
    driver: o.driver,
    async open(signal) {
      stopped = false;
      lifetime = new AbortController();
      signal.addEventListener('abort', () => lifetime.abort(signal.reason), { once: true });
      // Not awaited: boot never waits for a device.
      void connect();
    },
    async close() {
      stopped = true;
      lifetime.abort(new Error('closed'));
      clock.clearTimeout(timer);
      link?.close();
      link = null;
    },
    state: () => state,
    status: () => status,
    onStateChange(listener): Unsubscribe {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    print,
  };
}

function errorReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return 'device not present';
  if (e?.code === 'ECONNREFUSED') return 'connection refused';
  if (e?.code === 'EBUSY') return 'device busy (another program has it open)';
  if (e?.code === 'EACCES') return 'permission denied (is the kioskd user in group lp?)';
  return e?.message ?? String(err);
}
