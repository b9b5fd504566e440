import type { z } from 'zod';
import type { commandResponse } from './contract/commands.js';
import type { envelope, eventData } from './contract/events.js';
import type { faceIdInfo, retainedPayloads } from './contract/retained.js';
import type { Frozen } from './contract/shared.js';

/**
 * The MQTT contract's payload types, inferred from its zod schemas (contract/), and the topic
 * names. Publishing goes through these types only. No payload may carry personal data (names,
 * ID numbers, dates of birth, images): only device health, states and anonymous counters.
 * Field names are snake_case JSON; changes are additive, a breaking change bumps `schema` in info.
 */
type Infer<S extends z.ZodType> = Frozen<z.infer<S>>;

/** Retained topics: the latest value is what a monitor needs, and it is republished on every connect. */
export type RetainedTopics = { readonly [K in keyof typeof retainedPayloads]: Infer<(typeof retainedPayloads)[K]> };
export type Availability = RetainedTopics['status'];
export type InfoPayload = RetainedTopics['info'];
export type StatePayload = RetainedTopics['state'];
export type HealthPayload = RetainedTopics['health'];
export type FaceIdInfo = Infer<typeof faceIdInfo>;

/** Non-retained events, under kiosk/<id>/event/<kind>: the `data` of each. Each carries an id and expires. */
export type EventTopics = { readonly [K in keyof typeof eventData]: Infer<(typeof eventData)[K]> };
export type AlertPayload = EventTopics['alert'];
export type CheckinEndEvent = EventTopics['checkin.completed'];
/** A queue ticket's life: no personal data, only the ticket id, its number and department. */
export type TicketEvent = Pick<EventTopics['ticket.printed'], 'ticket_id' | 'number' | 'department'>;
/** Every event's envelope around its data. */
export type EventEnvelope<T> = Omit<Infer<ReturnType<typeof envelope>>, 'data'> & { readonly data: T };

export type CommandResponse = Infer<typeof commandResponse>;

export interface KioskTopicNames {
  readonly base: string;
  retained(kind: keyof RetainedTopics): string;
  event(kind: keyof EventTopics): string;
  readonly commandFilter: string;
  /** Where a command is sent. */
  command(name: string): string;
  /** The command name if `topic` is a command for this kiosk, else null. */
  commandName(topic: string): string | null;
  response(command: string): string;
}

export function kioskTopics(prefix: string, deviceId: string): KioskTopicNames {
  for (const [what, level] of [
    ['prefix', prefix],
    ['device id', deviceId],
  ] as const) {
    if (level === '' || /[+#/]/.test(level)) throw new Error(`MQTT ${what} "${level}" must be one non-empty topic level without + # /`);
  }
  const base = `${prefix}/${deviceId}`;
  const cmdPrefix = `${base}/cmd/`;
  return {
    base,
    retained: (kind) => `${base}/${kind}`,
    event: (kind) => `${base}/event/${kind}`,
    commandFilter: `${cmdPrefix}+`,
    command: (name) => `${cmdPrefix}${name}`,
    commandName: (topic) => {
      if (!topic.startsWith(cmdPrefix)) return null;
      const name = topic.slice(cmdPrefix.length);
      return name === '' || name.includes('/') ? null : name;
    },
    response: (command) => `${cmdPrefix}${command}/response`,
  };
}

/** Every topic of one kiosk, or of all kiosks under `prefix` when `deviceId` is omitted: what a consumer subscribes to. */
export function kioskFilter(prefix: string, deviceId?: string): string {
  return `${prefix}/${deviceId ?? '+'}/#`;
}

/** What a topic under `<prefix>/<kiosk>/` is, as a consumer reads it. */
export type KioskTopic =
  | { readonly kiosk: string; readonly kind: keyof RetainedTopics }
  | { readonly kiosk: string; readonly kind: 'event'; readonly event: string }
  | { readonly kiosk: string; readonly kind: 'command'; readonly command: string }
  | { readonly kiosk: string; readonly kind: 'response'; readonly command: string };

const RETAINED_TOPICS = new Set<string>(['status', 'info', 'state', 'health']);

/** The kiosk and kind of a topic under `prefix`, or null for a topic that is not a kiosk's. */
export function parseKioskTopic(prefix: string, topic: string): KioskTopic | null {
  const levels = topic.split('/');
  if (levels[0] !== prefix || levels.length < 3) return null;
  const kiosk = levels[1]!;
  if (kiosk === '') return null;
  const [a = '', b = '', c] = levels.slice(2);
  const depth = levels.length - 2;
  if (depth === 1 && RETAINED_TOPICS.has(a)) return { kiosk, kind: a as keyof RetainedTopics };
  if (depth === 2 && a === 'event' && b !== '') return { kiosk, kind: 'event', event: b };
  if (depth === 2 && a === 'cmd' && b !== '') return { kiosk, kind: 'command', command: b };
  if (depth === 3 && a === 'cmd' && c === 'response') return { kiosk, kind: 'response', command: b };
  return null;
}
