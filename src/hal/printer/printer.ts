import { backoffMs } from '../../util/backoff.js';
import type { DriverDeps, PortState, PrintOutcome, TicketPrinter, Unsubscribe } from '../ports.js';
import { decodeStatus, portStateOf, type PrinterStatus } from './status.js';
import type { PrinterLink, PrinterLinkOpener } from './transport.js';

/**
 * The slowest a working receipt printer is assumed to take a job in, in bytes per second
 * (a constant, not a config key: issue 15 item 6). A raster ticket is ~47 KB; a thermal
 * printer printing it at even 30 mm/s takes ~17 KB/s, and hw-sim's "slow printer" 20 KB/s.
 * After the last byte has left, a status request waits behind the bytes still in the socket
 * and the printer's buffer, so its time limit is stretched by bytes / this rate: ~12 s for a
 * raster ticket, under 0.2 s for a cp1258 one.
 */
export const MIN_PRINTER_BYTES_PER_SEC = 4000;

export interface PrinterOptions {
  readonly driver: string;
  readonly where: string;
  readonly openLink: PrinterLinkOpener;
  /** Status poll while idle (never while a job is being sent or printed). */
  readonly pollMs: number;
  /** An answer to DLE EOT from an idle printer; stretched while it still has a job to take in. */
  readonly statusTimeoutMs: number;
  /**
   * Sending a job: from the check before it until the OS has taken the last byte. The printer
   * then gets statusTimeoutMs + bytes / MIN_PRINTER_BYTES_PER_SEC to say it printed or why not.
   */
  readonly jobTimeoutMs: number;
  readonly reconnect: { readonly baseMs: number; readonly maxMs: number };
}

export type PrinterDeps = DriverDeps;

/**
 * A receipt printer behind any PrinterLink. It keeps itself connected, polls DLE EOT while
 * idle, and checks the status before and after each job. Jobs and polls never overlap: a poll
 * falling due during a job runs after it.
 *
 * What "printed" means (print() resolving `ok: true`): every byte of the job left kioskd (the
 * OS took them) and nothing then said the ticket did not come out, i.e. the printer did not
 * report a fault (paper out, cover open, offline, error) while taking it or right after, and the
 * connection was not closed under it before the printer confirmed it (the printer or the cable
 * went away, as with a printer that drops the connection mid-ticket). A printer that is merely
 * slow to answer once the bytes have left is not a failure of the job: the answer is waited for
 * as long as a slow printer needs to work through them (see MIN_PRINTER_BYTES_PER_SEC), and if
 * it still does not come, the job counts as printed (logged as unconfirmed) and the link is
 * renewed. Counting it as failed would reprint a ticket that most probably came out: a slow
 * printer once printed one number 14 times in 28 s that way (issue 15).
 * Not printed: the printer was not ready, the bytes did not all leave (timeout, link broken,
 * cancelled), a fault was reported, or the link closed before the confirmation.
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
    else if (next.kind === 'ready' && (before.kind === 'faulted' || before.kind === 'degraded'))
      log.info({ where: o.where }, 'printer is ready again');
    for (const l of listeners) l(next);
  };

  /**
   * Until when the printer may still be taking in the last job (clock time): a request sent
   * before then queues behind those bytes. Any answer means it has read everything sent before.
   */
  let drainingUntil = 0;
  const statusLimitMs = (): number => o.statusTimeoutMs + Math.max(0, drainingUntil - clock.now());
  const readStatus = async (l: PrinterLink, signal: AbortSignal): Promise<PrinterStatus> => {
    const printer = await l.query(1, statusLimitMs(), signal);
    drainingUntil = 0;
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

  /**
   * The status once a job's bytes have left: what the printer said, that it did not answer
   * (even allowing for the bytes it still had to take in), that the link closed, or that the
   * job was called off. Does not drop the link: the caller decides.
   */
  const statusAfterJob = async (l: PrinterLink, signal: AbortSignal): Promise<'answered' | 'silent' | 'closed' | 'aborted'> => {
    if (link !== l) return signal.aborted ? 'aborted' : 'closed';
    try {
      status = await readStatus(l, signal);
      setState(portStateOf(status));
      return 'answered';
    } catch (err) {
      if (signal.aborted) return 'aborted'; // the caller gave up, or the port is closing (and dropped the link)
      if (link !== l) return 'closed'; // onClose() has already dropped it
      log.debug({ err }, 'status request after the job failed');
      return 'silent';
    }
  };

  /**
   * After the last byte has left: until the printer has processed the whole job (GS r, answered
   * in order with the print data), watching its real-time status meanwhile. Null: printed.
   */
  const waitUntilPrinted = async (l: PrinterLink, bytes: number, signal: AbortSignal): Promise<PrintOutcome | null> => {
    const unconfirmed = (why: string): null => {
      log.warn(
        { where: o.where, why, bytes },
        'the printer did not confirm the ticket; every byte was sent and no fault was reported, so it counts as printed',
      );
      drop(l, 'not-answering'); // a late answer would be read as the next one
      return null;
    };
    const allowMs = o.statusTimeoutMs + Math.ceil((bytes * 1000) / MIN_PRINTER_BYTES_PER_SEC);
    const processed = l.confirm(allowMs, signal).then(
      () => 'done' as const,
      () => 'no-answer' as const,
    );
    for (;;) {
      const r = await Promise.race([processed, new Promise<'tick'>((res) => clock.setTimeout(() => res('tick'), 300))]);
      if (r === 'done') break;
      if (r === 'no-answer') {
        if (signal.aborted) return unconfirmed('the job was called off after it was sent');
        if (link !== l) return { ok: false, reason: 'disconnected' };
        return unconfirmed(`no answer to GS r within ${allowMs} ms`);
      }
      // Paper out or cover open stops the printer mid-job: it will not answer GS r until
      // someone fixes it, but its real-time status says why (at once on a real printer, behind
      // the bytes it has yet to take in on a slow one).
      const s = await statusAfterJob(l, signal);
      if (s === 'closed') return { ok: false, reason: 'disconnected' };
      if (s === 'aborted') return unconfirmed('the job was called off after it was sent');
      if (s === 'silent') return unconfirmed('no answer to DLE EOT while printing');
      const now = state as PortState; // statusAfterJob() just changed it
      if (now.kind === 'faulted') {
        drop(l, now.reason); // the rest of the job must not print when the paper is back
        return { ok: false, reason: now.reason };
      }
    }
    // On paper; the status afterwards catches a printer that ran out right at the cut.
    const after = await statusAfterJob(l, signal);
    if (after === 'silent' || after === 'aborted') return unconfirmed('no answer to DLE EOT after the job');
    // 'closed' after GS r was answered: the ticket is out; the port reconnects by itself.
    const now = state as PortState;
    if (after === 'answered' && now.kind === 'faulted') return { ok: false, reason: now.reason };
    return null;
  };

  const print = (bytes: Uint8Array, signal: AbortSignal): Promise<PrintOutcome> =>
    exclusive(async (): Promise<PrintOutcome> => {
      const started = clock.now();
      const l = link;
      if (!l) return { ok: false, reason: state.kind === 'faulted' ? state.reason : 'not-connected' };
      // Its own timer, not AbortSignal.timeout(): a timeout signal held only by AbortSignal.any()
      // can be garbage-collected before it fires (seen with a 16 MB job), and the job then runs
      // on until the caller gives up.
      const deadline = new AbortController();
      const deadlineTimer = clock.setTimeout(() => deadline.abort(new Error(`the job took over ${o.jobTimeoutMs} ms to send`)), o.jobTimeoutMs);
      const sending = AbortSignal.any([signal, lifetime.signal, deadline.signal]);
      try {
        if (!(await refresh(sending, l))) {
          log.warn({ where: o.where }, 'printer did not answer before the job');
          return { ok: false, reason: 'not-answering' };
        }
        if (state.kind === 'faulted') return { ok: false, reason: state.reason };
        await l.write(bytes, sending);
      } catch (err) {
        const reason = signal.aborted ? 'cancelled' : deadline.signal.aborted ? 'timeout' : 'disconnected';
        log.warn({ where: o.where, reason, err: errorReason(err) }, 'print job failed while sending');
        drop(l, reason === 'timeout' ? 'job-timeout' : 'disconnected'); // a half-sent job must not finish later
        return { ok: false, reason };
      } finally {
        clock.clearTimeout(deadlineTimer);
      }
      // Every byte has left: from here only the printer (a fault) or the link closing can fail
      // the job, and the job's send deadline no longer applies.
      drainingUntil = clock.now() + Math.ceil((bytes.length * 1000) / MIN_PRINTER_BYTES_PER_SEC);
      const failed = await waitUntilPrinted(l, bytes.length, AbortSignal.any([signal, lifetime.signal]));
      if (failed) {
        log.warn({ where: o.where, reason: failed.ok ? '' : failed.reason }, 'print job did not complete');
        return failed;
      }
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
  if (e?.code === 'EACCES')
    return 'permission denied (the printer should be group kioskd: is /etc/udev/rules.d/99-kioskd.rules installed? then udevadm trigger)';
  return e?.message ?? String(err);
}
