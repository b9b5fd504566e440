import { z } from 'zod';
import { durationMs } from './common.js';

/** `mqtt`: the broker, its TLS, and the limits on what the broker may send. */

const tlsSchema = z.strictObject({
  caFile: z.string().min(1).optional().describe('PEM file with the CA that signed the broker certificate'),
  certFile: z.string().min(1).optional().describe('client certificate (PEM) for mutual TLS'),
  keyFile: z.string().min(1).optional().describe('client key (PEM) for mutual TLS'),
  rejectUnauthorized: z.boolean().default(true),
});

export const mqttSchema = z
  .strictObject({
    url: z
      .url({ protocol: /^(mqtt|mqtts|ws|wss)$/, error: 'must be an mqtt://, mqtts://, ws:// or wss:// URL' })
      .refine(
        (u) => !URL.canParse(u) || new URL(u).password === '',
        'must not carry a password: use mqtt.passwordFile or the systemd credential "mqtt-password"',
      )
      .default('mqtt://127.0.0.1:1883'),
    protocol: z
      .union([z.literal('auto'), z.literal(5), z.literal(4)])
      .default('auto')
      .describe('MQTT protocol: 5, 4 (= 3.1.1) or auto (try 5, fall back to 3.1.1 when the broker refuses it)'),
    topicPrefix: z
      .string()
      .regex(/^[^+#/\s]+$/, 'must be one topic level without + # / or spaces')
      .default('kiosk'),
    clientId: z.string().min(1).max(128).optional().describe('default: kioskd-<device id>-<machine-id hash>'),
    username: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional().describe('file holding the MQTT password; default: the systemd credential "mqtt-password" if present'),
    tls: tlsSchema.optional(),
    keepaliveSec: z.number().int().min(5).max(600).default(30),
    reconnectBaseMs: durationMs(200, 300_000)
      .default(2000)
      .describe('reconnect period is this plus a random 0..this, chosen once per process so a fleet does not reconnect in step'),
    eventRingSize: z.number().int().min(1).max(10_000).default(200).describe('events kept while offline; older ones are dropped and counted'),
    eventExpirySec: z.number().int().min(1).max(86_400).default(300),
    healthIntervalSec: z.number().int().min(1).max(3600).default(30),
    // The broker is not trusted: a command is bounded in size and rate before it is read.
    commands: z
      .strictObject({
        maxPayloadBytes: z
          .number()
          .int()
          .min(256)
          .max(65_536)
          .default(16_384)
          .describe('a command payload over this is refused without being parsed or echoed'),
        ratePerMinute: z
          .number()
          .int()
          .min(1)
          .max(600)
          .default(30)
          .describe('per command name; commands over it are dropped, counted and reported once a minute (alert mqtt.commands_limited)'),
        testPrintEverySec: z.number().int().min(0).max(3600).default(10).describe('at most one print-test per this many seconds'),
      })
      .prefault({}),
  })
  .prefault({});
