import type { Config, PrinterConfig } from '../config/schema.js';
import type { PortState, TicketPrinter } from '../hal/ports.js';
import type { Logger } from '../log/logger.js';
import { createWorkerEncoder } from '../printing/encoder.js';
import { selftestTicket } from '../printing/ticket/test-ticket.js';
import { absentVerdict, errorText, fail, firstState, pass, seconds, type Check, type Verdict } from './check.js';

export interface PrinterCheckDeps {
  readonly config: Pick<Config, 'hal' | 'ticket' | 'kiosk'>;
  readonly deviceId: string;
  readonly printer: TicketPrinter;
  readonly wallClock: () => Date;
  readonly log: Logger;
  readonly limitMs: number;
}

/**
 * Prints a test ticket (no patient on it) straight to the printer port and passes only if the
 * printer took all of it and still has paper: the port checks the status before and after
 * the job. The spooler and its journal are left out on purpose: a test ticket is not a queue
 * number, and the journal belongs to the kioskd user, not to whoever runs the selftest.
 */
export function printerCheck(d: PrinterCheckDeps): Check {
  const cfg = d.config.hal.printer;
  // Reaching the printer, plus the longest a job may take (the config's own limit).
  const limitMs = d.limitMs + (cfg.driver === 'none' ? 0 : cfg.jobTimeoutMs);
  return {
    name: 'printer',
    limitMs,
    async run(signal): Promise<Verdict> {
      if (cfg.driver === 'none') return absentVerdict('printer', 'hal.printer.driver', d.config.kiosk.requiredPorts.includes('printer'));
      const where = printerWhere(cfg);
      await d.printer.open(signal);
      const before = await firstState(d.printer, signal);
      if (!before) return fail(`not reachable at ${where} (no answer within ${seconds(d.limitMs)})`);
      if (before.kind === 'faulted' || before.kind === 'absent') return fail(explain(before.reason, where));
      const encoder = createWorkerEncoder(
        { ...d.config.ticket, paperMm: cfg.paperMm },
        { model: cfg.model, paperMm: cfg.paperMm, text: cfg.text },
        d.log,
      );
      try {
        let bytes: Uint8Array;
        try {
          bytes = await encoder.encode(selftestTicket(d.deviceId, d.wallClock()));
        } catch (err) {
          return fail(`cannot lay out the test ticket: ${errorText(err)}`);
        }
        const outcome = await d.printer.print(bytes, signal);
        if (!outcome.ok)
          return fail(
            signal.aborted && outcome.reason === 'cancelled'
              ? `the test ticket did not finish printing within ${seconds(limitMs)}`
              : explain(outcome.reason, where),
          );
        const after: PortState = d.printer.state();
        const note = after.kind === 'degraded' ? `; ${explain(after.reason, where)}` : '';
        return pass(`test ticket printed (${outcome.bytes} bytes) at ${where}${note}`);
      } finally {
        await encoder.close();
      }
    },
  };
}

export function printerWhere(cfg: Exclude<PrinterConfig, { driver: 'none' }>): string {
  switch (cfg.driver) {
    case 'tcp':
      return `tcp://${cfg.host}:${cfg.port}`;
    case 'device':
      return cfg.path;
    case 'usb':
      return `usb ${cfg.vendorId.toString(16).padStart(4, '0')}:${cfg.productId.toString(16).padStart(4, '0')}`;
  }
}

/** The printer port's reason words, as a technician reads them. */
export function explain(reason: string, where: string): string {
  switch (reason) {
    case 'paper-out':
      return 'out of paper';
    case 'paper-near-end':
      return 'paper near end';
    case 'cover-open':
      return 'cover open';
    case 'printer-error':
      return 'printer error (paper jam or cutter fault?)';
    case 'offline':
      return 'printer offline';
    case 'not-answering':
      return `not answering at ${where}`;
    case 'not-connected':
    case 'disconnected':
      return `connection lost at ${where}`;
    case 'timeout':
    case 'job-timeout':
      return 'the test ticket did not finish printing in time';
    default:
      return `not reachable at ${where} (${reason}${/busy/.test(reason) ? '; is the kioskd service still running?' : ''})`;
  }
}
