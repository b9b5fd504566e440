import { randomUUID } from 'node:crypto';
import type { MqttLink } from './link.js';
import type { EventEnvelope, EventTopics, KioskTopicNames, RetainedTopics } from './topics.js';

/** The only way kiosk code publishes: typed by topic, so a payload cannot drift from the contract. */
export interface KioskPublisher {
  retained<K extends keyof RetainedTopics>(kind: K, payload: RetainedTopics[K]): void;
  event<K extends keyof EventTopics>(kind: K, data: EventTopics[K]): void;
}

export function createPublisher(link: MqttLink, topics: KioskTopicNames, eventExpirySec: number, wallClock: () => Date): KioskPublisher {
  return {
    retained(kind, payload) {
      // status is a bare word ("online") so any MQTT tool shows it plainly; the rest is JSON.
      link.publishRetained(topics.retained(kind), typeof payload === 'string' ? payload : JSON.stringify(payload));
    },
    event(kind, data) {
      const envelope: EventEnvelope<typeof data> = { id: randomUUID(), ts: wallClock().toISOString(), data };
      link.publishEvent(topics.event(kind), JSON.stringify(envelope), eventExpirySec);
    },
  };
}

/** The event that reports events lost while the broker was away. */
export function dropReportEvent(topics: KioskTopicNames, eventExpirySec: number, wallClock: () => Date) {
  return (count: number) => {
    const envelope: EventEnvelope<EventTopics['alert']> = {
      id: randomUUID(),
      ts: wallClock().toISOString(),
      data: { level: 'warning', code: 'mqtt.events_dropped', message: `${count} event(s) were dropped while the broker was unreachable`, count },
    };
    return { topic: topics.event('alert'), payload: JSON.stringify(envelope), expirySec: eventExpirySec };
  };
}
