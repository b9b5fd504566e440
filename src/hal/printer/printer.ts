import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../util/clock.js';
import type { DriverDeps, PortCode, PortState, TicketPrinter } from '../ports.js';
import { supervise, type Fault } from '../supervised-port.js';
import { sendJob, type PrinterSession } from './job.js';
import { decodeStatus, portStateOf, type PrinterStatus } from './status.js';
import type { PrinterLink, PrinterLinkOpener } from './transport.js';

export { MIN_PRINTER_BYTES_PER_SEC } from './job.js';

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
  let status: PrinterStatus | null = null;
  let pollTimer: unknown = null;
  /** Serialises jobs and polls on the one link. */
  const exclusive = serialQueue();

  const port = supervise<PrinterLink>({
    where: o.where,
    device: 'printer',
    deps,
    retry: { ...o.reconnect, random: deps.random },
    onChange: logStateChange(log, o.where),
    open: (signal) => o.openLink(signal),
    close: (l) => l.close(),
    attachSetsState: true,
    async attach(l) {
      l.onClose((reason) => {
        if (port.link !== l) return;
        status = null;
        port.lost(l, fault('disconnected'), reason);
      });
      if (await exclusive(() => refresh(port.signal))) schedulePoll();
    },
    say: { cannotOpen: 'cannot reach the printer; retrying', lost: 'printer connection lost; retrying' },
  });

  const ask = statusAsker(o.statusTimeoutMs, clock);
  const readStatus = async (l: PrinterLink, signal: AbortSignal): Promise<PrinterStatus> => {
    status = await ask.read(l, signal);
    port.set(portStateOf(status));
    return status;
  };

  /**
   * Gives up on a link: after a timeout the byte stream may be out of step (a late answer
   * would be read as the next one), so a fresh connection is the only safe next step.
   */
  const drop = (l: PrinterLink, f: Fault): void => {
    if (port.link !== l) return;
    log.debug({ where: o.where, reason: f.reason }, 'dropping the printer link');
    status = null;
    clock.clearTimeout(pollTimer);
    port.drop(l, f);
  };

  /** Reads the status into the port state. False if the printer did not answer. */
  const refresh = async (signal: AbortSignal, l: PrinterLink | null = port.link): Promise<boolean> => {
    if (!l || l !== port.link) return false;
    try {
      await readStatus(l, signal);
      return true;
    } catch (err) {
      if (signal.aborted && !port.signal.aborted) return false; // the job's own deadline; the caller decides
      log.debug({ err }, 'status request failed');
      drop(l, fault('not-answering'));
      return false;
    }
  };

  const schedulePoll = (): void => {
    clock.clearTimeout(pollTimer);
    if (!port.running) return;
    pollTimer = clock.setTimeout(() => {
      void exclusive(() => refresh(port.signal)).finally(() => {
        if (port.link) schedulePoll();
      });
    }, o.pollMs);
  };

  const session: PrinterSession = { o, clock, log, port, refresh, drop, readStatus, draining: ask.draining };

  return {
    id: 'printer',
    driver: o.driver,
    // The port lives until close(), not as long as the open signal: a stop request must not
    // tear the ticket being printed; the daemon lets it finish (features/ticket-printing.ts), then closes the port.
    // Not awaited: boot never waits for a device.
    async open(signal) {
      if (!signal.aborted) void port.start();
    },
    async close() {
      clock.clearTimeout(pollTimer);
      port.stop();
    },
    state: port.state,
    status: () => status,
    onStateChange: port.onStateChange,
    print: (bytes, signal) => exclusive(() => sendJob(session, bytes, signal)),
  };
}

/** The printer's own faults say it in one word, the code itself. */
const fault = (code: PortCode): Fault => ({ code, reason: code });

/** Runs the calls one after another, whether the one before succeeded or not. */
function serialQueue(): <T>(fn: () => Promise<T>) => Promise<T> {
  let queue: Promise<unknown> = Promise.resolve();
  return (fn) => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };
}

function logStateChange(log: Logger, where: string): (next: PortState, before: PortState) => void {
  return (next, before) => {
    if (next.kind === 'faulted' || next.kind === 'degraded') log.warn({ where, state: next }, 'printer needs attention');
    else if (next.kind === 'ready' && (before.kind === 'faulted' || before.kind === 'degraded')) log.info({ where }, 'printer is ready again');
  };
}

/** DLE EOT 1, 2 and 4, decoded. */
function statusAsker(statusTimeoutMs: number, clock: Clock) {
  /**
   * Until when the printer may still be taking in the last job (clock time): a request sent
   * before then queues behind those bytes. Any answer means it has read everything sent before.
   */
  let drainingUntil = 0;
  return {
    draining: (untilMs: number) => void (drainingUntil = untilMs),
    async read(l: PrinterLink, signal: AbortSignal): Promise<PrinterStatus> {
      const printer = await l.query(1, statusTimeoutMs + Math.max(0, drainingUntil - clock.now()), signal);
      drainingUntil = 0;
      const cause = await l.query(2, statusTimeoutMs, signal);
      const paper = await l.query(4, statusTimeoutMs, signal);
      return decodeStatus(printer, cause, paper);
    },
  };
}
