import type { MqttLink } from './link.js';
import type { CommandResponse, KioskTopicNames } from './topics.js';
import type { Logger } from '../log/logger.js';
import { every, type Clock } from '../util/clock.js';

export type CommandHandler = (args: Record<string, unknown>) => unknown;

export interface CommandLimits {
  /** A payload over this is refused unread: never parsed, never echoed. */
  readonly maxPayloadBytes: number;
  /** Per command name (unknown names share one budget); what is over it is counted and dropped. */
  readonly ratePerMinute: number;
}

export interface CommandServerDeps {
  readonly link: MqttLink;
  readonly topics: KioskTopicNames;
  readonly handlers: Readonly<Record<string, CommandHandler>>;
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

/**
 * kiosk/<id>/cmd/<name> with a JSON object payload (empty means {}); the answer goes to
 * kiosk/<id>/cmd/<name>/response and echoes the request's `transaction`. Bad requests get an
 * error answer, never an exception. Retained commands are ignored.
 *
 * The broker is not trusted: a payload over `maxPayloadBytes` is refused without being parsed;
 * each name has a token bucket of `ratePerMinute` (the first refusal in a burst is answered,
 * the rest are dropped and counted); handled commands log at debug, with one info line a minute.
 * Returns a stop function.
 */
export function serveCommands(d: CommandServerDeps): () => void {
  const { link, topics, handlers, limits, clock, log } = d;
  const buckets = new Map<string, { tokens: number; at: number; refusedQuiet: boolean }>();
  let handled: Record<string, number> = {};
  let refused: Record<string, number> = {};
  let limited: Record<string, number> = {};
  const bump = (m: Record<string, number>, k: string): void => {
    m[k] = (m[k] ?? 0) + 1;
  };

  /** True if the command may run now; refills at ratePerMinute, holds at most ratePerMinute. */
  const take = (key: string): 'ok' | 'first-refusal' | 'drop' => {
    const now = clock.now();
    const cap = limits.ratePerMinute;
    const b = buckets.get(key) ?? { tokens: cap, at: now, refusedQuiet: false };
    b.tokens = Math.min(cap, b.tokens + ((now - b.at) * cap) / SUMMARY_EVERY_MS);
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
  };

  link.onMessage((topic, payload, packet) => {
    const name = topics.commandName(topic);
    if (name === null) return;
    const known = Object.hasOwn(handlers, name);
    const key = known ? name : UNKNOWN;
    let transaction: CommandResponse['transaction'] = null;
    const reply = (r: Omit<CommandResponse, 'transaction'>): void => {
      link.publishTransient(topics.response(name), JSON.stringify({ transaction, ...r }));
    };
    const verdict = take(key);
    if (verdict !== 'ok') {
      bump(limited, key);
      if (verdict === 'first-refusal' && !packet.retain)
        reply({ status: 'error', error: `too many "${key}" commands: at most ${limits.ratePerMinute} a minute; the rest are dropped unanswered` });
      return;
    }
    if (packet.retain) {
      // A command left retained on the broker would run again on every reconnect (and undo
      // what a technician did since). Commands are acts, not state: refuse and say so (the
      // rate limit above bounds these lines too).
      log.warn({ cmd: key }, 'ignoring a retained command; publish commands without the retain flag');
      bump(refused, key);
      return;
    }
    if (payload.length > limits.maxPayloadBytes) {
      // Not parsed, not echoed: only the transaction, if it is short and at the very start.
      transaction = leadingTransaction(payload);
      bump(refused, key);
      reply({ status: 'error', error: `payload too large: ${payload.length} bytes, the limit is ${limits.maxPayloadBytes}` });
      return;
    }
    let args: Record<string, unknown> = {};
    const text = payload.toString('utf8').trim();
    if (text !== '') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        bump(refused, key);
        reply({ status: 'error', error: 'payload is not valid JSON' });
        return;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        bump(refused, key);
        reply({ status: 'error', error: 'payload must be a JSON object' });
        return;
      }
      args = parsed as Record<string, unknown>;
      transaction = shortTransaction(args['transaction']);
    }
    const handler = known ? handlers[name] : undefined;
    const refusal = d.refusals && Object.hasOwn(d.refusals, name) ? d.refusals[name] : undefined;
    if (refusal !== undefined) {
      bump(refused, name);
      reply({ status: 'error', error: refusal });
      log.warn({ cmd: name }, 'refused a patient-only command from the network');
      return;
    }
    if (!handler) {
      bump(refused, key);
      reply({ status: 'error', error: `unknown command; known: ${Object.keys(handlers).join(', ')}` });
      return;
    }
    // A handler may answer at once or with a promise (a test print takes a moment).
    Promise.resolve()
      .then(() => handler(args))
      .then(
        (data) => {
          bump(handled, key);
          reply({ status: 'ok', data });
          log.debug({ cmd: key }, 'command handled');
        },
        (err: unknown) => {
          bump(refused, key);
          reply({ status: 'error', error: err instanceof Error ? err.message : String(err) });
          log.debug({ cmd: key, err: err instanceof Error ? err.message : String(err) }, 'command refused');
        },
      );
  });

  const stopSummary = every(clock, SUMMARY_EVERY_MS, () => {
    if (Object.keys(handled).length + Object.keys(refused).length + Object.keys(limited).length > 0) {
      log.info({ handled, refused, rate_limited: limited }, 'commands in the last minute');
    }
    if (Object.keys(limited).length > 0) d.overflow(limited);
    handled = {};
    refused = {};
    limited = {};
    // Buckets that are full again carry no information: forget them.
    const now = clock.now();
    for (const [k, b] of buckets) if (b.tokens + ((now - b.at) * limits.ratePerMinute) / SUMMARY_EVERY_MS >= limits.ratePerMinute) buckets.delete(k);
  });
  return stopSummary;
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
