import mqtt, { type MqttClient } from 'mqtt';
import { emptyFleet, kioskRow, reduceFleet, type Fleet } from '../../src/monitor/fleet.js';
import { timeFromHealth, type KioskTime } from './kiosk-clock.js';

/** One message under kiosk/<id>/# as the panel's traffic pane shows it. */
export interface TrafficEntry {
  readonly seq: number;
  readonly at: string;
  readonly topic: string;
  /** Truncated: the pane is for eyes, and memory must stay bounded. */
  readonly payload: string;
  readonly bytes: number;
  readonly retain: boolean;
}

/** What the daemon says about itself over MQTT, as a monitor sees it. */
export interface KioskReport {
  readonly status: string | null;
  readonly state: Record<string, unknown> | null;
  readonly health: Record<string, unknown> | null;
  /**
   * Counted as `kioskd monitor` does: the last health's checkins_today plus the tickets after it
   * (a health comes only every mqtt.healthIntervalSec); null before anything was heard.
   */
  readonly checkinsToday: number | null;
  /** The last checkin.completed / checkin.failed event's data, with when it came. */
  readonly lastEnd: (Record<string, unknown> & { readonly at: string }) | null;
}

export interface KioskFeedOptions {
  readonly brokerUrl: string;
  readonly base: string;
  /** Traffic entries kept (oldest dropped first). */
  readonly keep?: number;
  readonly payloadChars?: number;
}

/**
 * The panel's MQTT client: subscribes to everything the kiosk publishes, keeps the latest
 * retained values and the last check-in end, a bounded traffic log, and sends daemon commands
 * the way central monitoring does (cmd/<name> with a transaction, answer on .../response).
 */
export class KioskFeed {
  readonly traffic: TrafficEntry[] = [];
  private report: Omit<KioskReport, 'checkinsToday'> = { status: null, state: null, health: null, lastEnd: null };
  /** The monitor's own reducer over this kiosk's messages: one rule for counting check-ins. */
  private readonly fleet: Fleet;
  private readonly kioskId: string;
  private seq = 0;
  private heardTime: KioskTime | null = null;
  private readonly listeners = new Set<(kind: 'traffic' | 'report', entry?: TrafficEntry) => void>();
  private readonly pending = new Map<string, (r: { status?: string; data?: unknown; error?: string }) => void>();
  private readonly keep: number;
  private readonly payloadChars: number;

  private constructor(
    private readonly client: MqttClient,
    readonly base: string,
    opts: KioskFeedOptions,
  ) {
    this.keep = opts.keep ?? 500;
    this.payloadChars = opts.payloadChars ?? 400;
    const [prefix = '', id = ''] = base.split('/');
    this.fleet = emptyFleet(prefix);
    this.kioskId = id;
    client.on('message', (topic, payload, packet) => this.receive(topic, payload, packet.retain));
  }

  static async start(opts: KioskFeedOptions): Promise<KioskFeed> {
    // mqtt.js subscribes again by itself after a reconnect (resubscribe defaults to true).
    const client = await mqtt.connectAsync(opts.brokerUrl, {
      protocolVersion: 4,
      reconnectPeriod: 1000,
      clientId: `hw-sim-web-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    });
    const feed = new KioskFeed(client, opts.base, opts);
    await client.subscribeAsync(`${opts.base}/#`, { qos: 1 });
    return feed;
  }

  /** The report as it stands at `now` (wall ms): "today" moves at midnight. */
  current(now = Date.now()): KioskReport {
    return { ...this.report, checkinsToday: kioskRow(this.fleet, this.kioskId, now)?.checkinsToday ?? null };
  }

  /** kioskd's time from the last health report heard as it was published (not a retained replay). */
  kioskTime(): KioskTime | null {
    return this.heardTime;
  }

  onChange(l: (kind: 'traffic' | 'report', entry?: TrafficEntry) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Sends a command to the daemon; resolves with its data, rejects with its error or after timeoutMs. */
  async command(name: string, args: Record<string, unknown>, timeoutMs = 30_000): Promise<unknown> {
    if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`not a command name: ${name}`);
    const transaction = `web-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;
    // One promise, settled once by whichever comes first: the answer, the timeout or a failed
    // publish. A timer left running after a failed publish would reject later, unhandled.
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      const settle = (finish: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pending.delete(transaction);
        finish();
      };
      const timer = setTimeout(
        () => settle(() => reject(new Error(`kioskd did not answer "${name}" within ${timeoutMs / 1000} s (is it running?)`))),
        timeoutMs,
      );
      this.pending.set(transaction, (r) =>
        settle(() => (r.status === 'ok' ? resolve(r.data) : reject(new Error(r.error ?? `kioskd refused "${name}"`)))),
      );
      this.client
        .publishAsync(`${this.base}/cmd/${name}`, JSON.stringify({ ...args, transaction }), { qos: 1 })
        .catch((err: unknown) => settle(() => reject(err instanceof Error ? err : new Error(String(err)))));
    });
  }

  async stop(): Promise<void> {
    this.listeners.clear();
    await this.client.endAsync(true);
  }

  private receive(topic: string, payload: Buffer, retain: boolean): void {
    reduceFleet(this.fleet, { topic, payload, retain }, Date.now());
    const text = payload.toString('utf8');
    const entry: TrafficEntry = {
      seq: ++this.seq,
      at: new Date().toISOString(),
      topic,
      payload: text.length > this.payloadChars ? `${text.slice(0, this.payloadChars)}…` : text,
      bytes: payload.length,
      retain,
    };
    this.traffic.push(entry);
    if (this.traffic.length > this.keep) this.traffic.splice(0, this.traffic.length - this.keep);
    for (const l of this.listeners) l('traffic', entry);
    if (this.absorb(topic.slice(this.base.length + 1), text, retain)) for (const l of this.listeners) l('report');
  }

  /** Updates the report from one message; true when something the panel shows changed. */
  private absorb(sub: string, text: string, retain: boolean): boolean {
    const json = (): Record<string, unknown> | null => {
      try {
        const v: unknown = JSON.parse(text);
        return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
      } catch {
        return null;
      }
    };
    if (sub === 'status') {
      // Retained values are cleared with an empty payload.
      this.report = { ...this.report, status: text === '' ? null : text.replace(/^"|"$/g, '') };
      return true;
    }
    if (sub === 'state' || sub === 'health') {
      this.report = { ...this.report, [sub]: json() };
      // A broker replays a retained health on subscribe without saying when it was taken relative to now.
      if (sub === 'health' && !retain) this.heardTime = timeFromHealth(this.report.health, Date.now()) ?? this.heardTime;
      return true;
    }
    if (sub === 'event/checkin.completed' || sub === 'event/checkin.failed') {
      const data = json()?.['data'];
      // A completion moves the count even when it carries no data the panel shows.
      if (data === null || typeof data !== 'object') return sub === 'event/checkin.completed';
      this.report = { ...this.report, lastEnd: { ...(data as Record<string, unknown>), at: new Date().toISOString() } };
      return true;
    }
    const m = /^cmd\/[^/]+\/response$/.exec(sub);
    if (m) {
      const r = json();
      const t = r?.['transaction'];
      if (typeof t === 'string') this.pending.get(t)?.(r as { status?: string; data?: unknown; error?: string });
    }
    return false;
  }
}
