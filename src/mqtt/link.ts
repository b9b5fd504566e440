import mqtt, { type IClientOptions, type MqttClient, type IPublishPacket } from 'mqtt';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';
import { Outbox } from './outbox.js';
import { maskIdNumbers } from '../log/mask.js';
import { credentialOptions } from './connect-options.js';
import { classifyTlsError, type TlsErrorKind } from './tls-error.js';

export interface MqttLinkOptions {
  readonly url: string;
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  readonly tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
  readonly protocol: 'auto' | 4 | 5;
  readonly keepaliveSec: number;
  /** Already jittered by the caller: each device gets its own period so a fleet does not reconnect in step. */
  readonly reconnectPeriodMs: number;
  readonly will: { readonly topic: string; readonly payload: string };
  readonly ringSize: number;
  readonly subscriptions: readonly string[];
  /**
   * MQTT 5 only: the largest packet the kiosk accepts, told to the broker at connect so it drops
   * bigger ones instead of sending them (with 3.1.1 only the broker's own limit protects us).
   */
  readonly maxIncomingBytes?: number;
  /** Builds the event that reports events lost while offline. */
  readonly dropReport: (count: number) => { topic: string; payload: string; expirySec: number };
  readonly clock: Clock;
  readonly log: Logger;
}

export type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => void;

/** Reason codes a broker uses to refuse MQTT 5 (3.1.1 CONNACK code 1, or v5 0x84). */
const UNSUPPORTED_PROTOCOL = new Set([1, 0x84]);

/**
 * The kiosk's one connection to its broker. It re-announces every retained topic on each
 * (re)connect, keeps events in a bounded ring while offline, and never lets mqtt.js queue
 * without bound (queueQoSZero off, nothing published while disconnected).
 */
export class MqttLink {
  private client: MqttClient | null = null;
  private readonly outbox: Outbox;
  private protocolVersion: 4 | 5;
  private readonly handlers: MessageHandler[] = [];
  private readonly connectListeners: Array<() => void> = [];
  private stopping = false;
  private outageLogged = false;
  /** A TLS failure is said even when the outage began as something else (the broker was down). */
  private tlsLogged = false;
  private connectedOnce = false;
  /** Set while connect listeners refresh retained values, which the replay then sends once. */
  private refreshing = false;

  constructor(private readonly opts: MqttLinkOptions) {
    this.outbox = new Outbox(opts.ringSize);
    this.protocolVersion = opts.protocol === 4 ? 4 : 5;
  }

  /** Starts connecting in the background; never waits for the broker. */
  start(): void {
    this.client = this.connect();
  }

  connected(): boolean {
    return this.client?.connected === true;
  }

  protocol(): 4 | 5 {
    return this.protocolVersion;
  }

  stats(): { queued: number; dropped: number } {
    return this.outbox.stats();
  }

  onMessage(handler: MessageHandler): void {
    this.handlers.push(handler);
  }

  onConnect(listener: () => void): void {
    this.connectListeners.push(listener);
  }

  /** Remembers the value (latest wins) and sends it now if connected. */
  publishRetained(topic: string, payload: string): void {
    this.outbox.setRetained(topic, payload);
    if (this.connected() && !this.refreshing) this.send(topic, payload, { retain: true });
  }

  publishEvent(topic: string, payload: string, expirySec: number): void {
    if (this.connected()) {
      this.send(topic, payload, { retain: false, expirySec });
    } else {
      this.outbox.enqueue({ topic, payload, queuedAt: this.opts.clock.now(), expiryMs: expirySec * 1000 });
    }
  }

  /** For command responses: only meaningful while connected, so dropped otherwise. */
  publishTransient(topic: string, payload: string): boolean {
    if (!this.connected()) return false;
    this.send(topic, payload, { retain: false });
    return true;
  }

  /**
   * Publishes the final retained value (e.g. status "stopped") if it can within `timeoutMs`,
   * then disconnects cleanly so the broker does not send the last will.
   */
  async stop(final: { topic: string; payload: string }, timeoutMs: number): Promise<void> {
    this.stopping = true;
    const client = this.client;
    if (!client) return;
    this.outbox.setRetained(final.topic, final.payload);
    if (client.connected) {
      try {
        await withTimeout(this.opts.clock, client.publishAsync(final.topic, final.payload, { qos: 1, retain: true }), timeoutMs);
        await withTimeout(this.opts.clock, client.endAsync(), timeoutMs);
        return;
      } catch (err) {
        this.opts.log.warn({ err: errText(err) }, 'could not say goodbye to the broker');
      }
    }
    await withTimeout(this.opts.clock, client.endAsync(true), timeoutMs).catch(() => {});
  }

  private connect(): MqttClient {
    const o = this.opts;
    const options: IClientOptions = {
      clientId: o.clientId,
      protocolVersion: this.protocolVersion,
      keepalive: o.keepaliveSec,
      reconnectPeriod: o.reconnectPeriodMs,
      connectTimeout: 10_000,
      clean: true,
      resubscribe: false, // we subscribe ourselves on every connect
      queueQoSZero: false,
      reconnectOnConnackError: true,
      will: { topic: o.will.topic, payload: Buffer.from(o.will.payload), qos: 1, retain: true },
      ...(this.protocolVersion === 5 && o.maxIncomingBytes ? { properties: { maximumPacketSize: o.maxIncomingBytes } } : {}),
      ...credentialOptions(o),
    };
    const client = mqtt.connect(o.url, options);
    client.on('connect', () => this.onConnected(client));
    client.on('message', (topic, payload, packet) => {
      for (const h of this.handlers) {
        try {
          h(topic, payload, packet);
        } catch (err) {
          o.log.error({ err: errText(err), topic }, 'message handler failed');
        }
      }
    });
    client.on('close', () => {
      if (this.stopping || this.outageLogged) return;
      this.outageLogged = true;
      o.log.warn(
        { url: redactUrl(o.url), retryEveryMs: o.reconnectPeriodMs },
        this.connectedOnce ? 'lost the MQTT broker; reconnecting' : 'MQTT broker not reachable yet; retrying',
      );
    });
    client.on('error', (err: Error & { code?: number | string; reason?: string }) => {
      if (o.protocol === 'auto' && this.protocolVersion === 5 && typeof err.code === 'number' && UNSUPPORTED_PROTOCOL.has(err.code)) {
        o.log.info('broker refused MQTT 5; using MQTT 3.1.1');
        this.protocolVersion = 4;
        client.removeAllListeners();
        client.on('error', () => {});
        client.end(true);
        this.client = this.connect();
        return;
      }
      if (typeof err.code === 'number' && !this.stopping) {
        // A CONNACK refusal (bad credentials, not authorised …): the technician must see the
        // broker's reason, once per outage, not a generic "unreachable".
        if (!this.outageLogged) {
          this.outageLogged = true;
          o.log.warn(
            { url: redactUrl(o.url), reason: err.message, retryEveryMs: o.reconnectPeriodMs },
            'MQTT broker refused the connection; retrying',
          );
        }
        return;
      }
      const tls = this.stopping ? null : tlsProblem(err, o.tls);
      if (tls) {
        // Retrying cannot fix a certificate: the technician must see which file to change.
        if (!this.tlsLogged) {
          this.tlsLogged = this.outageLogged = true;
          o.log.warn(
            { url: redactUrl(o.url), reason: err.reason ?? err.message.split('\n')[0], retryEveryMs: o.reconnectPeriodMs },
            `${tls}; retrying`,
          );
        }
        return;
      }
      o.log.debug({ err: errText(err) }, 'mqtt error');
    });
    return client;
  }

  private onConnected(client: MqttClient): void {
    const o = this.opts;
    this.connectedOnce = true;
    if (this.outageLogged) o.log.info({ url: redactUrl(o.url) }, 'MQTT broker connected again');
    else o.log.info({ url: redactUrl(o.url), protocol: this.protocolVersion }, 'MQTT broker connected');
    this.outageLogged = this.tlsLogged = false;
    // Listeners refresh what depends on the connection (e.g. the negotiated protocol in info)
    // before the replay, so a monitor never sees a stale value first.
    this.refreshing = true;
    try {
      for (const l of this.connectListeners) l();
    } finally {
      this.refreshing = false;
    }
    // Retained first (status is the first entry), so a monitor sees "online" before anything else.
    for (const [topic, payload] of this.outbox.retainedEntries()) this.send(topic, payload, { retain: true });
    if (o.subscriptions.length > 0) {
      client.subscribe([...o.subscriptions], { qos: 1 }, (err) => {
        if (err) o.log.warn({ err: errText(err) }, 'could not subscribe to commands');
      });
    }
    const now = o.clock.now();
    for (const e of this.outbox.drain(now)) {
      const left = Math.max(1, Math.ceil((e.expiryMs - (now - e.queuedAt)) / 1000));
      this.send(e.topic, e.payload, { retain: false, expirySec: left });
    }
    const dropped = this.outbox.takeUnreportedDrops();
    if (dropped > 0) {
      o.log.warn({ dropped }, 'events were dropped while the broker was away');
      const r = o.dropReport(dropped);
      this.send(r.topic, r.payload, { retain: false, expirySec: r.expirySec });
    }
  }

  private send(topic: string, text: string, p: { retain: boolean; expirySec?: number }): void {
    const client = this.client;
    if (!client) return;
    // The last net under "no personal data on MQTT": an ID number in an error text is cut.
    const payload = maskIdNumbers(text);
    const properties = this.protocolVersion === 5 && p.expirySec !== undefined ? { messageExpiryInterval: p.expirySec } : undefined;
    client.publish(topic, payload, { qos: 1, retain: p.retain, ...(properties ? { properties } : {}) }, (err) => {
      if (err && !this.stopping) this.opts.log.debug({ err: errText(err), topic }, 'publish failed');
    });
  }
}

/** What to fix for a TLS failure, in the kiosk's config keys, or null when the error is not one. */
const TLS_FIX: Record<TlsErrorKind, (tls: MqttLinkOptions['tls']) => string> = {
  untrusted: (tls) =>
    tls?.ca
      ? "the MQTT broker's certificate is not signed by the CA in mqtt.tls.caFile"
      : "the MQTT broker's certificate is not signed by a CA this kiosk trusts: set mqtt.tls.caFile to the hospital's CA certificate",
  'wrong-host': () => "the MQTT broker's certificate is not made out to the host in mqtt.url",
  expired: () => "the MQTT broker's certificate has expired (check the kiosk's clock too)",
  'not-yet-valid': () => "the MQTT broker's certificate is not valid yet (check the kiosk's clock too)",
  'client-cert-required': () => 'the MQTT broker requires a client certificate: set mqtt.tls.certFile and mqtt.tls.keyFile',
  'client-cert-refused': () => 'the MQTT broker refused the client certificate in mqtt.tls.certFile',
  failed: () => 'TLS with the MQTT broker failed',
};

/** A TLS failure as the config key to fix, or null when the error is not one. */
export function tlsProblem(err: { code?: number | string }, tls: MqttLinkOptions['tls']): string | null {
  const kind = classifyTlsError(err, Boolean(tls?.cert));
  return kind === null ? null : TLS_FIX[kind](tls);
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Broker URLs may carry credentials (mqtt://user:pass@host); never log them. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'redacted';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}

async function withTimeout<T>(clock: Clock, p: Promise<T>, ms: number): Promise<T> {
  let timer: unknown;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = clock.setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clock.clearTimeout(timer);
  }
}
