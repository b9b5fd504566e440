import { z } from 'zod';
import { bhytConfigSchema } from '../bhyt/config.js';
import { cameraConfigSchema } from '../hal/camera/config.js';
import { indicatorsConfigSchema } from '../hal/indicators/config.js';
import { identityConfigSchema } from '../identity/config.js';

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

/** Models whose code-page numbers the encoder knows (@point-of-sale/receipt-printer-encoder 4). */
export const printerModels = [
  'bixolon-srp350',
  'bixolon-srp350iii',
  'citizen-ct-s310ii',
  'epson-tm-m30ii',
  'epson-tm-m30iii',
  'epson-tm-p20ii',
  'epson-tm-t20ii',
  'epson-tm-t20iii',
  'epson-tm-t20iv',
  'epson-tm-t70',
  'epson-tm-t70ii',
  'epson-tm-t88ii',
  'epson-tm-t88iii',
  'epson-tm-t88iv',
  'epson-tm-t88v',
  'epson-tm-t88vi',
  'epson-tm-t88vii',
  'fujitsu-fp1000',
  'hp-a779',
  'metapace-t1',
  'mpt-ii',
  'pos-5890',
  'pos-8360',
  'sunmi-p2se',
  'sunmi-p3h',
  'sunmi-p3kh',
  'sunmi-p3mix',
  'sunmi',
  'xprinter-xp-n160ii',
  'xprinter-xp-t80q',
  'youku-58t',
] as const;

/** Models whose code-page table has WPC1258 (checked against the encoder, model by model). */
export const cp1258Models: ReadonlySet<string> = new Set([
  'bixolon-srp350iii',
  'citizen-ct-s310ii',
  'epson-tm-m30ii',
  'epson-tm-m30iii',
  'epson-tm-p20ii',
  'epson-tm-t20ii',
  'epson-tm-t20iii',
  'epson-tm-t20iv',
  'epson-tm-t70ii',
  'epson-tm-t88v',
  'epson-tm-t88vi',
  'epson-tm-t88vii',
  'pos-5890',
  'pos-8360',
  'youku-58t',
]);

const printerCommon = {
  model: z.enum(printerModels).default('epson-tm-t20iii').describe('printer model: decides the ESC t code-page numbers in text modes'),
  paperMm: z
    .union([z.literal(80), z.literal(58)])
    .default(80)
    .describe('roll width'),
  text: z
    .enum(['raster', 'cp1258'])
    .default('raster')
    .describe(
      'raster: text printed as pictures (works on every printer; the safe default); cp1258: WPC1258 code-page text, if the model has that code page',
    ),
  statusPollMs: durationMs(500, 600_000).default(5000).describe('status (DLE EOT) poll while idle'),
  statusTimeoutMs: durationMs(100, 30_000).default(1500),
  jobTimeoutMs: durationMs(1000, 300_000).default(20_000).describe('longest a ticket may take to send'),
  reconnectBaseMs: durationMs(50, 60_000).default(1000),
  reconnectMaxMs: durationMs(100, 600_000).default(15_000),
  reprintWithinSec: z
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(900)
    .describe('a ticket that failed to print is reprinted when the printer recovers within this time; after it, the number is recorded void'),
};

const printerSchema = z
  .discriminatedUnion('driver', [
    absentOnly.extend({ driver: z.literal('none') }),
    z.strictObject({
      driver: z.literal('tcp').describe('network printer, raw TCP (port 9100), or hw-sim'),
      host: z.string().min(1),
      port: z.number().int().min(1).max(65_535).default(9100),
      ...printerCommon,
    }),
    z.strictObject({
      driver: z.literal('device').describe('USB printer through the kernel usblp driver: /dev/usb/lp0 or /dev/kiosk-printer'),
      path: z.string().min(1),
      ...printerCommon,
    }),
    z.strictObject({
      driver: z.literal('usb').describe('USB printer by id through libusb (needs the optional "usb" module); prefer "device" when usblp works'),
      vendorId: z.number().int().min(0).max(0xffff),
      productId: z.number().int().min(0).max(0xffff),
      ...printerCommon,
    }),
  ])
  .superRefine((p, ctx) => {
    if (p.driver !== 'none' && p.text === 'cp1258' && !cp1258Models.has(p.model)) {
      ctx.addIssue({
        code: 'custom',
        path: ['text'],
        message: `printer model ${p.model} has no WPC1258 code page; use text: raster (works on every printer)`,
      });
    }
  })
  .prefault({ driver: 'none' });

export type PrinterConfig = z.output<typeof printerSchema>;

const ticketSchema = z
  .strictObject({
    hospital: z.string().min(1).max(120).default('BỆNH VIỆN').describe('printed at the top of every ticket'),
    subtitle: z.string().max(120).nullable().default(null),
    footer: z.string().max(200).default('Vui lòng chờ gọi số. Xin cảm ơn!'),
    showName: z.boolean().default(true).describe("print the patient's full name (the ID is always masked to its last 4 digits)"),
    timeZone: z
      .string()
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en', { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, 'must be an IANA time zone such as Asia/Ho_Chi_Minh')
      .default('Asia/Ho_Chi_Minh'),
  })
  .prefault({});

const departmentSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, 'must be 1–32 lower-case letters, digits or dashes')
    .describe('short id used in MQTT and the audit'),
  name: z.string().min(1).max(80).describe('printed on the ticket, e.g. "Khoa Khám bệnh"'),
  prefix: z
    .string()
    .regex(/^[A-Z]{1,3}$/, 'must be 1–3 capital letters')
    .describe('queue-number prefix, e.g. "A" gives A001'),
  room: z.string().max(80).nullable().default(null).describe('where to go, printed under the department'),
});

const checkinSchema = z
  .strictObject({
    consentTimeoutSec: z.number().int().min(5).max(300).default(30).describe('how long the kiosk waits for the patient to agree to the face check'),
    verifyAttempts: z.number().int().min(1).max(5).default(3).describe('tries at a matching face before the patient is sent to the counter'),
    retryPauseMs: durationMs(0, 10_000).default(800).describe('pause between tries, so the patient can move'),
    noPortrait: z
      .enum(['counter', 'unverified'])
      .default('counter')
      .describe('no reference portrait (or no face engine): send the patient to the counter, or print a ticket marked "not face-verified"'),
    departments: z
      .array(departmentSchema)
      .min(1)
      .default([{ id: 'kham-benh', name: 'Khoa Khám bệnh', prefix: 'A', room: null }])
      .describe('where a checked-in patient can be sent; the first is the default'),
    departmentChoiceSec: z
      .number()
      .int()
      .min(0)
      .max(120)
      .default(0)
      .describe('time for the patient to pick a department at the kiosk (its local screen; never over MQTT); 0: always the default'),
    counter: departmentSchema
      .omit({ id: true })
      .prefault({ name: 'Quầy tiếp đón', prefix: 'Q' })
      .describe('the reception counter: tickets for patients the kiosk cannot check in'),
    numbering: z
      .strictObject({
        resetAt: z
          .string()
          .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM')
          .default('00:00')
          .describe('local time (ticket.timeZone) at which every sequence starts again at 1'),
        digits: z.number().int().min(2).max(5).default(3),
        priorityMark: z
          .string()
          .regex(/^[A-Z]{1,2}$/)
          .default('U')
          .describe('added to the prefix for the priority lane (Law 15/2023: 75 and over, under 6): A → AU'),
      })
      .prefault({}),
    retentionDays: z.number().int().min(1).max(3650).default(90).describe('check-in records older than this are deleted'),
    timeouts: z
      .strictObject({
        portraitMs: durationMs(500, 60_000).default(4000),
        captureMs: durationMs(500, 60_000).default(5000),
        verifyMs: durationMs(500, 120_000).default(15_000),
        insuranceMs: durationMs(500, 60_000).default(10_000),
        numberMs: durationMs(100, 60_000).default(3000),
        printMs: durationMs(1000, 300_000).default(30_000),
      })
      .prefault({})
      .describe('time limit of each step; a step past it is aborted'),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    for (const [i, d] of c.departments.entries()) {
      if (seen.has(d.id)) ctx.addIssue({ code: 'custom', path: ['departments', i, 'id'], message: `department id "${d.id}" is used twice` });
      seen.add(d.id);
      if (d.prefix === c.counter.prefix)
        ctx.addIssue({ code: 'custom', path: ['departments', i, 'prefix'], message: `prefix "${d.prefix}" is the counter's` });
    }
    const prefixes = c.departments.map((d) => d.prefix);
    if (new Set(prefixes).size !== prefixes.length)
      ctx.addIssue({ code: 'custom', path: ['departments'], message: 'two departments share a prefix: their numbers would collide' });
  })
  .prefault({});

export type CheckinConfig = z.output<typeof checkinSchema>;

export const portIds = ['card', 'camera', 'printer', 'indicators', 'storage'] as const;
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
    .prefault({}),
  hal: z
    .strictObject({
      mode: z.enum(['real', 'sim']).default('real').describe('reported in kiosk/<id>/info; "sim" when hw-sim generated this config'),
      card: cardSchema,
      camera: cameraConfigSchema,
      printer: printerSchema,
      indicators: indicatorsConfigSchema,
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
      stateDir: z.string().min(1).default('/var/lib/kioskd').describe("where the queue database and ticket journal live (systemd's StateDirectory)"),
      // At most 20 s: the unit's TimeoutStopSec=25s would otherwise SIGKILL a ticket mid-print.
      shutdownGraceMs: durationMs(0, 20_000)
        .default(10_000)
        .describe('how long a check-in in progress may take to finish when stopping; stopping is cut off 5 s after it (keep under TimeoutStopSec)'),
      // The state directory's free space is a port (storage), always required: see hal/storage.ts.
      storage: z
        .strictObject({
          lowMb: z
            .number()
            .min(0)
            .max(1_000_000)
            .default(200)
            .describe('below this much free space in stateDir: alert storage.low, the kiosk keeps working'),
          minMb: z
            .number()
            .min(0)
            .max(1_000_000)
            .default(20)
            .describe(
              'below this: out of service (alert storage.full) until there is room again; the margin records the patients already in a session',
            ),
          checkEverySec: z.number().int().min(1).max(3600).default(10),
        })
        .prefault({}),
    })
    .prefault({}),
  ticket: ticketSchema,
  checkin: checkinSchema,
  identity: identityConfigSchema,
  bhyt: bhytConfigSchema,
  faceid: z
    .strictObject({
      enabled: z.boolean().default(true).describe('load the face models at boot (a kiosk that verifies faces needs them)'),
      backend: z
        .enum(['tensorflow', 'wasm', 'cpu'])
        .default('wasm')
        .describe('tfjs backend: tensorflow needs the optional @tensorflow/tfjs-node (falls back to wasm when absent); cpu is slow'),
      recognizer: z
        .strictObject({
          model: z
            .string()
            .min(1)
            .default('faceapi')
            .describe(
              '"faceapi" (bundled), or the absolute path of an ONNX model (.onnx) or a TFJS graph model (model.json) installed by the operator',
            ),
          channels: z.enum(['rgb', 'bgr']).optional().describe('colour order the model expects (ONNX default bgr, TFJS default rgb)'),
          range: z.enum(['symmetric', 'unit']).optional().describe('pixel scaling: symmetric (v-127.5)/127.5 (default) or unit v/255'),
          size: z.number().int().min(32).max(512).optional().describe("side of the aligned crop (default: the model's input, else 112)"),
          onnxCompiler: z
            .enum(['baseline', 'optimizing'])
            .default('baseline')
            .describe("how V8 compiles onnxruntime's wasm: baseline uses ~70 MB less memory, optimizing embeds ~25% faster"),
        })
        .prefault({}),
      calibrationDir: z
        .string()
        .min(1)
        .optional()
        .describe(
          "extra folder of calibration files (kioskd calibrate --out); the model file's sha256 picks one, and a model without one does not start",
        ),
      callTimeoutMs: durationMs(1000, 120_000).default(10_000).describe('one analysis longer than this is abandoned and the worker restarted'),
      maxTensorGrowth: z.number().int().min(1).default(50).describe('tensors leaked above the warm-up count before the worker is restarted'),
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
