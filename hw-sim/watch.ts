import type { MqttClient } from 'mqtt';
import { KioskClient, type Recording, type Received } from '../src/mqtt/kiosk-client.js';

/** One message as the watcher saw it (the kiosk client's Received). */
export type Seen = Received;

/**
 * A monitoring client, as central monitoring would run one: subscribes and records everything.
 * A thin face of the kiosk client (src/mqtt/kiosk-client.ts): `kiosk` offers its typed
 * `waitFor`/`command`, `recording` its typed look at what was seen.
 */
export class Watcher {
  readonly seen: Seen[];
  /** The mqtt.js client, for publishing as a test or tool would. */
  readonly client: MqttClient;

  private constructor(
    readonly kiosk: KioskClient,
    readonly recording: Recording,
  ) {
    this.seen = recording.seen;
    this.client = kiosk.mqtt;
  }

  static async start(url: string, filter: string, protocolVersion: 4 | 5 = 4, auth: { username?: string; password?: string } = {}): Promise<Watcher> {
    const kiosk = await KioskClient.connect({
      url,
      clientId: 'watch',
      filter,
      protocol: protocolVersion,
      reconnectPeriodMs: 200,
      record: true,
      ...auth,
    });
    return new Watcher(kiosk, kiosk.recording!);
  }

  /** Resolves with the first message (from index `from`) matching; rejects after timeoutMs listing what was seen. */
  waitFor(pred: (m: Seen) => boolean, timeoutMs = 10_000, from = 0): Promise<Seen> {
    return this.recording.waitForMessage(pred, timeoutMs, from);
  }

  mark(): number {
    return this.recording.mark();
  }

  async stop(): Promise<void> {
    this.recording.stop();
    await this.kiosk.end();
  }
}
