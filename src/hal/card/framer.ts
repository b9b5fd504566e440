/**
 * Scanner byte stream → frames (one scan each). Pure: the driver feeds bytes as they come and
 * calls `idle()` when no byte has arrived for the configured gap, which ends a frame for
 * scanners that send no terminator. Memory is bounded: a line longer than `maxBytes` is
 * reported once as an overflow and the rest of it is discarded.
 */
export type Termination = 'any' | 'cr' | 'lf' | 'crlf' | 'idle';

export type FrameEvent = { readonly kind: 'frame'; readonly bytes: Uint8Array } | { readonly kind: 'overflow'; readonly bytes: number };

const CR = 0x0d;
const LF = 0x0a;

export class Framer {
  private buf: number[] = [];
  /** Bytes of an over-long line being thrown away, or -1 when not discarding. */
  private discarding = -1;
  /** Kept apart from `buf` so CRLF is still seen while an over-long line is being discarded. */
  private last = -1;

  constructor(
    private readonly termination: Termination,
    private readonly maxBytes: number,
  ) {}

  push(chunk: Uint8Array): FrameEvent[] {
    const out: FrameEvent[] = [];
    for (const byte of chunk) {
      const ends = this.endsFrame(byte);
      this.last = byte;
      if (ends) {
        this.finish(out);
        continue;
      }
      if (this.discarding >= 0) {
        this.discarding++;
        continue;
      }
      this.buf.push(byte);
      if (this.buf.length > this.maxBytes) {
        this.discarding = this.buf.length;
        this.buf = [];
      }
    }
    return out;
  }

  /** No byte for the idle gap: whatever is buffered is a complete scan. */
  idle(): FrameEvent[] {
    const out: FrameEvent[] = [];
    this.finish(out);
    return out;
  }

  /** Bytes held or being discarded: non-zero means an idle gap will end something. */
  pending(): number {
    return this.discarding >= 0 ? this.discarding : this.buf.length;
  }

  /** The source went away (unplug, reconnect): a half-received scan must not join the next one. */
  reset(): void {
    this.buf = [];
    this.discarding = -1;
    this.last = -1;
  }

  private endsFrame(byte: number): boolean {
    switch (this.termination) {
      case 'any':
        return byte === CR || byte === LF;
      case 'cr':
        return byte === CR;
      case 'lf':
        return byte === LF;
      case 'crlf':
        // CR is held in the buffer; LF right after it ends the frame (the CR is dropped below).
        return byte === LF && this.last === CR;
      case 'idle':
        return false;
    }
  }

  private finish(out: FrameEvent[]): void {
    if (this.discarding >= 0) {
      // In CRLF framing the CR of the terminator was counted with the discarded line.
      const held = this.termination === 'crlf' && this.last === LF ? 1 : 0;
      out.push({ kind: 'overflow', bytes: this.discarding - held });
      this.discarding = -1;
      this.buf = [];
      return;
    }
    let bytes = this.buf;
    this.buf = [];
    // Strip stray terminator bytes of other conventions (a CRLF scanner on an LF setting …).
    while (bytes.length > 0 && (bytes.at(-1) === CR || bytes.at(-1) === LF)) bytes = bytes.slice(0, -1);
    while (bytes.length > 0 && (bytes[0] === CR || bytes[0] === LF)) bytes = bytes.slice(1);
    if (bytes.length > 0) out.push({ kind: 'frame', bytes: Uint8Array.from(bytes) });
  }
}

/**
 * The same card scanned again within the window counts once: patients often scan twice, and a
 * scanner in continuous mode re-reads a card left under it. Only scans the kiosk acted on are
 * recorded, so a scan ignored (kiosk busy or out of service) never blocks the next attempt; a
 * repeat refreshes the window, so a card left lying under the scanner counts once.
 */
export class DuplicateGuard {
  private readonly recent = new Map<string, number>();

  constructor(private readonly windowMs: number) {}

  /** True if `key` was recorded less than the window ago (and refreshes it). */
  repeats(key: string, now: number): boolean {
    for (const [k, at] of this.recent) if (now - at >= this.windowMs) this.recent.delete(k);
    if (!this.recent.has(key)) return false;
    this.recent.set(key, now);
    return true;
  }

  record(key: string, now: number): void {
    this.recent.set(key, now);
  }
}
