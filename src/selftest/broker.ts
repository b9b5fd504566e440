import type { Config } from '../config/schema.js';
import type { Secrets } from '../config/load.js';
import { KioskClient } from '../mqtt/kiosk-client.js';
import { redactUrl, tlsProblem } from '../mqtt/link.js';
import { kioskTopics } from '../mqtt/topics.js';
import type { Clock } from '../util/clock.js';
import { errorText, fail, pass, pause, seconds, type Check, type Verdict } from './check.js';

/** CONNACK codes that mean "not MQTT 5 here" (3.1.1 code 1, v5 0x84): `auto` retries with 3.1.1, as the daemon does. */
const UNSUPPORTED_PROTOCOL = new Set([1, 0x84]);

export interface BrokerCheckDeps {
  readonly config: Pick<Config, 'mqtt'>;
  readonly deviceId: string;
  readonly secrets: Pick<Secrets, 'mqttPassword' | 'tls'>;
  readonly clock: Clock;
  readonly limitMs: number;
}

type Attempt = { readonly ok: true; readonly client: KioskClient } | { readonly ok: false; readonly reason: string; readonly code?: number };

/**
 * Connects to the configured broker with the kiosk's credentials and TLS, subscribes to the
 * kiosk's own status topic and disconnects. It publishes nothing and sets no last will, so
 * monitoring sees no trace of it; its client id differs from the daemon's, so a daemon still
 * running is not knocked off.
 */
export function brokerCheck(d: BrokerCheckDeps): Check {
  const m = d.config.mqtt;
  const url = redactUrl(m.url);
  return {
    name: 'broker',
    limitMs: d.limitMs,
    async run(signal): Promise<Verdict> {
      let protocol: 4 | 5 = m.protocol === 4 ? 4 : 5;
      let a = await connectOnce(protocol, signal);
      if (!a.ok && m.protocol === 'auto' && a.code !== undefined && UNSUPPORTED_PROTOCOL.has(a.code)) {
        protocol = 4;
        a = await connectOnce(protocol, signal);
      }
      if (!a.ok) return fail(a.reason);
      const client = a.client;
      try {
        const topic = kioskTopics(m.topicPrefix, d.deviceId).retained('status');
        let retained: string | null = null;
        client.onMessage((msg) => {
          if (msg.topic === topic) retained = msg.payload.slice(0, 40);
        });
        const granted = await client.mqtt.subscribeAsync(topic, { qos: 1 });
        if (granted.some((g) => g.qos === 0x80 || g.qos > 2))
          return fail(`connected to ${url}, but the broker refused the subscription to ${topic} (check its ACL)`);
        // A retained status follows the SUBACK at once; a moment is enough to see it.
        await pause(d.clock, 200, signal);
        const version = protocol === 5 ? 'MQTT 5' : 'MQTT 3.1.1';
        const status =
          retained === null
            ? 'no status retained yet'
            : `retained status "${retained}"${retained === 'online' ? ': is the kioskd service still running?' : ''}`;
        return pass(`connected to ${url} (${version}), subscribed to ${topic}: ${status}`);
      } catch (err) {
        return fail(`connected to ${url}, then: ${errorText(err)}`);
      } finally {
        await client.end().catch(() => {});
      }
    },
  };

  function connectOnce(protocol: 4 | 5, signal: AbortSignal): Promise<Attempt> {
    const tls = m.tls ? { rejectUnauthorized: m.tls.rejectUnauthorized, ...d.secrets.tls } : undefined;
    return new Promise<Attempt>((resolve) => {
      // Subscribes to nothing by itself (the check does, to see the answer); one attempt, no last will.
      const client = KioskClient.open({
        url: m.url,
        clientId: `kioskd-${d.deviceId}-selftest`,
        filter: null,
        protocol,
        keepaliveSec: m.keepaliveSec,
        reconnectPeriodMs: 0, // one attempt: the check reports what happened, it does not wait it out
        connectTimeoutMs: d.limitMs,
        ...(m.username !== undefined ? { username: m.username } : {}),
        ...(d.secrets.mqttPassword !== undefined ? { password: d.secrets.mqttPassword } : {}),
        ...(tls ? { tls } : {}),
      });
      let settled = false;
      const finish = (a: Attempt): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (!a.ok) void client.end();
        resolve(a);
      };
      const onAbort = (): void => finish({ ok: false, reason: `no answer from ${url} within ${seconds(d.limitMs)}` });
      signal.addEventListener('abort', onAbort, { once: true });
      client.mqtt.on('connect', () => finish({ ok: true, client }));
      client.mqtt.on('error', (err: Error & { code?: number | string }) =>
        finish({ ok: false, reason: why(err), ...(typeof err.code === 'number' ? { code: err.code } : {}) }),
      );
      client.mqtt.on('close', () =>
        finish({
          ok: false,
          reason: `${url} closed the connection before accepting it${m.url.startsWith('mqtt://') || m.url.startsWith('ws://') ? ' (does it want TLS: mqtts://?)' : ''}`,
        }),
      );
    });
  }

  function why(err: Error & { code?: number | string }): string {
    const c = err.code;
    if (typeof c === 'number')
      return `${url} refused the connection: ${err.message.replace(/^Connection refused: /i, '')}${c === 4 || c === 5 || c === 0x86 || c === 0x87 ? ' (check mqtt.username and the password file)' : ''}`;
    if (c === 'ECONNREFUSED') return `connection refused at ${url} (is the broker running?)`;
    if (c === 'ENOTFOUND' || c === 'EAI_AGAIN') return `cannot resolve the broker's host name (${url})`;
    if (c === 'ETIMEDOUT' || c === 'EHOSTUNREACH' || c === 'ENETUNREACH') return `cannot reach ${url} (${c})`;
    // The daemon's own diagnosis, so the self-test names the same mqtt.tls setting to fix.
    const tls = tlsProblem(err, d.secrets.tls ? { ...d.secrets.tls, rejectUnauthorized: true } : undefined);
    if (tls) return `${tls} (${url}: ${err.message.split('\n')[0]})`;
    return `cannot connect to ${url}: ${errorText(err)}`;
  }
}
