import mqtt, { type MqttClient } from 'mqtt';

export interface Seen {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
  /** MQTT 5 message expiry interval, when the sender set one and the watcher speaks MQTT 5. */
  readonly expirySec: number | undefined;
}

/** A monitoring client, as central monitoring would run one: subscribes and records everything. */
export class Watcher {
  readonly seen: Seen[] = [];
  private waiters: Array<() => void> = [];
  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.seen.push({ topic, payload: payload.toString(), retain: packet.retain, expirySec: packet.properties?.messageExpiryInterval });
      for (const w of this.waiters) w();
    });
  }

  static async start(url: string, filter: string, protocolVersion: 4 | 5 = 4, auth: { username?: string; password?: string } = {}): Promise<Watcher> {
    const client = await mqtt.connectAsync(url, {
      protocolVersion,
      reconnectPeriod: 200,
      clientId: `watch-${Math.random().toString(16).slice(2)}`,
      ...auth,
    });
    const w = new Watcher(client);
    await client.subscribeAsync(filter, { qos: 1 });
    return w;
  }

  /** Resolves with the first message (from index `from`) matching; rejects after timeoutMs listing what was seen. */
  waitFor(pred: (m: Seen) => boolean, timeoutMs = 10_000, from = 0): Promise<Seen> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.seen.slice(from).find(pred);
        if (hit) {
          cleanup();
          resolve(hit);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`not seen within ${timeoutMs} ms; saw:\n${this.seen.map((m) => `  ${m.topic} ${m.payload.slice(0, 160)}`).join('\n')}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      const waiter = (): void => void check();
      this.waiters.push(waiter);
      check();
    });
  }

  mark(): number {
    return this.seen.length;
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }
}
