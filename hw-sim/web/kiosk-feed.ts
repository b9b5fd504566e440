import { KioskClient, type Received } from '../../src/mqtt/kiosk-client.js';
import { parseKioskTopic } from '../../src/mqtt/topics.js';
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
  /** mqtt.topicPrefix and device.id of the kiosk watched. */
  readonly prefix: string;
  readonly deviceId: string;
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
  private seq = 0;
  private heardTime: KioskTime | null = null;
  private readonly listeners = new Set<(kind: 'traffic' | 'report', entry?: TrafficEntry) => void>();
  private readonly keep: number;
  private readonly payloadChars: number;

  private constructor(
    private readonly client: KioskClient,
    private readonly kioskId: string,
    opts: KioskFeedOptions,
  ) {
    this.keep = opts.keep ?? 500;
    this.payloadChars = opts.payloadChars ?? 400;
    this.fleet = emptyFleet(client.prefix);
    client.onMessage((m) => this.receive(m));
  }

  static async start(opts: KioskFeedOptions): Promise<KioskFeed> {
    // The kiosk client subscribes again after a reconnect, as central monitoring would.
    let feed: KioskFeed | undefined;
    const options = {
      url: opts.brokerUrl,
      clientId: `hw-sim-web-${process.pid}`,
      prefix: opts.prefix,
      deviceId: opts.deviceId,
      protocol: 4,
      reconnectPeriodMs: 1000,
    } as const;
    await KioskClient.connect(options, (client) => (feed = new KioskFeed(client, opts.deviceId, opts)));
    return feed!;
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
  command(name: string, args: Record<string, unknown>, timeoutMs = 30_000): Promise<unknown> {
    return this.client.command(name, args, { timeoutMs, transactionPrefix: 'web' });
  }

  async stop(): Promise<void> {
    this.listeners.clear();
    await this.client.end();
  }

  private receive(m: Received): void {
    const { topic, payload: text, retain } = m;
    reduceFleet(this.fleet, { topic, payload: text, retain }, Date.now());
    const entry: TrafficEntry = {
      seq: ++this.seq,
      at: new Date().toISOString(),
      topic,
      payload: text.length > this.payloadChars ? `${text.slice(0, this.payloadChars)}…` : text,
      bytes: m.bytes,
      retain,
    };
    this.traffic.push(entry);
    if (this.traffic.length > this.keep) this.traffic.splice(0, this.traffic.length - this.keep);
    for (const l of this.listeners) l('traffic', entry);
    const t = parseKioskTopic(this.client.prefix, topic);
    if (t?.kiosk !== this.kioskId) return;
    const sub = t.kind === 'event' ? `event/${t.event}` : t.kind;
    if (this.absorb(sub, text, retain)) for (const l of this.listeners) l('report');
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
    return false;
  }
}
