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
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 4,
      reconnectPeriod: 200,
      resubscribe: false,
      clientId: `hw-sim-run-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    });
    const rec = new MqttRecorder(client, onMessage);
    if (!(await rec.subscribed)) throw new Error(`could not subscribe to # on ${url}`);
    return rec;
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

  /**
   * Publishes (QoS 1) only while connected: mqtt.js would otherwise keep the message and send
   * it whenever the broker is back, into whatever scenario runs then. `taken` settles when the
   * broker acknowledges it; `withdraw()` drops it from mqtt.js's store if it has not been, for
   * a step that gives up.
   */
  send(topic: string, payload: string): { taken: Promise<void>; withdraw(): void } {
    if (!this.client.connected) {
      const refused = Promise.reject(new Error('the runner is not connected to the broker'));
      refused.catch(() => {});
      return { taken: refused, withdraw: () => {} };
    }
    let cb: (err?: Error) => void = () => {};
    const taken = new Promise<void>((resolve, reject) => (cb = (err?: Error) => (err ? reject(err) : resolve())));
    // Handled by whoever awaits it; withdrawn, it rejects with nobody waiting any more.
    taken.catch(() => {});
    this.client.publish(topic, payload, { qos: 1 }, cb);
    return {
      taken,
      withdraw: () => {
        const id = Object.entries(this.client.outgoing).find(([, o]) => o.cb === cb)?.[0];
        if (id !== undefined) this.client.removeOutgoingMessage(Number(id));
      },
    };
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** One line of mqtt.log: time, R for retained (- otherwise), topic, payload. */
export function logLine(r: Recorded): string {
  return `${new Date(r.at).toISOString()} ${r.retain ? 'R' : '-'} ${r.topic} ${r.payload}`;
}
