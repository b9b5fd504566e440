/**
 * What the monitor reads of each payload, with the contract's schemas. Lenient where a field
 * is not essential: a field it cannot read is left out (null), not the whole message, so an
 * older daemon (a health without ts) or a newer one (a mode this version does not know) still
 * shows; a message without what it is about (a state without a mode) is ignored.
 */
import { z } from 'zod';
import { eventData, portState, retainedPayloads } from '../mqtt/contract.js';

const { status, info, state } = retainedPayloads;

/** A kiosk's ISO timestamp as wall ms, or null when it is missing or not a time. */
const kioskTime = z
  .string()
  .transform((s) => Date.parse(s))
  .pipe(z.number().refine(Number.isFinite))
  .nullable()
  .catch(null);

/** status: the bare word; a JSON string ("\"online\"") from a hand-rolled publisher is tolerated. */
export function readStatus(text: string): z.infer<typeof status> | null {
  let word: unknown = text.trim();
  if (typeof word === 'string' && word.startsWith('"')) word = parseJson(word);
  return status.safeParse(word).data ?? null;
}

export const infoFacts = info.pick({ version: true });

export const stateFacts = z.object({
  mode: z.string(),
  step: state.shape.step.catch(null),
  ports: z
    .object({ printer: portState.nullable().catch(null) })
    .nullable()
    .catch(null),
});

export const healthFacts = z.object({
  checkins_today: z.number().int().min(0).nullable().catch(null),
  /** An older daemon sends no ts: its health is taken as of its arrival. */
  ts: kioskTime,
});

export const eventFacts = z.object({
  /** Events seen twice (QoS 1) are dropped by id. */
  id: z.string().nullable().catch(null),
  ts: kioskTime,
  data: z.record(z.string(), z.unknown()).catch({}),
});

const alertLevel = eventData.alert.pick({ level: true });

/** An alert at error or critical level. */
export function isErrorAlert(data: unknown): boolean {
  const level = alertLevel.safeParse(data).data?.level;
  return level === 'error' || level === 'critical';
}

/** The JSON of `text`, or undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
