/**
 * The MQTT contract as data: a zod schema for every payload of the typed topic map in
 * topics.ts, and the list of channels (topic, retained or not, QoS, direction, payload) that
 * docs/mqtt.asyncapi.yaml is generated from. The types below are checked against topics.ts at
 * compile time, so neither can change without the other; the daemon itself does not load this.
 */
import { z } from 'zod';
import { LED_IDS, PORT_IDS, type PortState } from '../hal/ports.js';
import { OUTCOMES } from '../pipeline/steps.js';
import type { KioskMode } from '../pipeline/machine.js';
import type { KioskStatus } from '../pipeline/runtime.js';
import type { TestPrintResult } from '../printing/spooler.js';
import type { reconcileOnce } from '../checkin/reconcile.js';
import { kioskTopics, type Availability, type CommandResponse, type EventTopics, type RetainedTopics } from './topics.js';

/** info.schema: bumped by a breaking change to any payload (changes are otherwise additive). */
export const CONTRACT_SCHEMA = 1;

// ---------------------------------------------------------------------------------------------
// Shared pieces. Each is one instance, so the generated document names it once and refers to it.

const kioskMode = z
  .enum(['booting', 'idle', 'in-session', 'out-of-service', 'maintenance', 'stopping'])
  .describe(
    'What the kiosk is doing: booting, idle (ready for a card), in-session (serving a patient), out-of-service (a required device is missing or faulted), maintenance (set by a technician), stopping.',
  );

const portId = z.enum(PORT_IDS).describe('A device slot of the kiosk.');

const portState = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('absent'), reason: z.string().describe('Why: not fitted, not configured …') }),
    z.object({ kind: z.literal('connecting'), attempt: z.number().int().describe('Connection attempt, from 1.') }),
    z.object({ kind: z.literal('ready') }),
    z.object({ kind: z.literal('degraded'), reason: z.string().describe('The caveat, e.g. paper near end.') }),
    z.object({
      kind: z.literal('faulted'),
      reason: z.string().describe('What is wrong, e.g. paper out, cover open.'),
      retryInMs: z.exactOptional(z.number()).describe('When the driver tries again, if it will.'),
    }),
  ])
  .describe('The state of one device port.');

const ports = z.record(portId, portState).describe('Every port and its state.');

const leds = z
  .record(z.enum(LED_IDS), z.enum(['on', 'off', 'blink']))
  .describe('What the kiosk lamps show: ready, busy and error, each on, off or blinking.');

const outcome = z
  .enum(OUTCOMES)
  .describe(
    'How a check-in ended: printed (queue ticket), counter (sent to the reception counter), declined (no consent to the face check), face-mismatch, no-face, timeout (no answer), device-error, cancelled.',
  );

const step = z
  .string()
  .nullable()
  .describe(
    'The check-in step while a patient is served (consent, portrait, capture, verify, retry-pause, insurance, department, number, print, done), else null.',
  );
const sessionId = z.string().describe('The check-in session (a random id, not linked to the person outside the kiosk).');
const maskedCard = z
  .string()
  .regex(/^\*+\d{4}$/)
  .describe('The card number masked to its last 4 digits, e.g. "********1234": the only form an ID number may take on MQTT.');

// ---------------------------------------------------------------------------------------------
// Retained topics.

const availability = z
  .enum(['online', 'stopped', 'offline'])
  .describe('A bare word, not JSON: online (running), stopped (clean stop), offline (the last will: the connection was lost).');

const faceIdInfo = z
  .object({
    backend: z.string().describe('TensorFlow.js backend, e.g. wasm or tensorflow.'),
    recognizer: z.string().describe('Face recogniser model name.'),
    model_sha256: z.string().describe('SHA-256 of the recogniser model file.'),
    threshold: z.number().describe('Match threshold in use.'),
    target_far: z.number().describe('False-accept rate the threshold was calibrated for.'),
    load_ms: z.number().describe('Model load time.'),
    warmup_ms: z.number().describe('First-inference warm-up time.'),
  })
  .describe('The face engine as loaded at boot.');

const info = z
  .object({
    schema: z.literal(CONTRACT_SCHEMA).describe('Contract version: bumped by a breaking change.'),
    version: z.string().describe('kioskd package version.'),
    hal_mode: z.enum(['real', 'sim']).describe("sim when the devices are hw-sim's virtual ones."),
    drivers: z.record(z.string(), z.string()).describe('Driver behind each port (and sd_notify), e.g. {"card": "serial", "printer": "escpos-tcp"}.'),
    mqtt_protocol: z.union([z.literal(4), z.literal(5)]).describe('MQTT protocol negotiated with the broker: 4 (3.1.1) or 5.'),
    started_at: z.iso.datetime().describe('When the daemon started (ISO 8601, UTC).'),
    faceid: z.exactOptional(faceIdInfo.nullable()).describe('The face engine as loaded at boot; null while loading or when disabled.'),
    restarts_since_boot: z
      .exactOptional(z.number().int().min(0))
      .describe('Times kioskd was started again since the machine booted (systemd restarts after crashes, or by hand); 0 on the first start.'),
  })
  .describe('What runs on the kiosk; republished on every connect and when the face engine has loaded.');

const state = z
  .object({
    mode: kioskMode,
    step,
    session_id: sessionId.nullable(),
    ports,
    leds: z.exactOptional(leds),
    since: z.iso.datetime().describe('When the kiosk entered this mode.'),
  })
  .describe('The kiosk mode, check-in step and device states; published on every change.');

const health = z
  .object({
    uptime_s: z.number().describe('Daemon uptime in seconds.'),
    rss_mb: z.number().describe('Resident memory, MB.'),
    heap_used_mb: z.number().describe('V8 heap in use, MB.'),
    loop_lag_p99_ms: z.number().describe('Event-loop delay, 99th percentile since the last report.'),
    tensors: z.number().nullable().describe('tf.memory().numTensors of the face engine; null while no engine is loaded.'),
    faceid_restarts: z
      .exactOptional(z.number())
      .describe('Times the face worker was restarted (call timeout, tensor leak, crash); absent when face verification is off.'),
    checkins_today: z.exactOptional(z.number()).describe("Queue tickets printed since the day's numbering reset."),
    mqtt: z.object({
      queued: z.number().describe('Events waiting for the broker.'),
      dropped: z.number().describe('Events dropped while the broker was away.'),
    }),
    liveness: z
      .object({ ok: z.boolean(), reason: z.string().nullable().describe('Why not, when not ok.') })
      .describe('What the systemd watchdog pings are gated on.'),
    ts: z.iso
      .datetime()
      .describe(
        'When these figures were taken (ISO 8601, UTC). A health taken while the broker was away is sent on reconnect before the events queued meanwhile: checkins_today already counts the checkin.completed events older than this.',
      ),
  })
  .describe('Process health, every mqtt.healthIntervalSec.');

const lastWill = z
  .literal('offline')
  .describe('Registered with the broker at connect; the broker publishes it when the kiosk vanishes without a clean disconnect.');

const retainedPayloads = { status: availability, info, state, health } satisfies Record<keyof RetainedTopics, z.ZodType>;

// ---------------------------------------------------------------------------------------------
// Events: kiosk/<id>/event/<kind>, each {id, ts, data}.

const alert = z
  .object({
    level: z.enum(['warning', 'error', 'critical']),
    code: z.string().describe('Machine-readable, e.g. printer.paper-out, faceid.unavailable, mqtt.events_dropped, daemon.crashed.'),
    message: z.string().describe('One line for a technician; no personal data.'),
    port: z.exactOptional(portId),
    count: z.exactOptional(z.number().int()).describe('For mqtt.events_dropped: how many.'),
  })
  .describe('Something needs a person: a device faulted or degraded, face verification unavailable, events lost while offline, a crash.');

const lifecycle = z
  .object({
    phase: z.enum(['started', 'stopping']),
    reason: z.exactOptional(z.string()).describe('Why it is stopping, e.g. the signal.'),
  })
  .describe('The daemon finished starting, or began to stop.');

const cardRead = z
  .object({
    card: maskedCard,
    form: z.string().describe('Which payload form the scanner sent: 7-field or 6-field.'),
    repairs: z.array(z.string()).describe('Repairs made to keyboard-wedge damage, e.g. backslash-separators.'),
    session_id: sessionId.nullable().describe('The session it started, or null when the kiosk was not idle.'),
    mode: kioskMode,
  })
  .describe('A card was read and parsed. Only the masked card number; no other card data.');

const cardRejected = z
  .object({
    code: z.string().describe('Why, e.g. not-a-cccd-payload, wrong-field-count, bad-id-number.'),
    message: z.string().describe('One line for a technician; never quotes the payload.'),
    bytes: z.number().int().describe('Size of what was scanned.'),
    fields: z.number().int().describe('Number of |-separated fields.'),
    card_last4: z
      .string()
      .regex(/^\d{4}$/)
      .nullable()
      .describe('Last 4 digits of a 12-digit first field, if there is one.'),
  })
  .describe('A scan that is not a valid CCCD, with the reason: only sizes and the last 4 digits.');

const checkinStarted = z
  .object({
    session_id: sessionId,
    card: maskedCard,
    priority: z.boolean().describe('Priority lane (aged 75 and over, or under 6).'),
  })
  .describe('A card started a check-in.');

const checkinEnd = z
  .object({
    session_id: sessionId,
    outcome,
    reason: z.string().nullable().describe('Why, for technicians; no personal data.'),
    ticket: z.enum(['queue', 'counter']).nullable().describe('Which ticket was given, null for none.'),
    number: z.string().nullable().describe('The queue number, e.g. A001.'),
    ticket_printed: z.boolean().describe('The ticket came out of the printer (false: it is held for a reprint, or none was given).'),
    department: z.string().describe('Department id, or counter.'),
    face_verified: z.boolean(),
    attempts: z.number().int().describe('Face capture attempts.'),
    bhyt_code: z.string().nullable().describe("The BHYT gateway's result code (maKetQua), e.g. 000."),
    bhyt: z
      .enum(['checked', 'unchecked', 'skipped', 'not-asked'])
      .describe('unchecked: the gateway could not be asked; the lookup is made later (event checkin.reconciled).'),
    steps_ms: z.record(z.string(), z.number()).describe('Milliseconds per step (summed over attempts).'),
    total_ms: z.number().describe('Milliseconds in all.'),
  })
  .describe('How a check-in ended: completed (a queue ticket printed) or failed (any other end).');

const checkinReconciled = z
  .object({
    session_id: sessionId,
    number: z.string().nullable(),
    bhyt_code: z.string(),
    route: z.enum(['proceed', 'counter']).describe('What the answer would have meant at check-in.'),
    reason: z.string(),
  })
  .describe('A BHYT lookup that could not be made at check-in was made later.');

const helpRequested = z.object({ mode: kioskMode, step, session_id: sessionId.nullable() }).describe('The patient pressed the help button.');

const ticketFields = {
  ticket_id: z.string().describe('The ticket (the check-in session id, or test-… for a test print).'),
  number: z.string().describe('The queue number, e.g. A001.'),
  department: z.string().describe('Department id, or counter.'),
};

const ticketPrinted = z
  .object({
    ...ticketFields,
    bytes: z.number().int().describe('Bytes sent to the printer.'),
    ms: z.number().describe('Print time.'),
    reprint: z.boolean(),
  })
  .describe('The printer took the whole ticket and still had paper afterwards.');

const ticketFailed = z
  .object({ ...ticketFields, reason: z.string() })
  .describe('The ticket did not print: the number is held for a reprint when the printer recovers.');

const ticketReprinted = z
  .object({ ...ticketFields, held_s: z.number().describe('Seconds it was held.') })
  .describe('A held ticket was printed after the printer recovered.');

const ticketVoided = z
  .object({ ...ticketFields, reason: z.string() })
  .describe('A held ticket was not reprinted in time (or the daemon stopped): the number is void.');

/** The `data` of each event kind. */
const eventData = {
  alert,
  lifecycle,
  'card.read': cardRead,
  'card.rejected': cardRejected,
  'checkin.started': checkinStarted,
  'checkin.completed': checkinEnd,
  'checkin.failed': checkinEnd,
  'checkin.reconciled': checkinReconciled,
  'help.requested': helpRequested,
  'ticket.printed': ticketPrinted,
  'ticket.failed': ticketFailed,
  'ticket.reprinted': ticketReprinted,
  'ticket.voided': ticketVoided,
} satisfies Record<keyof EventTopics, z.ZodType>;

function mapValues<K extends string, V, R>(o: Record<K, V>, f: (v: V, k: K) => R): Record<K, R> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v as V, k as K)])) as Record<K, R>;
}

function envelope<T extends z.ZodType>(data: T, kind: string) {
  return z
    .object({
      id: z.uuid().describe('Unique per event: a monitor that sees it twice (QoS 1) can drop the repeat.'),
      ts: z.iso.datetime().describe('When it happened (ISO 8601, UTC).'),
      data,
    })
    .describe(`Event ${kind}, in the envelope every event has.`);
}

const eventPayloads = mapValues(eventData, (data, kind): z.ZodType => envelope(data, kind));

// ---------------------------------------------------------------------------------------------
// Commands: kiosk/<id>/cmd/<name> with a JSON object; the answer on kiosk/<id>/cmd/<name>/response.

const transaction = z.union([z.string(), z.number()]).describe('Any string or number; echoed in the response so a caller can match it.');

const kioskStatus = z
  .object({ mode: kioskMode, step, sessionId: sessionId.nullable(), ports })
  .describe("The kiosk's status as the state machine reports it (note: sessionId, not session_id).");

const commandError = z
  .object({
    transaction: transaction.nullable().describe("The request's transaction, or null when it had none (or was not JSON)."),
    status: z.literal('error'),
    error: z
      .string()
      .describe("What was wrong: not JSON, not an object, unknown command (with the known ones), bad arguments, or the handler's reason."),
  })
  .describe('The command was not carried out.');

const commandResponse = z
  .object({
    transaction: transaction.nullable(),
    status: z.enum(['ok', 'error']),
    data: z.exactOptional(z.unknown()),
    error: z.exactOptional(z.string()),
  })
  .describe("The answer to any command: ok with the command's data, or error with a reason.");

interface CommandSpec {
  readonly summary: string;
  /** What an ok answer's data holds, in words. */
  readonly answer: string;
  readonly args: z.ZodObject;
  readonly data: z.ZodType;
}

const commandSpecs = {
  ping: {
    summary: 'Is the daemon there and answering.',
    answer: 'the uptime in seconds',
    args: z.object({}),
    data: z.object({ pong: z.literal(true), uptime_s: z.number().int() }).describe('Yes, and for how long (seconds).'),
  },
  state: {
    summary: "The kiosk's status now.",
    answer: 'the kiosk status',
    args: z.object({}),
    data: kioskStatus,
  },
  'print-test': {
    summary:
      'Prints a test ticket: a TEST-… number no lane uses, "PHIẾU IN THỬ — KHÔNG CÓ GIÁ TRỊ" bars top and bottom, no priority bar, no QR code. At most one per mqtt.commands.testPrintEverySec; refused while a patient is checking in; dropped, never held, when the printer is not ready.',
    answer: 'the ticket id, its TEST-… number and whether it printed',
    args: z.object({}),
    data: z
      .discriminatedUnion('outcome', [
        z.object({ ticket_id: z.string(), number: z.string().regex(/^TEST-/), outcome: z.literal('printed') }),
        z.object({
          ticket_id: z.string(),
          number: z.string().regex(/^TEST-/),
          outcome: z.literal('dropped'),
          reason: z.string().describe('Why it did not print (printer faulted, paper out …).'),
        }),
      ])
      .describe('printed, or dropped (the printer could not print it: a test print is never held for a reprint).'),
  },
  cancel: {
    summary: 'Abandons the check-in in progress. Refused unless session_id names it (from the state topic or the state command).',
    answer: 'the kiosk status',
    args: z.object({ session_id: z.string().describe('The check-in to end; any other (or none) is refused.') }),
    data: kioskStatus,
  },
  reconcile: {
    summary: 'Makes the BHYT lookups that could not be made at check-in now (one pass). Error when the gateway is not enabled.',
    answer: 'how many lookups were answered and how many still wait',
    args: z.object({}),
    data: z.object({ done: z.number().int().describe('Lookups answered in this pass.'), left: z.number().int().describe('Still waiting.') }),
  },
  maintenance: {
    summary: 'Takes the kiosk out of service for a technician, or back.',
    answer: 'the mode now',
    args: z.object({ enabled: z.boolean() }),
    data: z.object({ mode: kioskMode }),
  },
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof commandSpecs;

function request(name: string, spec: CommandSpec): z.ZodType {
  return spec.args.extend({ transaction: z.exactOptional(transaction) }).describe(`Command ${name}: ${spec.summary}`);
}

function response(name: string, spec: CommandSpec) {
  const ok = z.object({ transaction: transaction.nullable(), status: z.literal('ok'), data: spec.data });
  return z.discriminatedUnion('status', [ok, commandError]).describe(`Answer to ${name}.`);
}

const commandPayloads = mapValues(commandSpecs as Record<CommandName, CommandSpec>, (spec, name) => ({
  request: request(name, spec),
  response: response(name, spec) as z.ZodType,
}));

const anyCommand = z
  .object({ transaction: z.exactOptional(transaction) })
  .describe('Any other command name: the kiosk answers with an error that lists the commands it knows.');

// ---------------------------------------------------------------------------------------------
// Compile-time proof that the schemas and topics.ts describe the same payloads.

type Primitive = string | number | boolean | bigint | symbol | null | undefined;
/** Drops readonly and flattens intersections, so only the JSON shape is compared. */
type Plain<T> = T extends Primitive
  ? T
  : T extends readonly (infer U)[]
    ? Plain<U>[]
    : T extends object
      ? { -readonly [K in keyof T]: Plain<T[K]> }
      : T;
/** True when A and B have exactly the same shape (optional keys included), not merely assignable. */
type Same<A, B> = (<X>() => X extends Plain<A> ? 1 : 2) extends <X>() => X extends Plain<B> ? 1 : 2 ? true : false;
/** Fails to compile, naming the offending keys, unless M is never. */
type NoMismatch<M extends never> = M;

type RetainedMismatch = {
  [K in keyof RetainedTopics]: Same<z.infer<(typeof retainedPayloads)[K]>, RetainedTopics[K]> extends true ? never : K;
}[keyof RetainedTopics];
type EventMismatch = { [K in keyof EventTopics]: Same<z.infer<(typeof eventData)[K]>, EventTopics[K]> extends true ? never : K }[keyof EventTopics];
type CommandDataMismatch =
  | (Same<z.infer<typeof kioskStatus>, KioskStatus> extends true ? never : 'kioskStatus')
  | (Same<z.infer<(typeof commandSpecs)['print-test']['data']>, { ticket_id: string; number: string } & TestPrintResult> extends true
      ? never
      : 'print-test')
  | (Same<z.infer<(typeof commandSpecs)['reconcile']['data']>, Awaited<ReturnType<typeof reconcileOnce>>> extends true ? never : 'reconcile')
  | (Same<z.infer<(typeof commandSpecs)['maintenance']['data']>, { mode: KioskMode }> extends true ? never : 'maintenance')
  | (Same<z.infer<typeof commandResponse>, CommandResponse> extends true ? never : 'CommandResponse')
  | (z.infer<ReturnType<typeof response>> extends CommandResponse ? never : 'a command response');
type SharedMismatch =
  | (Same<z.infer<typeof portState>, PortState> extends true ? never : 'PortState')
  | (Same<z.infer<typeof availability>, Availability> extends true ? never : 'Availability')
  | (Same<z.infer<typeof kioskMode>, KioskMode> extends true ? never : 'KioskMode');
type _ContractMatchesTopics = [NoMismatch<RetainedMismatch>, NoMismatch<EventMismatch>, NoMismatch<CommandDataMismatch>, NoMismatch<SharedMismatch>];

// ---------------------------------------------------------------------------------------------
// The channels.

export const RETAINED_KINDS = Object.keys(retainedPayloads) as ReadonlyArray<keyof RetainedTopics>;
export const EVENT_KINDS = Object.keys(eventData) as ReadonlyArray<keyof EventTopics>;
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

/** Topic templates built by the daemon's own topic function, so the addresses cannot drift. */
const T = kioskTopics('{prefix}', '{deviceId}');
const commandTopic = (name: string): string => T.commandFilter.replace(/\+$/, name);

const RETAINED_TEXT: Record<keyof RetainedTopics, { title: string; description: string }> = {
  status: {
    title: 'Availability',
    description:
      'online once connected; stopped on a clean stop; offline (the last will) when the kiosk vanished. The first topic sent on every connect.',
  },
  info: {
    title: 'Kiosk information',
    description: 'Version, drivers, negotiated MQTT protocol, start time and the face engine. Republished on every connect.',
  },
  state: { title: 'Kiosk state', description: 'Mode, check-in step, device ports and lamps; published on every change and on every connect.' },
  health: {
    title: 'Health',
    description:
      'Memory, event-loop lag, face-engine tensors, check-ins today, MQTT queue, liveness, and when they were taken; every mqtt.healthIntervalSec and on every connect.',
  },
};

const json = 'application/json' as const;

export const CHANNELS: readonly ChannelSpec[] = [
  ...RETAINED_KINDS.map((kind): ChannelSpec => ({
    id: kind,
    address: T.retained(kind),
    ...RETAINED_TEXT[kind],
    action: 'send',
    retained: true,
    qos: 1,
    expires: false,
    messages: [
      {
        name: kind,
        title: RETAINED_TEXT[kind].title,
        summary: retainedPayloads[kind].description ?? '',
        contentType: kind === 'status' ? 'text/plain' : json,
        payload: retainedPayloads[kind],
      },
      ...(kind === 'status'
        ? [
            {
              name: 'lastWill',
              title: 'Last will',
              summary: 'offline, published by the broker for a kiosk that vanished.',
              contentType: 'text/plain' as const,
              payload: lastWill,
              lastWill: true as const,
            },
          ]
        : []),
    ],
  })),
  ...EVENT_KINDS.map((kind): ChannelSpec => ({
    id: `event.${kind}`,
    address: T.event(kind),
    title: `Event ${kind}`,
    description: `${eventData[kind].description ?? ''} Not retained; kept in a bounded ring while the broker is away, and expires after mqtt.eventExpirySec (MQTT 5).`,
    action: 'send',
    retained: false,
    qos: 1,
    expires: true,
    messages: [
      { name: `event.${kind}`, title: `Event ${kind}`, summary: eventData[kind].description ?? '', contentType: json, payload: eventPayloads[kind] },
    ],
  })),
  ...COMMAND_NAMES.flatMap((name): ChannelSpec[] => [
    {
      id: `cmd.${name}`,
      address: commandTopic(name),
      title: `Command ${name}`,
      description: `${commandSpecs[name].summary} Publish without the retain flag (a retained command is ignored).`,
      action: 'receive',
      retained: false,
      qos: 1,
      expires: false,
      messages: [
        {
          name: `cmd.${name}`,
          title: `Command ${name}`,
          summary: commandSpecs[name].summary,
          contentType: json,
          payload: commandPayloads[name].request,
        },
      ],
      replyChannel: `cmd.${name}.response`,
    },
    {
      id: `cmd.${name}.response`,
      address: T.response(name),
      title: `Answer to ${name}`,
      description: `The answer to ${name}, echoing the request's transaction. Sent only while connected.`,
      action: 'send',
      retained: false,
      qos: 1,
      expires: false,
      messages: [
        {
          name: `cmd.${name}.response`,
          title: `Answer to ${name}`,
          summary: `ok with ${commandSpecs[name].answer}, or error with the reason.`,
          contentType: json,
          payload: commandPayloads[name].response,
        },
      ],
    },
  ]),
  {
    id: 'cmd.other',
    address: commandTopic('{command}'),
    title: 'Any other command',
    description: 'The kiosk subscribes to every command name; one it does not know gets an error answer listing those it does.',
    action: 'receive',
    retained: false,
    qos: 1,
    expires: false,
    messages: [
      { name: 'cmd.other', title: 'Any other command', summary: 'Any JSON object; answered with an error.', contentType: json, payload: anyCommand },
    ],
    replyChannel: 'cmd.other.response',
  },
  {
    id: 'cmd.other.response',
    address: T.response('{command}'),
    title: 'Answer to any other command',
    description: 'status error, with the commands the kiosk knows.',
    action: 'send',
    retained: false,
    qos: 1,
    expires: false,
    messages: [
      {
        name: 'cmd.other.response',
        title: 'Answer to any other command',
        summary: 'status error: unknown command, with the known ones.',
        contentType: json,
        payload: commandResponse,
      },
    ],
  },
];

/**
 * Schemas worth a name of their own in the document (shared by several payloads). Payloads
 * themselves are named after their message.
 */
export const SHARED_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  KioskMode: kioskMode,
  PortId: portId,
  PortState: portState,
  Ports: ports,
  Leds: leds,
  Outcome: outcome,
  FaceIdInfo: faceIdInfo,
  CheckinEnd: checkinEnd,
  KioskStatus: kioskStatus,
  Transaction: transaction,
  CommandError: commandError,
};

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
