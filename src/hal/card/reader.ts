import { backoffMs } from '../../util/backoff.js';
import type { CardReader, DriverDeps, PortState, ScanListener, Unsubscribe } from '../ports.js';
import { DuplicateGuard, Framer, type FrameEvent, type Termination } from './framer.js';
import { MAX_PAYLOAD_BYTES, decodeScannerBytes, parseCccdBytes } from './parse.js';
import type { ByteLink, LinkOpener } from './transport.js';
import { maskId, type ScanResult, type ScanSummary } from './types.js';

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
  const { clock, log } = deps;
  let state: PortState = { kind: 'connecting', attempt: 1 };
  const stateListeners = new Set<(s: PortState) => void>();
  let link: ByteLink | null = null;
  let retryTimer: unknown = null;
  let attempt = 0;
  let stopped = false;
  let lifetime: AbortController | null = null;

  const setState = (next: PortState): void => {
    if (JSON.stringify(next) === JSON.stringify(state)) return;
    state = next;
    for (const l of stateListeners) l(next);
  };

  const assembler = createScanAssembler(o, deps);

  const connect = async (signal: AbortSignal): Promise<void> => {
    attempt++;
    assembler.reset();
    try {
      const l = await o.openLink(signal);
      if (stopped) {
        l.close();
        return;
      }
      link = l;
      l.onData((chunk) => assembler.push(chunk));
      l.onClose((reason) => {
        assembler.reset();
        link = null;
        if (stopped) return;
        log.warn({ where: o.where, reason }, 'card scanner lost; retrying');
        attempt = 0;
        setState({ kind: 'faulted', reason: `disconnected: ${reason}` });
        scheduleRetry(signal);
      });
      if (attempt > 1 || state.kind === 'faulted') log.info({ where: o.where }, 'card scanner is back');
      attempt = 0;
      setState({ kind: 'ready' });
    } catch (err) {
      if (stopped || signal.aborted) return;
      const reason = errorReason(err);
      if (state.kind !== 'faulted' || state.reason !== reason) log.warn({ where: o.where, reason }, 'cannot open the card scanner; retrying');
      setState({ kind: 'faulted', reason });
      scheduleRetry(signal);
    }
  };

  const scheduleRetry = (signal: AbortSignal): void => {
    if (stopped || signal.aborted) return;
    const delay = backoffMs(attempt, o.reconnect, deps.random);
    retryTimer = clock.setTimeout(() => void connect(signal), delay);
  };

  return {
    id: 'card',
    driver: o.driver,
    async open(signal) {
      stopped = false;
      lifetime = new AbortController();
      // Not awaited: the port is `connecting` until the scanner answers, and boot (READY=1)
      // never waits for a device.
      void connect(AbortSignal.any([signal, lifetime.signal]));
    },
    async close() {
      stopped = true;
      lifetime?.abort(new Error('closed'));
      clock.clearTimeout(retryTimer);
      link?.close();
      link = null;
    },
    state: () => state,
    onStateChange(listener): Unsubscribe {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
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

function errorReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT' || /No such file/.test(e?.message ?? '')) return 'device not present';
  if (e?.code === 'ECONNREFUSED') return 'connection refused';
  if (e?.code === 'EACCES' || /Permission denied/.test(e?.message ?? ''))
    return 'permission denied (the scanner should be group kioskd: is /etc/udev/rules.d/99-kioskd.rules installed? then udevadm trigger)';
  return e?.message ?? String(err);
}
