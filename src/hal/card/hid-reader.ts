import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../util/clock.js';
import type { Port, PortState, Unsubscribe } from '../ports.js';
import { HidPosAssembler, KeyboardReportDecoder } from './hid-decode.js';

/**
 * A QR scanner in USB HID mode (HID-POS or keyboard), read with node-hid. node-hid is an
 * optional native dependency that needs libusb-1.0 at load time, so it is imported only when
 * this driver opens. Decoded bytes go to `onBytes` as a byte stream, like a serial port's.
 */
export interface HidScannerOptions {
  readonly vendorId: number;
  readonly productId: number;
  readonly mode: 'hid-pos' | 'keyboard';
  /** How long to wait before looking for the scanner again; 3 s by default. */
  readonly retryMs?: number;
}

export interface HidScannerDeps {
  readonly log: Logger;
  readonly clock: Clock;
  /** `endOfScan`: the device marked the scan complete (HID-POS), so no terminator or gap is needed. */
  readonly onBytes: (bytes: Uint8Array, endOfScan: boolean) => void;
  /** The device went away: a half-received scan must be dropped. */
  readonly onReset?: () => void;
  /** Loads node-hid; injectable so tests can hand in a fake module. */
  readonly loadHid?: () => Promise<unknown>;
}

interface HidDevice {
  on(event: 'data', fn: (data: Uint8Array) => void): unknown;
  on(event: 'error', fn: (err: unknown) => void): unknown;
  removeAllListeners(): unknown;
  close(): void;
}
interface HidModule {
  HID: new (path: string) => HidDevice;
  devices(): Array<{ vendorId: number; productId: number; path?: string | undefined; usagePage?: number | undefined }>;
}

export const NOT_INSTALLED = 'node-hid is not installed (optional dependency; needs libusb-1.0-0)';

const hex4 = (n: number): string => n.toString(16).padStart(4, '0');
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const loadNodeHid = (): Promise<unknown> => import('node-hid');

/** node-hid is CommonJS: its exports may sit on the namespace or on `default`. */
function asHidModule(mod: unknown): HidModule | null {
  for (const m of [mod, (mod as { default?: unknown } | null)?.default]) {
    const c = m as Partial<HidModule> | null | undefined;
    if (c && typeof c.HID === 'function' && typeof c.devices === 'function') return c as HidModule;
  }
  return null;
}

export function createHidScanner(opts: HidScannerOptions, deps: HidScannerDeps): Port {
  const { log, clock } = deps;
  const retryMs = opts.retryMs ?? 3000;
  const where = `${hex4(opts.vendorId)}:${hex4(opts.productId)}`;
  // Prefer the scanner's HID-POS (0x8C) or keyboard (generic desktop 0x01) collection when it has several.
  const usagePage = opts.mode === 'hid-pos' ? 0x8c : 0x01;
  const listeners = new Set<(s: PortState) => void>();
  let state: PortState = { kind: 'connecting', attempt: 0 };
  let running = false;
  let retry: unknown;
  let device: HidDevice | undefined;
  let hid: HidModule | null = null;
  const pos = new HidPosAssembler();
  const keyboard = new KeyboardReportDecoder();
  const encoder = new TextEncoder();

  const setState = (next: PortState): void => {
    if (JSON.stringify(next) === JSON.stringify(state)) return;
    state = next;
    for (const l of listeners) l(next);
  };
  const fault = (reason: string, retryInMs?: number): void => {
    if (state.kind !== 'faulted' || state.reason !== reason) log.warn({ port: 'card', reason }, 'HID scanner faulted');
    setState(retryInMs === undefined ? { kind: 'faulted', reason } : { kind: 'faulted', reason, retryInMs });
    if (retryInMs !== undefined && running) retry = clock.setTimeout(connect, retryInMs);
  };
  const release = (): void => {
    const d = device;
    device = undefined;
    pos.reset();
    keyboard.reset();
    deps.onReset?.();
    if (!d) return;
    d.removeAllListeners();
    d.on('error', () => {}); // a late error from a closing handle must not become an uncaught exception
    try {
      d.close();
    } catch {
      // already gone
    }
  };
  const onData = (data: Uint8Array): void => {
    const report = data instanceof Uint8Array ? data : Uint8Array.from(data as ArrayLike<number>);
    const bytes = opts.mode === 'hid-pos' ? pos.push(report) : encoder.encode(keyboard.push(report));
    if (!bytes || bytes.length === 0) return;
    try {
      deps.onBytes(bytes, opts.mode === 'hid-pos');
    } catch (e) {
      log.error({ port: 'card', err: message(e) }, 'scan consumer threw');
    }
  };

  function connect(): void {
    retry = undefined;
    if (!running || !hid) return;
    let path: string | undefined;
    try {
      const found = hid.devices().filter((d) => d.vendorId === opts.vendorId && d.productId === opts.productId && d.path);
      path = (found.find((d) => d.usagePage === usagePage) ?? found[0])?.path;
    } catch (e) {
      // node-hid loads libusb on first use; if that failed, nothing a retry can fix.
      const noLib = /libusb|ERR_DLOPEN_FAILED|shared object/.test(`${message(e)} ${String((e as { code?: unknown } | null)?.code)}`);
      return noLib ? fault(NOT_INSTALLED) : fault(`cannot list HID devices: ${message(e)}`, retryMs);
    }
    if (!path) return fault(`scanner not found (${where})`, retryMs);
    try {
      device = new hid.HID(path);
    } catch (e) {
      return fault(`cannot open scanner ${where}: ${message(e)}`, retryMs);
    }
    device.on('data', onData);
    device.on('error', (e) => {
      release();
      if (running) fault(`scanner ${where} lost: ${message(e)}`, retryMs);
    });
    log.info({ port: 'card', device: where, mode: opts.mode }, 'HID scanner ready');
    setState({ kind: 'ready' });
  }

  const stop = (): void => {
    running = false;
    if (retry !== undefined) clock.clearTimeout(retry);
    retry = undefined;
    release();
  };

  return {
    id: 'card',
    driver: opts.mode === 'hid-pos' ? 'hid-pos' : 'hid-keyboard',
    async open(signal) {
      if (running || signal.aborted) return;
      running = true;
      signal.addEventListener('abort', stop, { once: true });
      setState({ kind: 'connecting', attempt: 1 });
      const mod = await (deps.loadHid ?? loadNodeHid)().catch(() => null);
      if (!running) return;
      hid = asHidModule(mod);
      if (!hid) return fault(NOT_INSTALLED);
      connect();
    },
    async close() {
      stop();
    },
    state: () => state,
    onStateChange(listener): Unsubscribe {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
