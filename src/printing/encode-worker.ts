/**
 * Ticket rendering off the main thread: laying a ticket out as pictures takes 50–60 ms of
 * solid CPU, which would stall the kiosk's event loop (MQTT, buttons, the watchdog) on every
 * patient. Messages: { id, ticket } in, { id, bytes } or { id, error } out.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { encodeTicket, type EncodeOptions } from '../hal/printer/encode.js';
import { layoutTicket } from './ticket/layout.js';
import { createTicketRenderer } from './ticket/raster.js';
import type { Ticket, TicketTemplate } from './ticket/ticket.js';

const { template, settings } = workerData as { template: TicketTemplate; settings: EncodeOptions };
const renderer = await createTicketRenderer();
parentPort!.on('message', ({ id, ticket }: { id: number; ticket: Ticket }) => {
  try {
    const bytes = new Uint8Array(encodeTicket(layoutTicket(ticket, template), settings, renderer));
    parentPort!.postMessage({ id, bytes }, [bytes.buffer]);
  } catch (err) {
    // Only the error's name: its message could quote the ticket's text (the patient's name).
    parentPort!.postMessage({ id, error: err instanceof Error ? err.name : 'Error' });
  }
});
