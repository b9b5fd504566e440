/**
 * The ticket spooler's lifetime in the daemon: it hears the printer's state (a ticket held for
 * a reprint goes out when the printer is back), and on stop a ticket on its way to the printer
 * may finish (its number must not be torn off) before the spooler and encoder close.
 */
import type { TicketPrinter } from '../hal/ports.js';
import type { TicketSpooler } from '../printing/spooler.js';
import type { Feature } from '../daemon/feature.js';

export interface TicketPrintingDeps {
  readonly printer: Pick<TicketPrinter, 'onStateChange'>;
  readonly spooler: Pick<TicketSpooler, 'printerChanged' | 'settle' | 'close'>;
  readonly encoder: { close(): Promise<void> };
  readonly graceMs: number;
}

export interface TicketPrinting extends Feature {
  /** Aborted once the spooler has closed: a test print or a retry in flight gives up. */
  readonly lifetime: AbortSignal;
}

export function ticketPrinting(d: TicketPrintingDeps): TicketPrinting {
  const lifetime = new AbortController();
  let unsubscribe = () => {};
  return {
    name: 'ticket-printing',
    lifetime: lifetime.signal,
    start() {
      unsubscribe = d.printer.onStateChange(() => d.spooler.printerChanged(lifetime.signal));
    },
    async stop() {
      await d.spooler.settle(d.graceMs);
      d.spooler.close();
      lifetime.abort(new Error('stopping'));
      unsubscribe();
      await d.encoder.close();
    },
  };
}
