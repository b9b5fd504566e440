/**
 * Builds the AsyncAPI 3.0.0 document of the MQTT contract from contract.ts: every payload's
 * JSON Schema comes from its zod schema, every address from the daemon's topic function, so
 * docs/mqtt.asyncapi.yaml (written by scripts/asyncapi.ts) cannot say anything else.
 */
import { z } from 'zod';
import YAML from 'yaml';
import { configSchema } from '../config/schema.js';
import { CHANNELS, CONTRACT_SCHEMA, SHARED_SCHEMAS, type ChannelSpec, type MessageSpec } from './contract.js';

type Json = Record<string, unknown>;

const MQTT_BINDING = '0.2.0';
const schemaRef = (id: string): Json => ({ $ref: `#/components/schemas/${id}` });

/**
 * JSON Schema (draft-07, the AsyncAPI default schema format) of every named schema: the shared
 * ones and one per message, named after it. `ids` says which zod schema each came from.
 */
export function contractSchemas(): { readonly schemas: Readonly<Record<string, Json>>; readonly ids: ReadonlyMap<z.ZodType, string> } {
  const registry = z.registry<{ id: string }>();
  const ids = new Map<z.ZodType, string>();
  const name = (schema: z.ZodType, id: string): void => {
    const had = ids.get(schema);
    if (had !== undefined && had !== id) throw new Error(`one zod schema is named both ${had} and ${id}`);
    ids.set(schema, id);
    registry.add(schema, { id });
  };
  for (const [id, schema] of Object.entries(SHARED_SCHEMAS)) name(schema, id);
  for (const c of CHANNELS) for (const m of c.messages) name(m.payload, m.name);
  // io "input": no additionalProperties:false, because consumers must accept fields added
  // later (changes are additive); the contract test catches fields the schemas do not name.
  const out = z.toJSONSchema(registry, { target: 'draft-07', io: 'input', uri: (id) => `#/components/schemas/${id}` });
  const schemas: Record<string, Json> = {};
  for (const [id, s] of Object.entries(out.schemas)) schemas[id] = tidy(s) as Json;
  return { schemas, ids };
}

/**
 * Drops what only repeats the obvious: per-schema $schema/$id, integer bounds that are just
 * JS's safe range, and zod's long regex beside a standard format (uuid, date-time).
 */
function tidy(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(tidy);
  if (typeof node !== 'object' || node === null) return node;
  const o: Json = {};
  const formatted = 'format' in node && (node.format === 'uuid' || node.format === 'date-time');
  for (const [k, v] of Object.entries(node)) {
    if (k === '$schema' || k === '$id' || (k === 'pattern' && formatted)) continue;
    if ((k === 'minimum' && v === Number.MIN_SAFE_INTEGER) || (k === 'maximum' && v === Number.MAX_SAFE_INTEGER)) continue;
    o[k] = tidy(v);
  }
  return o;
}

const PARAMETERS: Record<string, Json> = {
  prefix: {
    description: 'mqtt.topicPrefix: the first topic level, shared by a fleet.',
    default: configSchema.shape.mqtt.parse(undefined).topicPrefix,
  },
  deviceId: { description: 'device.id: the kiosk (default: its hostname); one topic level without + # / or spaces.', examples: ['lobby-1'] },
  command: { description: 'Any command name the kiosk does not know.' },
};

function channelObject(c: ChannelSpec): Json {
  const params = [...c.address.matchAll(/\{([a-zA-Z]+)\}/g)].map((m) => m[1]!);
  return {
    address: c.address,
    title: c.title,
    description: c.description,
    parameters: Object.fromEntries(params.map((p) => [p, { $ref: `#/components/parameters/${p}` }])),
    messages: Object.fromEntries(c.messages.map((m) => [m.name, { $ref: `#/components/messages/${m.name}` }])),
  };
}

function messageObject(m: MessageSpec): Json {
  return {
    name: m.name,
    title: m.title,
    summary: m.summary,
    contentType: m.contentType,
    payload: schemaRef(m.name),
  };
}

const messageRef = (channelId: string, m: MessageSpec): Json => ({ $ref: `#/channels/${channelId}/messages/${m.name}` });
const TAG = (c: ChannelSpec): string => (c.retained ? 'retained' : c.expires ? 'event' : 'command');

function operations(eventExpirySec: number): Json {
  const byId = new Map(CHANNELS.map((c) => [c.id, c]));
  const ops: Json = {};
  for (const c of CHANNELS) {
    const bindings = (retain: boolean): Json => ({
      mqtt: {
        qos: c.qos,
        retain,
        ...(c.expires
          ? { messageExpiryInterval: { type: 'integer', default: eventExpirySec, description: 'mqtt.eventExpirySec; sent with MQTT 5 only.' } }
          : {}),
        bindingVersion: MQTT_BINDING,
      },
    });
    const own = c.messages.filter((m) => !m.lastWill);
    if (c.action === 'receive') {
      const reply = c.replyChannel === undefined ? undefined : byId.get(c.replyChannel);
      if (c.replyChannel !== undefined && !reply) throw new Error(`channel ${c.id} replies on unknown channel ${c.replyChannel}`);
      ops[`receive.${c.id}`] = {
        action: 'receive',
        channel: { $ref: `#/channels/${c.id}` },
        title: c.title,
        summary: c.description,
        messages: own.map((m) => messageRef(c.id, m)),
        ...(reply ? { reply: { channel: { $ref: `#/channels/${reply.id}` }, messages: reply.messages.map((m) => messageRef(reply.id, m)) } } : {}),
        tags: [{ name: TAG(c) }],
        bindings: bindings(false),
      };
      continue;
    }
    // A send channel that only answers a command is covered by that command's reply.
    if (CHANNELS.some((r) => r.replyChannel === c.id)) continue;
    ops[`send.${c.id}`] = {
      action: 'send',
      channel: { $ref: `#/channels/${c.id}` },
      title: c.title,
      summary: c.description,
      messages: own.map((m) => messageRef(c.id, m)),
      tags: [{ name: TAG(c) }],
      bindings: bindings(c.retained),
    };
    for (const m of c.messages.filter((x) => x.lastWill)) {
      ops[`send.${m.name}`] = {
        action: 'send',
        channel: { $ref: `#/channels/${c.id}` },
        title: m.title,
        summary: `${m.payload.description ?? ''} Registered at every connect; see the server's lastWill binding.`,
        messages: [messageRef(c.id, m)],
        tags: [{ name: TAG(c) }],
        bindings: bindings(c.retained),
      };
    }
  }
  return ops;
}

const DESCRIPTION = `What a kioskd kiosk publishes and accepts over MQTT. Topics live under \`{prefix}/{deviceId}/\` (\`kiosk/<device id>/\` by default):

- **retained** \`status\`, \`info\`, \`state\`, \`health\`: the latest value is what a monitor needs; all are republished on every (re)connect, \`status\` first.
- **events** \`event/<kind>\`: JSON \`{id, ts, data}\`, not retained; kept in a bounded ring while the broker is away (what overflows is reported as an \`alert\` with code \`mqtt.events_dropped\`) and, with MQTT 5, expiring after \`mqtt.eventExpirySec\`.
- **commands** \`cmd/<name>\`: a JSON object (empty payload = \`{}\`) with an optional \`transaction\`; the answer goes to \`cmd/<name>/response\` as \`{transaction, status: "ok" | "error", data?, error?}\`. Commands published with the retain flag are ignored.

Everything is published with QoS 1. No payload carries personal data: no names, dates of birth or images, and an ID number only masked to its last 4 digits. Field names are snake_case; changes are additive, and a breaking change bumps \`schema\` in \`info\` (this document's version).

Generated from src/mqtt/contract.ts by \`npm run asyncapi\`; do not edit by hand.`;

/** The AsyncAPI 3.0.0 document, as plain data. */
export function buildAsyncApi(): Json {
  const mqttDefaults = configSchema.shape.mqtt.parse(undefined);
  const { schemas } = contractSchemas();
  const status = CHANNELS.find((c) => c.id === 'status');
  const will = status?.messages.find((m) => m.lastWill);
  if (!status || !will) throw new Error('the contract has no status channel with a last will');
  const willPayload = will.payload.parse('offline');
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'kioskd MQTT contract',
      version: String(CONTRACT_SCHEMA),
      description: DESCRIPTION,
      license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
    },
    defaultContentType: 'application/json',
    servers: {
      broker: {
        host: 'broker.example:1883',
        protocol: 'mqtt',
        protocolVersion: '5',
        title: "The hospital's broker (placeholder)",
        description:
          'Each kiosk connects to its mqtt.url (mqtt://, mqtts://, ws:// or wss://) with a clean session. mqtt.protocol auto tries MQTT 5 and falls back to 3.1.1 when the broker refuses it; info.mqtt_protocol says which one is in use.',
        bindings: {
          mqtt: {
            cleanSession: true,
            keepAlive: mqttDefaults.keepaliveSec,
            lastWill: { topic: status.address, qos: status.qos, message: willPayload, retain: status.retained },
            bindingVersion: MQTT_BINDING,
          },
        },
      },
    },
    channels: Object.fromEntries(CHANNELS.map((c) => [c.id, channelObject(c)])),
    operations: operations(mqttDefaults.eventExpirySec),
    components: {
      schemas,
      messages: Object.fromEntries(CHANNELS.flatMap((c) => c.messages.map((m) => [m.name, messageObject(m)]))),
      parameters: PARAMETERS,
    },
  };
}

export const ASYNCAPI_HEADER = '# Generated from src/mqtt/contract.ts by `npm run asyncapi`: do not edit by hand.\n';

/** The document as committed in docs/mqtt.asyncapi.yaml. */
export function renderAsyncApiYaml(doc: Json = buildAsyncApi()): string {
  // YAML 1.1 rules for quoting, so "on", "off", "yes" stay strings for YAML 1.1 readers too.
  return ASYNCAPI_HEADER + YAML.stringify(doc, { version: '1.1', lineWidth: 0, aliasDuplicateObjects: false });
}

/** Where a committed copy differs from the generated one, in two lines (no diff tool needed). */
export function firstDifference(committed: string, generated: string): string {
  const a = committed.split('\n');
  const b = generated.split('\n');
  const i = a.findIndex((line, n) => line !== b[n]);
  const at = i === -1 ? a.length : i;
  return `first difference at line ${at + 1}:\n  committed: ${a[at] ?? '(end of file)'}\n  generated: ${b[at] ?? '(end of file)'}`;
}
