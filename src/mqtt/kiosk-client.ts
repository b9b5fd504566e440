/**
 * The consumer side of the MQTT contract: what `kioskd monitor`, the self-test, hw-sim (console,
 * web panel, scenario runner) and the tests use to watch kiosks and send them commands. It
 * connects with the daemon's own credential and TLS options, subscribes again on every
 * reconnect, reads payloads with the contract's schemas, and matches command answers by
 * transaction.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { credentialOptions, type MqttCredentials } from './connect-options.js';
import type { CommandArgs, CommandData, CommandName } from './contract/commands.js';
import { Recording, readKioskMessage, type KioskKind, type KioskMessage, type KioskPayloads, type Received } from './kiosk-messages.js';
import { kioskFilter, kioskTopics, parseKioskTopic, type CommandResponse } from './topics.js';
import { systemClock, type Clock } from '../util/clock.js';

export { classifyTlsError, type TlsErrorKind } from './tls-error.js';
export { Recording, readKioskMessage, type KioskKind, type KioskMessage, type KioskPayloads, type Received } from './kiosk-messages.js';

export interface KioskClientOptions extends MqttCredentials {
  readonly url: string;
  /** A prefix for the client id (a random suffix is added). */
  readonly clientId: string;
  /** mqtt.topicPrefix (default kiosk). */
  readonly prefix?: string;
  /** One kiosk; all kiosks under the prefix when omitted. Commands go to it unless told otherwise. */
  readonly deviceId?: string;
  /** What to subscribe to on every connect: default `<prefix>/<deviceId or +>/#`; null for nothing. */
  readonly filter?: string | null;
  /** MQTT protocol (default 4, 3.1.1: every broker speaks it). */
  readonly protocol?: 4 | 5;
  /** Retry period after a lost connection; 0: one attempt only (default 1000). */
  readonly reconnectPeriodMs?: number;
  readonly connectTimeoutMs?: number;
  readonly keepaliveSec?: number;
  /** Record every message from the start (`recording`), the retained burst on subscribing included. */
  readonly record?: boolean;
  readonly clock?: Clock;
}

/** How a command failed: no answer in time, an error answer, or it could not be sent. */
export class KioskCommandError extends Error {
  constructor(
    readonly reason: 'timeout' | 'refused' | 'unsent',
    message: string,
  ) {
    super(message);
    this.name = 'KioskCommandError';
  }
}

/** The subscription on the current connection: null once granted, else why not. */
type Subscribed = Promise<string | null>;

export class KioskClient {
  /** The mqtt.js client, for what this one does not cover (publishing test fixtures, events of the connection). */
  readonly mqtt: MqttClient;
  readonly prefix: string;
  /** Everything received since the client was made, when opened with `record: true`. */
  readonly recording: Recording | null;
  private subscribed: Subscribed = Promise.resolve('not connected yet');
  private readonly listeners = new Set<(m: Received) => void>();
  private readonly subscribeListeners = new Set<(refused: string | null) => void>();
  private readonly clock: Clock;

  /** Starts connecting (and retrying) in the background. */
  static open(o: KioskClientOptions): KioskClient {
    return new KioskClient(o);
  }

  /**
   * Connects, and resolves once subscribed; rejects on the first connection error, as
   * mqtt.connectAsync does. `setup` runs before anything can arrive: listeners it adds hear the
   * retained burst that follows the subscription.
   */
  static async connect(o: KioskClientOptions, setup: (client: KioskClient) => void = () => {}): Promise<KioskClient> {
    const c = new KioskClient(o);
    setup(c);
    try {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error): void => {
          c.mqtt.off('connect', onConnect).off('error', done).off('end', onEnd);
          if (err) reject(err);
          else resolve();
        };
        const onConnect = (): void => done();
        const onEnd = (): void => done(new Error(`closed before connecting to ${o.url}`));
        c.mqtt.on('connect', onConnect).on('error', done).on('end', onEnd);
      });
      const refused = await c.subscribed;
      if (refused !== null) throw new Error(refused);
    } catch (err) {
      await c.end();
      throw err;
    }
    return c;
  }

  private constructor(private readonly o: KioskClientOptions) {
    this.prefix = o.prefix ?? 'kiosk';
    this.clock = o.clock ?? systemClock();
    this.recording = o.record ? this.record() : null;
    const options: IClientOptions = {
      clientId: `${o.clientId}-${randomBytes(4).toString('hex')}`.slice(0, 128),
      protocolVersion: o.protocol ?? 4,
      clean: true,
      reconnectPeriod: o.reconnectPeriodMs ?? 1000,
      ...(o.connectTimeoutMs !== undefined ? { connectTimeout: o.connectTimeoutMs } : {}),
      ...(o.keepaliveSec !== undefined ? { keepalive: o.keepaliveSec } : {}),
      resubscribe: false, // subscribed on every connect below, so `listening()` knows when
      ...credentialOptions(o),
    };
    this.mqtt = mqtt.connect(o.url, options);
    // Connection errors are retried (reconnectPeriodMs); whoever wants to see them listens on `mqtt`.
    this.mqtt.on('error', () => {});
    this.mqtt.on('connect', () => {
      this.subscribed = this.subscribe();
      void this.subscribed.then((refused) => {
        for (const l of this.subscribeListeners) l(refused);
      });
    });
    this.mqtt.on('message', (topic, payload, packet) => {
      const m: Received = {
        topic,
        payload: payload.toString('utf8'),
        bytes: payload.length,
        retain: packet.retain,
        expirySec: packet.properties?.messageExpiryInterval,
        at: Date.now(),
      };
      for (const l of this.listeners) l(m);
    });
  }

  /** The filter this client subscribes to, or null. */
  get filter(): string | null {
    return this.o.filter !== undefined ? this.o.filter : kioskFilter(this.prefix, this.o.deviceId);
  }

  private subscribe(): Subscribed {
    const filter = this.filter;
    if (filter === null) return Promise.resolve(null);
    return this.mqtt.subscribeAsync(filter, { qos: 1 }).then(
      (granted) => (granted.some((g) => g.qos === 0x80 || g.qos > 2) ? `the broker refused the subscription to ${filter}` : null),
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
  }

  /** Called after each (re)connect's subscription: null when granted, else why not. */
  onSubscribe(listener: (refused: string | null) => void): () => void {
    this.subscribeListeners.add(listener);
    return () => this.subscribeListeners.delete(listener);
  }

  /** True once connected and subscribed (after a reconnect: again). */
  async listening(): Promise<boolean> {
    return this.mqtt.connected && (await this.subscribed) === null;
  }

  /** Every message as it arrives. */
  onMessage(listener: (m: Received) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every typed message of one kiosk (or all), as it arrives; payloads the contract does not accept are skipped. */
  onKioskMessage(listener: (m: KioskMessage) => void, kiosk?: string): () => void {
    return this.onMessage((r) => {
      const m = readKioskMessage(this.prefix, r);
      if (m && (kiosk === undefined || m.kiosk === kiosk)) listener(m);
    });
  }

  /** Records every message from now on (stop it when done). */
  record(): Recording {
    return new Recording(this, this.prefix, this.clock);
  }

  /** The next `kind` message (of `kiosk`, default the client's) whose payload `pred` accepts. */
  async waitFor<K extends KioskKind>(
    kind: K,
    pred: (payload: KioskPayloads[K], m: KioskMessage<K>) => boolean = () => true,
    timeoutMs = 10_000,
    kiosk: string | undefined = this.o.deviceId,
  ): Promise<KioskMessage<K>> {
    const rec = this.record();
    try {
      return await rec.waitFor(kind, pred, timeoutMs, kiosk === undefined ? {} : { kiosk });
    } finally {
      rec.stop();
    }
  }

  /**
   * Sends command `name` to `kiosk` (default the client's) with a fresh transaction, and resolves
   * with the answer's data; rejects with a KioskCommandError on an error answer, no answer
   * within `timeoutMs`, or when it could not be sent. The subscription must cover the answer
   * topic (the default one does).
   */
  command<K extends CommandName>(name: K, args: CommandArgs<K>, opts?: CommandOptions): Promise<CommandData<K>>;
  command(name: string, args: Record<string, unknown>, opts?: CommandOptions): Promise<unknown>;
  command(name: string, args: Record<string, unknown>, opts: CommandOptions = {}): Promise<unknown> {
    const kiosk = opts.kiosk ?? this.o.deviceId;
    if (kiosk === undefined) return Promise.reject(new Error('command needs a kiosk: none was given and the client watches all'));
    if (!/^[a-z][a-z0-9-]*$/.test(name)) return Promise.reject(new Error(`not a command name: ${name}`));
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const topics = kioskTopics(this.prefix, kiosk);
    const transaction = `${opts.transactionPrefix ?? 'kc'}-${Date.now()}-${randomBytes(3).toString('hex')}`;
    // One promise, settled once by whichever comes first: the answer, the timeout or a failed publish.
    return new Promise<unknown>((resolve, reject) => {
      const settle = (finish: () => void): void => {
        this.clock.clearTimeout(timer);
        stop();
        finish();
      };
      const timer = this.clock.setTimeout(
        () => settle(() => reject(new KioskCommandError('timeout', `kioskd did not answer "${name}" within ${timeoutMs / 1000} s (is it running?)`))),
        timeoutMs,
      );
      const stop = this.onMessage((m) => {
        const t = parseKioskTopic(this.prefix, m.topic);
        if (t?.kind !== 'response' || t.kiosk !== kiosk || t.command !== name) return;
        const r = parseResponse(m.payload);
        if (r?.transaction !== transaction) return;
        settle(() => (r.status === 'ok' ? resolve(r.data) : reject(new KioskCommandError('refused', r.error ?? `kioskd refused "${name}"`))));
      });
      this.mqtt
        .publishAsync(topics.command(name), JSON.stringify({ ...args, transaction }), { qos: 1 })
        .catch((err: unknown) => settle(() => reject(new KioskCommandError('unsent', err instanceof Error ? err.message : String(err)))));
    });
  }

  /** Disconnects at once (nothing to flush: commands in flight are abandoned). */
  async end(): Promise<void> {
    this.listeners.clear();
    this.subscribeListeners.clear();
    await this.mqtt.endAsync(true);
  }
}

export interface CommandOptions {
  /** The kiosk to ask; default the client's deviceId. */
  readonly kiosk?: string;
  /** Default 30 s. */
  readonly timeoutMs?: number;
  /** The start of the transaction id, e.g. web or run (default kc). */
  readonly transactionPrefix?: string;
}

function parseResponse(text: string): CommandResponse | null {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as CommandResponse) : null;
  } catch {
    return null;
  }
}
