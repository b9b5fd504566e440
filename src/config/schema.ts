import { z } from 'zod';
import { bhytConfigSchema } from '../bhyt/config.js';
import { cameraConfigSchema } from '../hal/camera/config.js';
import { indicatorsConfigSchema } from '../hal/indicators/config.js';
import { identityConfigSchema } from '../identity/config.js';
import { cardSchema } from './sections/card.js';
import { chipSchema } from './sections/chip.js';
import { checkinSchema } from './sections/checkin.js';
import { deviceIdSchema, durationMs } from './sections/common.js';
import { faceidSchema } from './sections/faceid.js';
import { kioskSchema } from './sections/kiosk.js';
import { mqttSchema } from './sections/mqtt.js';
import { printerSchema } from './sections/printer.js';
import { ticketSchema } from './sections/ticket.js';

/**
 * The one source of the config's types, validation, defaults and JSON Schema
 * (`kioskd config-schema`). Every object is strict: an unknown key is an error, because a
 * misspelt key silently falling back to a default is how kiosks end up misconfigured.
 *
 * Where a section's schema lives: beside its feature when the feature folder has a config.ts
 * (hal/camera, hal/indicators, bhyt, identity); every other section in config/sections/<key>.ts.
 * This file only assembles them (and holds the few-line sections: device, hal, watchdog, log).
 */

export { deviceIdSchema } from './sections/common.js';
export { type CardConfig } from './sections/card.js';
export { cp1258Models, printerModels, type PrinterConfig } from './sections/printer.js';
export { type CheckinConfig } from './sections/checkin.js';
export { type ChipConfig } from './sections/chip.js';
export { portIds, type PortId } from './sections/kiosk.js';

export const configSchema = z.strictObject({
  version: z.literal(1).default(1).describe('config format version'),
  device: z
    .strictObject({
      id: deviceIdSchema.optional().describe('kiosk id used in MQTT topics; default: the hostname'),
    })
    .prefault({}),
  mqtt: mqttSchema,
  hal: z
    .strictObject({
      mode: z.enum(['real', 'sim']).default('real').describe('reported in kiosk/<id>/info; "sim" when hw-sim generated this config'),
      card: cardSchema,
      camera: cameraConfigSchema,
      printer: printerSchema,
      indicators: indicatorsConfigSchema,
    })
    .prefault({}),
  kiosk: kioskSchema,
  ticket: ticketSchema,
  checkin: checkinSchema,
  identity: identityConfigSchema,
  chip: chipSchema,
  bhyt: bhytConfigSchema,
  faceid: faceidSchema,
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
