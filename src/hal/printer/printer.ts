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

  /**
   * Gives up on a link: after a timeout the byte stream may be out of step (a late answer
   * would be read as the next one), so a fresh connection is the only safe next step.
   */
  const drop = (l: PrinterLink, reason: string): void => {
    if (link !== l) return;
    log.debug({ where: o.where, reason }, 'dropping the printer link');
    link = null;
    status = null;
    l.close();
    if (stopped) return;
    attempt = 0;
    setState({ kind: 'faulted', reason });
    scheduleReconnect();
  };

  /** Reads the status into the port state. False if the printer did not answer. */
  const refresh = async (signal: AbortSignal, l: PrinterLink | null = link): Promise<boolean> => {
    if (!l || l !== link) return false;
    try {
      status = await readStatus(l, signal);
      setState(portStateOf(status));
      return true;
    } catch (err) {
      if (signal.aborted && !lifetime.signal.aborted) return false; // the job's own deadline; the caller decides
      log.debug({ err }, 'status request failed');
      drop(l, 'not-answering');
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
        log.warn({ where: o.where, reason }, 'printer connection lost; retrying');
        drop(l, 'disconnected');
      });
      attempt = 0;
      if (await exclusive(() => refresh(lifetime.signal))) schedulePoll();
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

  /** Until the printer has processed the whole job (GS r), watching its real-time status. */
  const waitUntilPrinted = async (l: PrinterLink, job: AbortSignal): Promise<PrintOutcome | null> => {
    const processed = l.confirm(o.jobTimeoutMs, job).then(
      () => 'done' as const,
      () => 'no-answer' as const,
    );
    for (;;) {
      const r = await Promise.race([processed, new Promise<'tick'>((res) => clock.setTimeout(() => res('tick'), 300))]);
      if (r === 'done') return null;
      if (r === 'no-answer') {
        drop(l, job.aborted ? 'job-timeout' : 'not-answering');
        return { ok: false, reason: job.aborted ? 'timeout' : 'not-answering' };
      }
      // Paper out or cover open stops the printer mid-job: it will not answer GS r until
      // someone fixes it, but its real-time status says why at once.
      if (link !== l) return { ok: false, reason: 'disconnected' };
      if (!(await refresh(job, l))) {
        drop(l, 'job-timeout');
        return { ok: false, reason: job.aborted ? 'timeout' : 'not-answering' }; // refresh() already dropped the link
      }
      const now = state as PortState; // refresh() just changed it
      if (now.kind === 'faulted') {
        drop(l, now.reason); // the rest of the job must not print when the paper is back
        return { ok: false, reason: now.reason };
      }
    }
  };

  const print = (bytes: Uint8Array, signal: AbortSignal): Promise<PrintOutcome> =>
    exclusive(async (): Promise<PrintOutcome> => {
      const started = clock.now();
      const l = link;
      if (!l) return { ok: false, reason: state.kind === 'faulted' ? state.reason : 'not-connected' };
      const job = AbortSignal.any([signal, lifetime.signal, AbortSignal.timeout(o.jobTimeoutMs)]);
      if (!(await refresh(job, l))) {
        log.warn({ where: o.where }, 'printer did not answer before the job');
        return { ok: false, reason: 'not-answering' };
      }
      if (state.kind === 'faulted') return { ok: false, reason: state.reason };
      try {
        await l.write(bytes, job);
      } catch (err) {
        const reason = signal.aborted ? 'cancelled' : job.aborted ? 'timeout' : 'disconnected';
        log.warn({ where: o.where, reason, err: errorReason(err) }, 'print job failed while sending');
        drop(l, reason === 'timeout' ? 'job-timeout' : 'disconnected'); // a half-sent job must not finish later
        return { ok: false, reason };
      }
      const failed = await waitUntilPrinted(l, job);
      if (failed) {
        log.warn({ where: o.where, reason: failed.ok ? '' : failed.reason }, 'print job did not complete');
        return failed;
      }
      // On paper; the status afterwards catches a printer that ran out right at the cut.
      if (!(await refresh(job, l))) return { ok: false, reason: 'not-answering' };
      const after = state as PortState;
      if (after.kind === 'faulted') return { ok: false, reason: after.reason };
      return { ok: true, ms: clock.now() - started, bytes: bytes.length };
    });

  return {
    id: 'printer',
    driver: o.driver,
    async open(signal) {
      if (signal.aborted) return;
      stopped = false;
      // The port lives until close(), not as long as the open signal: a stop request must not
      // tear the ticket being printed; main.ts lets it finish, then closes the port.
      lifetime = new AbortController();
      // Not awaited: boot never waits for a device.
      void connect();
    },
    async close() {
      stopped = true;
      lifetime.abort(new Error('closed'));
      clock.clearTimeout(timer);
      const l = link;
      link = null;
      l?.close();
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
  if (e?.code === 'EACCES') return 'permission denied (the printer should be group kioskd: is /etc/udev/rules.d/99-kioskd.rules installed? then udevadm trigger)';
  return e?.message ?? String(err);
}
