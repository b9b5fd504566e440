import mqtt, { type MqttClient } from 'mqtt';

export interface Recorded {
  /** Wall-clock time it arrived (Date.now()). */
  readonly at: number;
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
}

/**
 * Everything on the kiosk's broker, in arrival order: what expectations look at and what
 * lands in the artifacts' mqtt.log. It reconnects and subscribes again when the broker comes
 * back after a `broker: stop` (`listening()` says when it has).
 */
export class MqttRecorder {
  readonly seen: Recorded[] = [];

  /** The subscription on the current connection: true once the broker granted it. */
  private subscribed: Promise<boolean>;

  private constructor(
    private readonly client: MqttClient,
    onMessage: (r: Recorded) => void,
  ) {
    client.on('message', (topic, payload, packet) => {
      const r: Recorded = { at: Date.now(), topic, payload: payload.toString('utf8'), retain: packet.retain };
      this.seen.push(r);
      onMessage(r);
    });
    this.subscribed = this.subscribe();
    // Subscribed again on every reconnect by us (not mqtt.js), so listening() knows when it is done.
    client.on('connect', () => (this.subscribed = this.subscribe()));
  }

  static async start(url: string, onMessage: (r: Recorded) => void = () => {}): Promise<MqttRecorder> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 200, resubscribe: false, clientId: `hw-sim-run-${process.pid}-${Math.random().toString(16).slice(2, 8)}` });
    const rec = new MqttRecorder(client, onMessage);
    if (!(await rec.subscribed)) throw new Error(`could not subscribe to # on ${url}`);
    return rec;
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** True once connected and subscribed (after a broker restart: again); false while not yet. */
  async listening(): Promise<boolean> {
    return this.client.connected && (await this.subscribed);
  }

  private subscribe(): Promise<boolean> {
    return this.client.subscribeAsync('#', { qos: 1 }).then(
      () => true,
      () => false,
    );
  }

  async publish(topic: string, payload: string): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1 });
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** One line of mqtt.log: time, R for retained (- otherwise), topic, payload. */
export function logLine(r: Recorded): string {
  return `${new Date(r.at).toISOString()} ${r.retain ? 'R' : '-'} ${r.topic} ${r.payload}`;
}
