/**
 * Schemas shared by several payloads of the MQTT contract. Each is one instance, so the
 * generated document names it once and refers to it.
 */
import { z } from 'zod';
import { LED_IDS, PORT_IDS } from '../../hal/ports.js';
import { OUTCOMES } from '../../pipeline/step-ports.js';

export const kioskMode = z
  .enum(['booting', 'idle', 'in-session', 'out-of-service', 'maintenance', 'stopping'])
  .describe(
    'What the kiosk is doing: booting, idle (ready for a card), in-session (serving a patient), out-of-service (a required device is missing or faulted), maintenance (set by a technician), stopping.',
  );

export const portId = z.enum(PORT_IDS).describe('A device slot of the kiosk.');

const portCode = z.string().describe('Machine-readable reason (kebab-case), e.g. paper-out; absent from a state that has none.');

export const portState = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('absent'), reason: z.string().describe('Why: not fitted, not configured …') }),
    z.object({ kind: z.literal('connecting'), attempt: z.number().int().describe('Connection attempt, from 1.') }),
    z.object({ kind: z.literal('ready') }),
    z.object({
      kind: z.literal('degraded'),
      reason: z.string().describe('The caveat, e.g. paper near end.'),
      code: z.exactOptional(portCode),
    }),
    z.object({
      kind: z.literal('faulted'),
      reason: z.string().describe('What is wrong, e.g. paper out, cover open.'),
      code: z.exactOptional(portCode),
      retryInMs: z.exactOptional(z.number()).describe('When the driver tries again, if it will.'),
    }),
  ])
  .describe('The state of one device port.');

export const ports = z.record(portId, portState).describe('Every port and its state.');

export const leds = z
  .record(z.enum(LED_IDS), z.enum(['on', 'off', 'blink']))
  .describe('What the kiosk lamps show: ready, busy and error, each on, off or blinking.');

export const outcome = z
  .enum(OUTCOMES)
  .describe(
    'How a check-in ended: printed (queue ticket), counter (sent to the reception counter), declined (no consent to the face check), face-mismatch, no-face, timeout (no answer), device-error, cancelled.',
  );

export const step = z
  .string()
  .nullable()
  .describe(
    'The check-in step while a patient is served (consent, portrait, capture, verify, retry-pause, insurance, department, number, print, done), else null.',
  );

export const sessionId = z.string().describe('The check-in session (a random id, not linked to the person outside the kiosk).');

export const maskedCard = z
  .string()
  .regex(/^\*+\d{4}$/)
  .describe('The card number masked to its last 4 digits, e.g. "********1234": the only form an ID number may take on MQTT.');

export const transaction = z.union([z.string(), z.number()]).describe('Any string or number; echoed in the response so a caller can match it.');

export function mapValues<K extends string, V, R>(o: Record<K, V>, f: (v: V, k: K) => R): Record<K, R> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v as V, k as K)])) as Record<K, R>;
}

/** Payload types are read-only views of what the schemas accept: a producer may hand in its own readonly data. */
type Primitive = string | number | boolean | bigint | symbol | null | undefined;
export type Frozen<T> = T extends Primitive
  ? T
  : T extends readonly (infer U)[]
    ? readonly Frozen<U>[]
    : T extends object
      ? { readonly [K in keyof T]: Frozen<T[K]> }
      : T;
