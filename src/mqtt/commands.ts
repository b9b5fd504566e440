import { commandSpecs, type CommandArgs, type CommandName, type CommandSpec } from './contract/commands.js';
import type { MqttLink } from './link.js';
import type { CommandResponse, KioskTopicNames } from './topics.js';
import type { Logger } from '../log/logger.js';
import { every, type Clock } from '../util/clock.js';

/** A handler of command K: handed its arguments as the contract parsed them. */
export type CommandHandler<K extends CommandName = CommandName> = (args: CommandArgs<K>) => unknown;
/** Handlers by command name; a name without one is answered as unknown. */
export type CommandHandlers = { readonly [K in CommandName]?: CommandHandler<K> };

export interface CommandLimits {
  /** A payload over this is refused unread: never parsed, never echoed. */
  readonly maxPayloadBytes: number;
  /** Per command name (unknown names share one budget); what is over it is counted and dropped. */
  readonly ratePerMinute: number;
}

export interface CommandServerDeps {
  readonly link: MqttLink;
  readonly topics: KioskTopicNames;
  readonly handlers: CommandHandlers;
  /** Names that are never served, with the reason the answer gives (a patient's answers, say). */
  readonly refusals?: Readonly<Record<string, string>>;
  readonly limits: CommandLimits;
  readonly clock: Clock;
  readonly log: Logger;
  /** Called once a minute when commands were refused for the rate limit (central monitoring is told). */
  readonly overflow: (counts: Readonly<Record<string, number>>) => void;
}

/** A transaction is echoed only when short: a huge one must not come back on the response topic. */
const MAX_TRANSACTION_CHARS = 64;
const SUMMARY_EVERY_MS = 60_000;
/** Unknown names share one rate budget and one counter, so a flood of made-up names stays bounded. */
const UNKNOWN = '(unknown)';

type Reply = (r: Omit<CommandResponse, 'transaction'>) => void;
type Counts = Record<'handled' | 'refused' | 'rate_limited', Record<string, number>>;

/**
 * kiosk/<id>/cmd/<name> with a JSON object payload (empty means {}); the answer goes to
 * kiosk/<id>/cmd/<name>/response and echoes the request's `transaction`. Bad requests get an
 * error answer, never an exception; arguments are parsed with the contract's `args` of the
 * command, and the handler gets them typed. Retained commands are ignored.
 *
 * The broker is not trusted: a payload over `maxPayloadBytes` is refused without being parsed;
 * each name has a token bucket of `ratePerMinute` (the first refusal in a burst is answered,
 * the rest are dropped and counted); handled commands log at debug, with one info line a minute.
 * Returns a stop function.
 */
export function serveCommands(d: CommandServerDeps): () => void {
  const { link, topics, handlers, limits, log } = d;
  const rate = rateLimiter(d.clock, limits.ratePerMinute);
  let counts: Counts = { handled: {}, refused: {}, rate_limited: {} };
  const bump = (what: keyof Counts, k: string): void => void (counts[what][k] = (counts[what][k] ?? 0) + 1);

  link.onMessage((topic, payload, packet) => {
    const name = topics.commandName(topic);
    if (name === null) return;
    const known = Object.hasOwn(handlers, name);
    const key = known ? name : UNKNOWN;
    let transaction: CommandResponse['transaction'] = null;
    const reply: Reply = (r) => void link.publishTransient(topics.response(name), JSON.stringify({ transaction, ...r }));
    const refuse = (error: string, counted = key): void => {
      bump('refused', counted);
      reply({ status: 'error', error });
    };
    const verdict = rate.take(key);
    if (verdict !== 'ok') {
      bump('rate_limited', key);
      if (verdict === 'first-refusal' && !packet.retain)
        reply({ status: 'error', error: `too many "${key}" commands: at most ${limits.ratePerMinute} a minute; the rest are dropped unanswered` });
      return;
    }
    if (packet.retain) {
      // A command left retained on the broker would run again on every reconnect (and undo
      // what a technician did since). Commands are acts, not state: refuse and say so (the
      // rate limit above bounds these lines too).
      log.warn({ cmd: key }, 'ignoring a retained command; publish commands without the retain flag');
      return bump('refused', key);
    }
    if (payload.length > limits.maxPayloadBytes) {
      // Not parsed, not echoed: only the transaction, if it is short and at the very start.
      transaction = leadingTransaction(payload);
      return refuse(`payload too large: ${payload.length} bytes, the limit is ${limits.maxPayloadBytes}`);
    }
    const request = decodeRequest(payload);
    if (!request.ok) return refuse(request.error);
    transaction = shortTransaction(request.args['transaction']);
    const refusal = d.refusals && Object.hasOwn(d.refusals, name) ? d.refusals[name] : undefined;
    if (refusal !== undefined) {
      refuse(refusal, name);
      return log.warn({ cmd: name }, 'refused a patient-only command from the network');
    }
    if (!known) return refuse(`unknown command; known: ${Object.keys(handlers).join(', ')}`);
    const args = parseArgs(commandSpecs[name as CommandName], request.args);
    if (!args.ok) return refuse(args.error);
    const handler = handlers[name as CommandName] as (args: unknown) => unknown;
    // A handler may answer at once or with a promise (a test print takes a moment).
    Promise.resolve()
      .then(() => handler(args.value))
      .then(
        (data) => {
          bump('handled', key);
          reply({ status: 'ok', data });
          log.debug({ cmd: key }, 'command handled');
        },
        (err: unknown) => {
          refuse(err instanceof Error ? err.message : String(err));
          log.debug({ cmd: key, err: err instanceof Error ? err.message : String(err) }, 'command refused');
        },
      );
  });

  return every(d.clock, SUMMARY_EVERY_MS, () => {
    const { handled, refused, rate_limited } = counts;
    if (Object.keys(handled).length + Object.keys(refused).length + Object.keys(rate_limited).length > 0) {
      log.info({ handled, refused, rate_limited }, 'commands in the last minute');
    }
    if (Object.keys(rate_limited).length > 0) d.overflow(rate_limited);
    counts = { handled: {}, refused: {}, rate_limited: {} };
    rate.forgetFull();
  });
}

/** The payload as a JSON object (empty means {}), or the error the answer gives. */
function decodeRequest(payload: Buffer): { ok: true; args: Record<string, unknown> } | { ok: false; error: string } {
  const text = payload.toString('utf8').trim();
  if (text === '') return { ok: true, args: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, error: 'payload is not valid JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, error: 'payload must be a JSON object' };
  return { ok: true, args: parsed as Record<string, unknown> };
}

/** The arguments as the contract parses them, or the answer the contract gives for bad ones. */
function parseArgs(spec: CommandSpec, raw: Record<string, unknown>): { ok: true; value: unknown } | { ok: false; error: string } {
  for (const [field, error] of Object.entries(spec.refusedArgs ?? {})) if (raw[field] !== undefined) return { ok: false, error };
  const r = spec.args.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, error: spec.badArgs ?? `bad arguments: ${r.error.issues[0]?.message ?? 'invalid'}` };
}

/** A token bucket per key: refills at `perMinute`, holds at most `perMinute`. */
function rateLimiter(clock: Clock, perMinute: number) {
  const buckets = new Map<string, { tokens: number; at: number; refusedQuiet: boolean }>();
  const level = (b: { tokens: number; at: number }, now: number): number => b.tokens + ((now - b.at) * perMinute) / SUMMARY_EVERY_MS;
  return {
    /** ok, or refused: the first refusal of a burst is answered, the rest dropped. */
    take(key: string): 'ok' | 'first-refusal' | 'drop' {
      const now = clock.now();
      const b = buckets.get(key) ?? { tokens: perMinute, at: now, refusedQuiet: false };
      b.tokens = Math.min(perMinute, level(b, now));
      b.at = now;
      buckets.set(key, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        b.refusedQuiet = false;
        return 'ok';
      }
      if (b.refusedQuiet) return 'drop';
      b.refusedQuiet = true;
      return 'first-refusal';
    },
    /** Buckets that are full again carry no information: forget them. */
    forgetFull(): void {
      const now = clock.now();
      for (const [k, b] of buckets) if (level(b, now) >= perMinute) buckets.delete(k);
    },
  };
}

function shortTransaction(t: unknown): CommandResponse['transaction'] {
  if (typeof t === 'string' && t.length <= MAX_TRANSACTION_CHARS) return t;
  if (typeof t === 'number' && Number.isFinite(t)) return t;
  return null;
}

/** `{"transaction": "t1", …` at the head of an oversized payload; nothing else of it is read. */
function leadingTransaction(payload: Buffer): CommandResponse['transaction'] {
  const head = payload.subarray(0, 32 + MAX_TRANSACTION_CHARS).toString('utf8');
  const m = /^\s*\{\s*"transaction"\s*:\s*(?:"([^"\\]{0,64})"|(-?\d{1,15}))\s*[,}]/.exec(head);
  if (!m) return null;
  return m[1] !== undefined ? m[1] : Number(m[2]);
}
