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

  constructor(
    private readonly termination: Termination,
    private readonly maxBytes: number,
  ) {}

  push(chunk: Uint8Array): FrameEvent[] {
    const out: FrameEvent[] = [];
    for (const byte of chunk) {
      if (this.endsFrame(byte)) {
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

  pending(): number {
    return this.buf.length;
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
        return byte === LF && this.buf.at(-1) === CR;
      case 'idle':
        return false;
    }
  }

  private finish(out: FrameEvent[]): void {
    if (this.discarding >= 0) {
      out.push({ kind: 'overflow', bytes: this.discarding });
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

/** The same card scanned again within the window counts once (patients often scan twice). */
export class DuplicateGuard {
  private readonly recent = new Map<string, number>();

  constructor(private readonly windowMs: number) {}

  /** True if `key` was accepted less than the window ago; otherwise records it and returns false. */
  seen(key: string, now: number): boolean {
    for (const [k, at] of this.recent) if (now - at >= this.windowMs) this.recent.delete(k);
    if (this.recent.has(key)) return true;
    this.recent.set(key, now);
    return false;
  }
}
