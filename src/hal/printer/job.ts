import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../util/clock.js';
import type { PortState, PrintOutcome } from '../ports.js';
import { openFault, type Fault, type Supervisor } from '../supervised-port.js';
import type { PrinterOptions } from './printer.js';
import type { PrinterStatus } from './status.js';
import type { PrinterLink } from './transport.js';

/**
 * The slowest a working receipt printer is assumed to take a job in, in bytes per second
 * (a constant, not a config key: issue 15 item 6). A raster ticket is ~47 KB; a thermal
 * printer printing it at even 30 mm/s takes ~17 KB/s, and hw-sim's "slow printer" 20 KB/s.
 * After the last byte has left, a status request waits behind the bytes still in the socket
 * and the printer's buffer, so its time limit is stretched by bytes / this rate: ~12 s for a
 * raster ticket, under 0.2 s for a cp1258 one.
 */
export const MIN_PRINTER_BYTES_PER_SEC = 4000;

/** What a print job needs from its printer port (printer.ts). */
export interface PrinterSession {
  readonly o: PrinterOptions;
  readonly clock: Clock;
  readonly log: Logger;
  readonly port: Supervisor<PrinterLink>;
  /** Reads the status into the port state; false (and the link dropped) if the printer did not answer. */
  refresh(signal: AbortSignal, l: PrinterLink): Promise<boolean>;
  /** Reads the status into the port state; rejects if the printer did not answer. */
  readStatus(l: PrinterLink, signal: AbortSignal): Promise<PrinterStatus>;
  drop(l: PrinterLink, f: Fault): void;
  /** The printer may still be taking in a job until this clock time. */
  draining(untilMs: number): void;
}

/** One job on the link (run exclusively: no poll or other job meanwhile). See createTicketPrinter for what "printed" means. */
export async function sendJob(s: PrinterSession, bytes: Uint8Array, signal: AbortSignal): Promise<PrintOutcome> {
  const { o, clock, log, port } = s;
  const started = clock.now();
  const l = port.link;
  if (!l) {
    const now = port.state();
    return { ok: false, reason: now.kind === 'faulted' ? now.reason : 'not-connected' };
  }
  // Its own timer, not AbortSignal.timeout(): a timeout signal held only by AbortSignal.any()
  // can be garbage-collected before it fires (seen with a 16 MB job), and the job then runs
  // on until the caller gives up.
  const deadline = new AbortController();
  const deadlineTimer = clock.setTimeout(() => deadline.abort(new Error(`the job took over ${o.jobTimeoutMs} ms to send`)), o.jobTimeoutMs);
  const sending = AbortSignal.any([signal, port.signal, deadline.signal]);
  try {
    if (!(await s.refresh(sending, l))) {
      log.warn({ where: o.where }, 'printer did not answer before the job');
      return { ok: false, reason: 'not-answering' };
    }
    const now = port.state();
    if (now.kind === 'faulted') return { ok: false, reason: now.reason };
    await l.write(bytes, sending);
  } catch (err) {
    const reason = signal.aborted ? 'cancelled' : deadline.signal.aborted ? 'timeout' : 'disconnected';
    log.warn({ where: o.where, reason, err: openFault(err, 'printer').reason }, 'print job failed while sending');
    // A half-sent job must not finish later.
    s.drop(l, reason === 'timeout' ? { code: 'job-timeout', reason: 'job-timeout' } : { code: 'disconnected', reason: 'disconnected' });
    return { ok: false, reason };
  } finally {
    clock.clearTimeout(deadlineTimer);
  }
  // Every byte has left: from here only the printer (a fault) or the link closing can fail
  // the job, and the job's send deadline no longer applies.
  s.draining(clock.now() + Math.ceil((bytes.length * 1000) / MIN_PRINTER_BYTES_PER_SEC));
  const failed = await waitUntilPrinted(s, l, bytes.length, AbortSignal.any([signal, port.signal]));
  if (failed) {
    log.warn({ where: o.where, reason: failed.ok ? '' : failed.reason }, 'print job did not complete');
    return failed;
  }
  return { ok: true, ms: clock.now() - started, bytes: bytes.length };
}

/**
 * The status once a job's bytes have left: what the printer said, that it did not answer
 * (even allowing for the bytes it still had to take in), that the link closed, or that the
 * job was called off. Does not drop the link: the caller decides.
 */
async function statusAfterJob(s: PrinterSession, l: PrinterLink, signal: AbortSignal): Promise<'answered' | 'silent' | 'closed' | 'aborted'> {
  if (s.port.link !== l) return signal.aborted ? 'aborted' : 'closed';
  try {
    await s.readStatus(l, signal);
    return 'answered';
  } catch (err) {
    if (signal.aborted) return 'aborted'; // the caller gave up, or the port is closing (and dropped the link)
    if (s.port.link !== l) return 'closed'; // onClose() has already dropped it
    s.log.debug({ err }, 'status request after the job failed');
    return 'silent';
  }
}

/**
 * After the last byte has left: until the printer has processed the whole job (GS r, answered
 * in order with the print data), watching its real-time status meanwhile. Null: printed.
 */
async function waitUntilPrinted(s: PrinterSession, l: PrinterLink, bytes: number, signal: AbortSignal): Promise<PrintOutcome | null> {
  const { o, clock, log, port } = s;
  const unconfirmed = (why: string): null => {
    log.warn(
      { where: o.where, why, bytes },
      'the printer did not confirm the ticket; every byte was sent and no fault was reported, so it counts as printed',
    );
    s.drop(l, { code: 'not-answering', reason: 'not-answering' }); // a late answer would be read as the next one
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
      if (port.link !== l) return { ok: false, reason: 'disconnected' };
      return unconfirmed(`no answer to GS r within ${allowMs} ms`);
    }
    // Paper out or cover open stops the printer mid-job: it will not answer GS r until
    // someone fixes it, but its real-time status says why (at once on a real printer, behind
    // the bytes it has yet to take in on a slow one).
    const after = await statusAfterJob(s, l, signal);
    if (after === 'closed') return { ok: false, reason: 'disconnected' };
    if (after === 'aborted') return unconfirmed('the job was called off after it was sent');
    if (after === 'silent') return unconfirmed('no answer to DLE EOT while printing');
    const now: PortState = port.state();
    if (now.kind === 'faulted') {
      s.drop(l, { code: now.code, reason: now.reason }); // the rest of the job must not print when the paper is back
      return { ok: false, reason: now.reason };
    }
  }
  // On paper; the status afterwards catches a printer that ran out right at the cut.
  const after = await statusAfterJob(s, l, signal);
  if (after === 'silent' || after === 'aborted') return unconfirmed('no answer to DLE EOT after the job');
  // 'closed' after GS r was answered: the ticket is out; the port reconnects by itself.
  const now = port.state();
  if (after === 'answered' && now.kind === 'faulted') return { ok: false, reason: now.reason };
  return null;
}
