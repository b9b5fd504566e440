import type { MqttClient } from 'mqtt';
import { KioskClient, type Received } from '../../src/mqtt/kiosk-client.js';

/** One message as recorded; `at` is the wall-clock time it arrived (Date.now()). */
export type Recorded = Received;

/**
 * Everything on the kiosk's broker, in arrival order: what expectations look at and what
 * lands in the artifacts' mqtt.log. It reconnects and subscribes again when the broker comes
 * back after a `broker: stop` (`listening()` says when it has). A recording of the kiosk
 * client (src/mqtt/kiosk-client.ts), which also sends the scenario's commands (`kiosk.command`).
 */
export class MqttRecorder {
  readonly seen: Recorded[];
  private readonly client: MqttClient;

  private constructor(readonly kiosk: KioskClient) {
    this.client = kiosk.mqtt;
    this.seen = kiosk.record().seen;
  }

  static async start(url: string, onMessage: (r: Recorded) => void = () => {}): Promise<MqttRecorder> {
    let rec: MqttRecorder | undefined;
    const options = { url, clientId: `hw-sim-run-${process.pid}`, filter: '#', protocol: 4, reconnectPeriodMs: 200 } as const;
    await KioskClient.connect(options, (kiosk) => {
      // Recording from the first message: the seen list, then the caller's listener.
      rec = new MqttRecorder(kiosk);
      kiosk.onMessage(onMessage);
    }).catch((err: unknown) => {
      throw err instanceof Error && /subscription/.test(err.message) ? new Error(`could not subscribe to # on ${url}`) : err;
    });
    return rec!;
  }

  /** True once connected and subscribed (after a broker restart: again); false while not yet. */
  listening(): Promise<boolean> {
    return this.kiosk.listening();
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
    await this.kiosk.end();
  }
}

/** One line of mqtt.log: time, R for retained (- otherwise), topic, payload. */
export function logLine(r: Recorded): string {
  return `${new Date(r.at).toISOString()} ${r.retain ? 'R' : '-'} ${r.topic} ${r.payload}`;
}
