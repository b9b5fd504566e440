/**
 * The consumer's view of what kiosks publish: raw messages as received, read into typed
 * payloads with the contract's zod schemas, and a recording that can be waited on.
 */
import { eventPayloads } from './contract/events.js';
import { retainedPayloads } from './contract/retained.js';
import { parseKioskTopic, type EventEnvelope, type EventTopics, type RetainedTopics } from './topics.js';
import type { Clock } from '../util/clock.js';

/** One message as it arrived. */
export interface Received {
  readonly topic: string;
  /** The payload as UTF-8 text. */
  readonly payload: string;
  /** The payload's size in bytes. */
  readonly bytes: number;
  readonly retain: boolean;
  /** MQTT 5 message expiry interval, when the sender set one and the client speaks MQTT 5. */
  readonly expirySec: number | undefined;
  /** Wall-clock time it arrived (Date.now()). */
  readonly at: number;
}

/** The payload of each thing a kiosk publishes: retained values, and events in their envelope. */
export type KioskPayloads = RetainedTopics & { readonly [K in keyof EventTopics]: EventEnvelope<EventTopics[K]> };
export type KioskKind = keyof KioskPayloads;

/** A message read as the contract says: which kiosk, which kind, and its typed payload. */
export interface KioskMessage<K extends KioskKind = KioskKind> {
  readonly kiosk: string;
  readonly kind: K;
  readonly payload: KioskPayloads[K];
  readonly message: Received;
}

/**
 * `m` read as a `kind` message of a kiosk under `prefix` (any kind when omitted), or null when
 * it is another topic or its payload does not match the contract.
 */
export function readKioskMessage<K extends KioskKind>(prefix: string, m: Received, kind?: K): KioskMessage<K> | null {
  const t = parseKioskTopic(prefix, m.topic);
  if (!t || t.kind === 'command' || t.kind === 'response') return null;
  const got = (t.kind === 'event' ? t.event : t.kind) as KioskKind;
  if (kind !== undefined && got !== kind) return null;
  let payload: unknown;
  if (got === 'status') {
    payload = retainedPayloads.status.safeParse(m.payload).data;
  } else {
    const schema = t.kind === 'event' ? eventPayloads[t.event as keyof EventTopics] : retainedPayloads[t.kind];
    const json = parseJson(m.payload);
    payload = json === undefined || !schema ? undefined : schema.safeParse(json).data;
  }
  return payload === undefined ? null : { kiosk: t.kiosk, kind: got as K, payload: payload as KioskPayloads[K], message: m };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Where a recording stops listening: the client it came from. */
export interface MessageSource {
  onMessage(listener: (m: Received) => void): () => void;
}

/**
 * Every message from the moment it starts, in arrival order; `waitFor` looks at what was already
 * recorded (from index `from`: `mark()` gives the next one) and then at what arrives.
 */
export class Recording {
  readonly seen: Received[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly unsubscribe: () => void;

  constructor(
    source: MessageSource,
    private readonly prefix: string,
    private readonly clock: Clock,
  ) {
    this.unsubscribe = source.onMessage((m) => {
      this.seen.push(m);
      for (const w of this.waiters) w();
    });
  }

  mark(): number {
    return this.seen.length;
  }

  /** The typed messages of `kind` recorded so far (from index `from`), of one kiosk or all. */
  messages<K extends KioskKind>(kind: K, opts: { readonly from?: number; readonly kiosk?: string } = {}): KioskMessage<K>[] {
    const out: KioskMessage<K>[] = [];
    for (const m of this.seen.slice(opts.from ?? 0)) {
      const k = readKioskMessage(this.prefix, m, kind);
      if (k && (opts.kiosk === undefined || k.kiosk === opts.kiosk)) out.push(k);
    }
    return out;
  }

  /** The first typed `kind` message (from index `from`) whose payload `pred` accepts; rejects after `timeoutMs`. */
  async waitFor<K extends KioskKind>(
    kind: K,
    pred: (payload: KioskPayloads[K], m: KioskMessage<K>) => boolean = () => true,
    timeoutMs = 10_000,
    opts: { readonly from?: number; readonly kiosk?: string } = {},
  ): Promise<KioskMessage<K>> {
    const hit = (m: Received): KioskMessage<K> | null => {
      const k = readKioskMessage(this.prefix, m, kind);
      return k && (opts.kiosk === undefined || k.kiosk === opts.kiosk) && pred(k.payload, k) ? k : null;
    };
    const m = await this.waitForMessage((r) => hit(r) !== null, timeoutMs, opts.from ?? 0);
    return hit(m)!;
  }

  /** The first raw message (from index `from`) matching `pred`; rejects after `timeoutMs` listing what was seen. */
  waitForMessage(pred: (m: Received) => boolean, timeoutMs = 10_000, from = 0): Promise<Received> {
    return new Promise((resolve, reject) => {
      // Everything from `from` again on each arrival: a predicate may depend on more than the message.
      const check = (): void => {
        const hit = this.seen.slice(from).find(pred);
        if (hit) {
          cleanup();
          resolve(hit);
        }
      };
      const timer = this.clock.setTimeout(() => {
        cleanup();
        reject(new Error(`not seen within ${timeoutMs} ms; saw:\n${this.seen.map((m) => `  ${m.topic} ${m.payload.slice(0, 160)}`).join('\n')}`));
      }, timeoutMs);
      const cleanup = (): void => {
        this.clock.clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  stop(): void {
    this.unsubscribe();
    this.waiters.clear();
  }
}
