import type { KioskPublisher } from '../mqtt/publisher.js';
import type { EventTopics } from '../mqtt/topics.js';
import type { TicketFateEvent } from '../printing/ledger.js';

type TicketTopic = 'ticket.printed' | 'ticket.failed' | 'ticket.reprinted' | 'ticket.voided';

/** One MQTT ticket event: its kind (`event/<kind>`) and its data, as the contract has them. */
export type TicketMqttEvent = { [K in TicketTopic]: { readonly kind: K; readonly data: EventTopics[K] } }[TicketTopic];

/**
 * The spooler's domain event as the MQTT event it is published as, or null for the steps that are
 * journalled only: `issued`, a reprint attempt that failed (a held ticket is announced once), and
 * `unknown` (at start, one `ticket.fate-unknown` alert covers them all).
 */
export function ticketEventToMqtt(e: TicketFateEvent): TicketMqttEvent | null {
  const ids = { ticket_id: e.ticketId, number: e.number, department: e.department };
  switch (e.type) {
    case 'printed':
      return { kind: 'ticket.printed', data: { ...ids, bytes: e.bytes, ms: Math.round(e.ms), reprint: false } };
    case 'held':
      return { kind: 'ticket.failed', data: { ...ids, reason: e.reason } };
    case 'reprinted':
      return { kind: 'ticket.reprinted', data: { ...ids, held_s: Math.round(e.heldMs / 1000) } };
    case 'voided':
      return { kind: 'ticket.voided', data: { ...ids, reason: e.reason } };
    case 'issued':
    case 'reprint-failed':
    case 'unknown':
      return null;
  }
}

/** Publishes the spooler's domain events that have an MQTT event, as the contract names them. */
export function publishTicketEvents(publish: Pick<KioskPublisher, 'event'>): (e: TicketFateEvent) => void {
  return (e) => {
    const m = ticketEventToMqtt(e);
    // One case per kind, so the compiler checks each payload against its topic.
    switch (m?.kind) {
      case 'ticket.printed':
        return publish.event(m.kind, m.data);
      case 'ticket.failed':
        return publish.event(m.kind, m.data);
      case 'ticket.reprinted':
        return publish.event(m.kind, m.data);
      case 'ticket.voided':
        return publish.event(m.kind, m.data);
    }
  };
}
