import { performance } from 'node:perf_hooks';
import pino from 'pino';
import type { TicketPrinter } from '../src/hal/ports.js';
import { encodeTicket, type TextMode } from '../src/hal/printer/encode.js';
import { createTicketPrinter } from '../src/hal/printer/printer.js';
import { tcpPrinter } from '../src/hal/printer/transport.js';
import { createTicketRenderer } from '../src/printing/ticket/raster.js';
import { layoutTicket } from '../src/printing/ticket/layout.js';
import { sampleTicket, testTicketNumber } from '../src/printing/ticket/test-ticket.js';
import { systemClock } from '../src/util/clock.js';
import { VirtualPrinter, type PrintedTicket } from './devices/printer.js';

export interface SampleResult {
  readonly ticket: PrintedTicket;
  readonly bytes: number;
  readonly encodeMs: number;
  readonly printMs: number;
}

/**
 * `hw-sim print-sample`: the daemon's own encoder and printer driver print the sample ticket to
 * a virtual printer over TCP, which writes what it printed as PNG and text to `outDir`.
 */
export async function printSample(o: { outDir: string; paperMm: 80 | 58; text: TextMode; model?: string }): Promise<SampleResult> {
  const printer = await VirtualPrinter.start({ outDir: o.outDir, paperMm: o.paperMm });
  const port = driverFor(printer, { baseMs: 200, maxMs: 1000 });
  const ready = new Promise<void>((resolve) => port.onStateChange((s) => s.kind === 'ready' && resolve()));
  try {
    await port.open(AbortSignal.timeout(10_000));
    await ready;
    const renderer = await createTicketRenderer();
    const t0 = performance.now();
    const template = {
      hospital: 'BỆNH VIỆN ĐA KHOA TỈNH',
      subtitle: 'Ki-ốt tiếp đón tự động',
      footer: 'Vui lòng chờ gọi số. Xin cảm ơn!',
      showName: true,
      timeZone: 'Asia/Ho_Chi_Minh',
      paperMm: o.paperMm,
    };
    const id = `sample-${Date.now()}`;
    const bytes = encodeTicket(
      layoutTicket(sampleTicket(id, testTicketNumber(id), new Date()), template),
      { model: o.model ?? 'epson-tm-t20iii', paperMm: o.paperMm, text: o.text },
      renderer,
    );
    const encodeMs = performance.now() - t0;
    const printed = new Promise<PrintedTicket>((resolve) => printer.onTicket(resolve));
    const t1 = performance.now();
    const outcome = await port.print(bytes, AbortSignal.timeout(30_000));
    if (!outcome.ok) throw new Error(`the sample did not print: ${outcome.reason}`);
    const printMs = performance.now() - t1;
    const ticket = await printed;
    return { ticket, bytes: bytes.length, encodeMs, printMs };
  } finally {
    await port.close();
    await printer.stop();
  }
}

/** The daemon's own ESC/POS driver on a virtual printer over TCP, silent, its idle status poll once a minute. */
export function driverFor(printer: VirtualPrinter, reconnect: { readonly baseMs: number; readonly maxMs: number }): TicketPrinter {
  return createTicketPrinter(
    {
      driver: 'escpos-tcp',
      where: printer.url,
      openLink: tcpPrinter(printer.host, printer.tcpPort),
      pollMs: 60_000,
      statusTimeoutMs: 1500,
      jobTimeoutMs: 20_000,
      reconnect,
    },
    { clock: systemClock(), log: pino({ level: 'silent' }), random: Math.random },
  );
}
