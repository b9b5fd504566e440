/**
 * The channels of the MQTT contract (topic, retained or not, QoS, direction, payload) that
 * docs/mqtt.asyncapi.yaml is generated from. Addresses come from the daemon's own topic
 * function, so they cannot drift.
 */
import type { z } from 'zod';
import { kioskTopics } from '../topics.js';
import { commandPayloads, commandResponse, commandSpecs, anyCommand, type CommandName } from './commands.js';
import { eventData, eventPayloads, type EventKind } from './events.js';
import { RETAINED_TEXT, lastWill, retainedPayloads } from './retained.js';

export type RetainedKind = keyof typeof retainedPayloads;

export const RETAINED_KINDS = Object.keys(retainedPayloads) as readonly RetainedKind[];
export const EVENT_KINDS = Object.keys(eventData) as readonly EventKind[];
export const COMMAND_NAMES = Object.keys(commandSpecs) as readonly CommandName[];

export interface MessageSpec {
  /** Unique in the contract; the AsyncAPI message and schema name. */
  readonly name: string;
  readonly title: string;
  /** One line on what it says (the payload's own description holds the details). */
  readonly summary: string;
  readonly contentType: 'application/json' | 'text/plain';
  readonly payload: z.ZodType;
  /** Not published by the kiosk itself but by the broker on its behalf: the MQTT last will. */
  readonly lastWill?: true;
}

export interface ChannelSpec {
  /** Unique key, e.g. status, event.alert, cmd.ping, cmd.ping.response. */
  readonly id: string;
  /** The topic, with {prefix} (mqtt.topicPrefix), {deviceId} (device.id) and, for other commands, {command}. */
  readonly address: string;
  readonly title: string;
  readonly description: string;
  /** From the kiosk's side: it publishes (send) or subscribes (receive). */
  readonly action: 'send' | 'receive';
  readonly retained: boolean;
  readonly qos: 0 | 1 | 2;
  /** Carries an MQTT 5 message expiry (mqtt.eventExpirySec): events only. */
  readonly expires: boolean;
  readonly messages: readonly MessageSpec[];
  /** For a command: the id of the channel its answer goes to. */
  readonly replyChannel?: string;
}

/** Topic templates built by the daemon's own topic function. */
const T = kioskTopics('{prefix}', '{deviceId}');
const commandTopic = T.command;
const json = 'application/json' as const;
/** What every channel but the retained ones shares: not retained, QoS 1, no expiry. */
const plain = { retained: false, qos: 1, expires: false } as const;

function retainedChannel(kind: RetainedKind): ChannelSpec {
  const will: MessageSpec = {
    name: 'lastWill',
    title: 'Last will',
    summary: 'offline, published by the broker for a kiosk that vanished.',
    contentType: 'text/plain',
    payload: lastWill,
    lastWill: true,
  };
  const own: MessageSpec = {
    name: kind,
    title: RETAINED_TEXT[kind].title,
    summary: retainedPayloads[kind].description ?? '',
    contentType: kind === 'status' ? 'text/plain' : json,
    payload: retainedPayloads[kind],
  };
  return {
    id: kind,
    address: T.retained(kind),
    ...RETAINED_TEXT[kind],
    action: 'send',
    retained: true,
    qos: 1,
    expires: false,
    messages: kind === 'status' ? [own, will] : [own],
  };
}

function eventChannel(kind: EventKind): ChannelSpec {
  const summary = eventData[kind].description ?? '';
  return {
    id: `event.${kind}`,
    address: T.event(kind),
    title: `Event ${kind}`,
    description: `${summary} Not retained; kept in a bounded ring while the broker is away, and expires after mqtt.eventExpirySec (MQTT 5).`,
    action: 'send',
    retained: false,
    qos: 1,
    expires: true,
    messages: [{ name: `event.${kind}`, title: `Event ${kind}`, summary, contentType: json, payload: eventPayloads[kind] }],
  };
}

function commandChannels(name: CommandName): ChannelSpec[] {
  const spec = commandSpecs[name];
  const ask: ChannelSpec = {
    id: `cmd.${name}`,
    address: commandTopic(name),
    title: `Command ${name}`,
    description: `${spec.summary} Publish without the retain flag (a retained command is ignored).`,
    action: 'receive',
    ...plain,
    messages: [{ name: `cmd.${name}`, title: `Command ${name}`, summary: spec.summary, contentType: json, payload: commandPayloads[name].request }],
    replyChannel: `cmd.${name}.response`,
  };
  const answer: ChannelSpec = {
    id: `cmd.${name}.response`,
    address: T.response(name),
    title: `Answer to ${name}`,
    description: `The answer to ${name}, echoing the request's transaction. Sent only while connected.`,
    action: 'send',
    ...plain,
    messages: [
      {
        name: `cmd.${name}.response`,
        title: `Answer to ${name}`,
        summary: `ok with ${spec.answer}, or error with the reason.`,
        contentType: json,
        payload: commandPayloads[name].response,
      },
    ],
  };
  return [ask, answer];
}

function otherCommandChannels(): ChannelSpec[] {
  const title = 'Any other command';
  const answerTitle = 'Answer to any other command';
  return [
    {
      id: 'cmd.other',
      address: commandTopic('{command}'),
      title,
      description: 'The kiosk subscribes to every command name; one it does not know gets an error answer listing those it does.',
      action: 'receive',
      ...plain,
      messages: [{ name: 'cmd.other', title, summary: 'Any JSON object; answered with an error.', contentType: json, payload: anyCommand }],
      replyChannel: 'cmd.other.response',
    },
    {
      id: 'cmd.other.response',
      address: T.response('{command}'),
      title: answerTitle,
      description: 'status error, with the commands the kiosk knows.',
      action: 'send',
      ...plain,
      messages: [
        {
          name: 'cmd.other.response',
          title: answerTitle,
          summary: 'status error: unknown command, with the known ones.',
          contentType: json,
          payload: commandResponse,
        },
      ],
    },
  ];
}

export const CHANNELS: readonly ChannelSpec[] = [
  ...RETAINED_KINDS.map(retainedChannel),
  ...EVENT_KINDS.map(eventChannel),
  ...COMMAND_NAMES.flatMap(commandChannels),
  ...otherCommandChannels(),
];

/** The channel a concrete topic belongs to: an exact command before the catch-all {command}. */
export function channelOf(topic: string, prefix: string, deviceId: string): ChannelSpec | null {
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const matches = (c: ChannelSpec): boolean => {
    const pattern = c.address
      .split(/(\{[a-zA-Z]+\})/)
      .map((part) =>
        part === '{prefix}' ? escape(prefix) : part === '{deviceId}' ? escape(deviceId) : /^\{[a-zA-Z]+\}$/.test(part) ? '[^/]+' : escape(part),
      )
      .join('');
    return new RegExp(`^${pattern}$`).test(topic);
  };
  const hits = CHANNELS.filter(matches);
  return hits.find((c) => !c.address.includes('{command}')) ?? hits[0] ?? null;
}
