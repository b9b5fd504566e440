/**
 * What the MQTT link holds while the broker is away. Retained topics keep only their latest
 * value (a monitor wants the present, not history); events go into a bounded ring, and what
 * falls out of it is counted so the loss can be reported once connected. Pure: time is passed in.
 */
export interface QueuedEvent {
  readonly topic: string;
  readonly payload: string;
  readonly queuedAt: number;
  readonly expiryMs: number;
}

export class Outbox {
  private readonly retained = new Map<string, string>();
  private ring: QueuedEvent[] = [];
  private droppedTotal = 0;
  private droppedUnreported = 0;

  constructor(private readonly ringSize: number) {
    if (!Number.isInteger(ringSize) || ringSize < 1) throw new RangeError('ring size must be a positive integer');
  }

  setRetained(topic: string, payload: string): void {
    this.retained.set(topic, payload);
  }

  retainedEntries(): ReadonlyArray<readonly [string, string]> {
    return [...this.retained.entries()];
  }

  enqueue(event: QueuedEvent): void {
    if (this.ring.length >= this.ringSize) {
      this.ring.shift();
      this.countDrop(1);
    }
    this.ring.push(event);
  }

  /** Takes every queued event that has not expired by `now`; expired ones count as dropped. */
  drain(now: number): QueuedEvent[] {
    const out = this.ring.filter((e) => now - e.queuedAt < e.expiryMs);
    this.countDrop(this.ring.length - out.length);
    this.ring = [];
    return out;
  }

  /** Drops not yet reported, reset by the call: the link publishes one alert per loss. */
  takeUnreportedDrops(): number {
    const n = this.droppedUnreported;
    this.droppedUnreported = 0;
    return n;
  }

  /** Puts back a count whose report could not be sent. */
  restoreUnreportedDrops(n: number): void {
    this.droppedUnreported += n;
  }

  stats(): { queued: number; dropped: number } {
    return { queued: this.ring.length, dropped: this.droppedTotal };
  }

  private countDrop(n: number): void {
    this.droppedTotal += n;
    this.droppedUnreported += n;
  }
}
