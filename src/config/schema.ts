import { z } from 'zod';

/**
 * The one source of the config's types, validation, defaults and JSON Schema
 * (`kioskd config-schema`). Every object is strict: an unknown key is an error, because a
 * misspelt key silently falling back to a default is how kiosks end up misconfigured.
 */

/** A device id becomes an MQTT topic level, so wildcards and separators are refused. */
export const deviceIdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .refine((s) => !/[+#/]/.test(s), 'must not contain MQTT wildcards or separators (+ # /)')
  .refine((s) => !/[\s\p{Cc}]/u.test(s), 'must not contain spaces or control characters');

const durationMs = (min: number, max: number) => z.number().int().min(min).max(max);

/** Drivers a port can use. Only what is built is listed; later issues add serial, escpos, rpicam … */
const absentOnly = z.strictObject({
  driver: z.literal('none').default('none').describe('"none": the port is not built or not fitted; it reports "absent"'),
});

const scanFraming = {
  framing: z
    .enum(['any', 'cr', 'lf', 'crlf', 'idle'])
    .default('any')
    .describe('what ends a scan: CR, LF, CRLF, any of them, or only a pause (scanners with no suffix)'),
  idleGapMs: durationMs(20, 5000).default(200).describe('a pause this long also ends a scan (for scanners that send no terminator)'),
  duplicateWindowSec: z.number().min(0).max(600).default(5).describe('the same card scanned again within this many seconds counts once'),
};

const cardSchema = z
  .discriminatedUnion('driver', [
    absentOnly.extend({ driver: z.literal('none') }),
    z.strictObject({
      driver: z.literal('serial').describe('USB-CDC ("USB COM") scanner, or tcp://host:port'),
      path: z.string().min(1).describe('/dev/serial/by-id/…, /dev/kiosk-scanner, or tcp://host:port'),
      baudRate: z.number().int().min(1200).max(921_600).default(9600).describe('deployed CCCD readers use 9600, 14400 or 115200'),
      ...scanFraming,
      reconnectBaseMs: durationMs(50, 60_000).default(500),
      reconnectMaxMs: durationMs(100, 600_000).default(10_000),
    }),
    z.strictObject({
      driver: z.literal('hid').describe('USB HID scanner (needs the optional node-hid module and libusb)'),
      vendorId: z.number().int().min(0).max(0xffff),
      productId: z.number().int().min(0).max(0xffff),
      mode: z.enum(['hid-pos', 'keyboard']).default('hid-pos').describe('HID-POS reports, or keyboard emulation (cannot carry Vietnamese letters)'),
      ...scanFraming,
    }),
  ])
  .prefault({ driver: 'none' });

export type CardConfig = z.output<typeof cardSchema>;

export const portIds = ['card', 'camera', 'printer', 'indicators'] as const;
export type PortId = (typeof portIds)[number];

const tlsSchema = z.strictObject({
  caFile: z.string().min(1).optional().describe('PEM file with the CA that signed the broker certificate'),
  certFile: z.string().min(1).optional().describe('client certificate (PEM) for mutual TLS'),
  keyFile: z.string().min(1).optional().describe('client key (PEM) for mutual TLS'),
  rejectUnauthorized: z.boolean().default(true),
});

export const configSchema = z.strictObject({
  version: z.literal(1).default(1).describe('config format version'),
  device: z
    .strictObject({
      id: deviceIdSchema.optional().describe('kiosk id used in MQTT topics; default: the hostname'),
    })
    .prefault({}),
  mqtt: z
    .strictObject({
      url: z
        .url({ protocol: /^(mqtt|mqtts|ws|wss)$/, error: 'must be an mqtt://, mqtts://, ws:// or wss:// URL' })
        .refine((u) => !URL.canParse(u) || new URL(u).password === '', 'must not carry a password: use mqtt.passwordFile or the systemd credential "mqtt-password"')
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
      passwordFile: z
        .string()
        .min(1)
        .optional()
        .describe('file holding the MQTT password; default: the systemd credential "mqtt-password" if present'),
      tls: tlsSchema.optional(),
      keepaliveSec: z.number().int().min(5).max(600).default(30),
      reconnectBaseMs: durationMs(200, 300_000)
        .default(2000)
        .describe('reconnect period is this plus a random 0..this, chosen once per process so a fleet does not reconnect in step'),
      eventRingSize: z.number().int().min(1).max(10_000).default(200).describe('events kept while offline; older ones are dropped and counted'),
      eventExpirySec: z.number().int().min(1).max(86_400).default(300),
      healthIntervalSec: z.number().int().min(1).max(3600).default(30),
    })
    .prefault({}),
  hal: z
    .strictObject({
      mode: z.enum(['real', 'sim']).default('real').describe('reported in kiosk/<id>/info; "sim" when hw-sim generated this config'),
      card: cardSchema,
      camera: absentOnly.prefault({}),
      printer: absentOnly.prefault({}),
      indicators: absentOnly.prefault({}),
    })
    .prefault({}),
  kiosk: z
    .strictObject({
      requiredPorts: z
        .array(z.enum(portIds))
        .default(['card', 'camera', 'printer'])
        .describe('ports that must be ready for the kiosk to take patients; otherwise it is out of service'),
      heartbeatMs: durationMs(100, 60_000).default(5000),
      resultHoldMs: durationMs(0, 60_000).default(3000).describe("how long a patient's result stays before the kiosk is ready for the next"),
      shutdownGraceMs: durationMs(0, 120_000)
        .default(10_000)
        .describe('how long a check-in in progress may take to finish when stopping; stopping is cut off 5 s after it'),
    })
    .prefault({}),
  watchdog: z
    .strictObject({
      maxLoopLagMs: durationMs(10, 60_000).default(2000).describe('event-loop delay p99 above this stops watchdog pings'),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
      pretty: z.enum(['auto', 'always', 'never']).default('auto').describe('auto: human-readable on a terminal, JSON lines otherwise'),
    })
    .prefault({}),
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;

export function configJsonSchema(): unknown {
  return z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12' });
}
