import type { CardReader, DriverDeps, ScanListener, Unsubscribe } from '../ports.js';
import { supervise } from '../supervised-port.js';
import { DuplicateGuard, Framer, type FrameEvent, type Termination } from './framer.js';
import { MAX_PAYLOAD_BYTES, decodeScannerBytes, parseCccdBytes } from './parse.js';
import type { ByteLink, LinkOpener } from './transport.js';
import { maskId } from '../../log/mask.js';
import type { ScanResult, ScanSummary } from './types.js';

export interface ScanAssemblyOptions {
  readonly termination: Termination;
  readonly idleGapMs: number;
  readonly duplicateWindowMs: number;
}

export interface CardReaderOptions extends ScanAssemblyOptions {
  readonly driver: string;
  /** Where the scanner is, for messages: a device path or tcp:// URL. */
  readonly where: string;
  readonly openLink: LinkOpener;
  readonly reconnect: { readonly baseMs: number; readonly maxMs: number };
}

export interface CardReaderDeps extends DriverDeps {
  /** Today's local date, for the parser's "not in the future" checks. */
  readonly today: () => { year: number; month: number; day: number };
}

/**
 * A card scanner behind any byte link. It keeps itself connected: an unplugged scanner makes
 * the port `faulted` and it retries with backoff until the device is back; the daemon never
 * restarts for it. Every frame becomes exactly one ScanResult, or is dropped as a duplicate.
 */
export function createCardReader(o: CardReaderOptions, deps: CardReaderDeps): CardReader {
  const assembler = createScanAssembler(o, deps);
  const port = supervise<ByteLink>({
    where: o.where,
    device: 'scanner',
    deps,
    retry: { ...o.reconnect, random: deps.random },
    open: (signal) => {
      assembler.reset();
      return o.openLink(signal);
    },
    close: (link) => link.close(),
    attach: (link) => {
      link.onData((chunk) => assembler.push(chunk));
      link.onClose((reason) => {
        assembler.reset();
        port.lost(link, { code: 'disconnected', reason: `disconnected: ${reason}` }, reason);
      });
    },
    say: { cannotOpen: 'cannot open the card scanner; retrying', lost: 'card scanner lost; retrying', back: 'card scanner is back' },
  });
  return {
    id: 'card',
    driver: o.driver,
    // Not awaited: the port is `connecting` until the scanner answers, and boot (READY=1)
    // never waits for a device.
    open: async (signal) => void port.start(signal),
    close: async () => port.stop(),
    state: port.state,
    onStateChange: port.onStateChange,
    onScan: (listener) => assembler.onScan(listener),
  };
}

export interface ScanAssembler {
  /** `endOfScan`: the source says the scan is complete (HID-POS), so end the frame now. */
  push(chunk: Uint8Array, endOfScan?: boolean): void;
  /** The source went away: drop a half-received scan so it cannot join the next one. */
  reset(): void;
  onScan(listener: ScanListener): Unsubscribe;
}

/**
 * Where a scanned byte goes, whatever the driver: framing (terminator or idle gap), parsing,
 * the duplicate guard, then exactly one ScanResult per frame to every listener.
 */
export function createScanAssembler(o: ScanAssemblyOptions, deps: Pick<CardReaderDeps, 'clock' | 'log' | 'today'>): ScanAssembler {
  const { clock, log } = deps;
  const duplicates = new DuplicateGuard(o.duplicateWindowMs);
  const listeners = new Set<ScanListener>();
  /** True if a listener acted on the scan. A throwing listener is logged, never kills the data path. */
  const emit = (r: ScanResult): boolean => {
    let taken = false;
    for (const l of listeners) {
      try {
        if (l(r) === true) taken = true;
      } catch (err) {
        // The message only (the error object may carry the scan's text); the logger masks ID runs in it.
        log.error({ err: err instanceof Error ? err.message : String(err) }, 'a scan listener failed; the scanner keeps reading');
      }
    }
    return taken;
  };
  const framer = new Framer(o.termination, MAX_PAYLOAD_BYTES);
  let idleTimer: unknown = null;
  const handleFrame = (e: FrameEvent): void => {
    if (e.kind === 'overflow') {
      emit({
        kind: 'rejected',
        rejection: { code: 'too-long', message: `a line of ${e.bytes} bytes without a terminator; a CCCD QR is at most ${MAX_PAYLOAD_BYTES}` },
        summary: { bytes: e.bytes, fields: 0, idLast4: null },
      });
      return;
    }
    const result = parseCccdBytes(e.bytes, { today: deps.today() });
    if (!result.ok) {
      emit({ kind: 'rejected', rejection: result.rejection, summary: summarize(e.bytes) });
    } else if (duplicates.repeats(result.identity.idNumber, clock.now())) {
      log.info({ card: maskId(result.identity.idNumber) }, 'same card scanned again within the duplicate window; counted once');
    } else if (emit({ kind: 'identity', identity: result.identity })) {
      duplicates.record(result.identity.idNumber, clock.now());
    }
  };
  return {
    push(chunk, endOfScan = false) {
      for (const e of framer.push(chunk)) handleFrame(e);
      if (endOfScan) framer.idle().forEach(handleFrame);
      clock.clearTimeout(idleTimer);
      if (framer.pending() > 0) idleTimer = clock.setTimeout(() => framer.idle().forEach(handleFrame), o.idleGapMs);
    },
    reset() {
      clock.clearTimeout(idleTimer);
      framer.reset();
    },
    onScan(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function summarize(bytes: Uint8Array): ScanSummary {
  const text = decodeScannerBytes(bytes);
  // eslint-disable-next-line no-control-regex -- the same STX wrapper parseCccd strips
  const first = /^\uFEFF?\u0002?(\d{12})/.exec(text);
  return { bytes: bytes.length, fields: text.split('|').length, idLast4: first ? first[1]!.slice(-4) : null };
}
