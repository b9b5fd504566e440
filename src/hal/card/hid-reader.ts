import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../util/clock.js';
import type { Port } from '../ports.js';
import { PortFaultError, supervise } from '../supervised-port.js';
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
  const { log } = deps;
  const where = `${hex4(opts.vendorId)}:${hex4(opts.productId)}`;
  const decode = reportDecoder(opts.mode);
  let hid: HidModule | null = null;
  let opening = false;
  let closed = false;

  const port = supervise<HidDevice>({
    where,
    device: 'scanner',
    deps,
    retry: { fixedMs: opts.retryMs ?? 3000 },
    initial: { kind: 'connecting', attempt: 0 },
    open: () => openDevice(hid, opts),
    close(device) {
      decode.reset();
      deps.onReset?.();
      device.removeAllListeners();
      device.on('error', () => {}); // a late error from a closing handle must not become an uncaught exception
      try {
        device.close();
      } catch {
        // already gone
      }
    },
    attach(device) {
      device.on('data', (data) => {
        const bytes = decode.push(data instanceof Uint8Array ? data : Uint8Array.from(data as ArrayLike<number>));
        if (!bytes || bytes.length === 0) return;
        try {
          deps.onBytes(bytes, opts.mode === 'hid-pos');
        } catch (e) {
          log.error({ port: 'card', err: message(e) }, 'scan consumer threw');
        }
      });
      device.on('error', (e) => port.lost(device, { code: 'disconnected', reason: `scanner ${where} lost: ${message(e)}` }, message(e)));
      log.info({ port: 'card', device: where, mode: opts.mode }, 'HID scanner ready');
    },
    say: { cannotOpen: 'HID scanner faulted', lost: 'HID scanner faulted' },
  });

  return {
    id: 'card',
    driver: opts.mode === 'hid-pos' ? 'hid-pos' : 'hid-keyboard',
    async open(signal) {
      if (opening || port.running || signal.aborted) return;
      opening = true;
      closed = false;
      signal.addEventListener('abort', () => port.stop(), { once: true });
      port.set({ kind: 'connecting', attempt: 1 });
      const mod = await (deps.loadHid ?? loadNodeHid)().catch(() => null);
      opening = false;
      if (closed || signal.aborted) return;
      hid = asHidModule(mod);
      await port.start();
    },
    async close() {
      closed = true;
      port.stop();
    },
    state: port.state,
    onStateChange: port.onStateChange,
  };
}

/** Finds and opens the scanner; a refusal says which fault it is. Synchronous, like node-hid. */
function openDevice(hid: HidModule | null, opts: HidScannerOptions): HidDevice {
  const where = `${hex4(opts.vendorId)}:${hex4(opts.productId)}`;
  if (!hid) throw new PortFaultError({ code: 'not-installed', reason: NOT_INSTALLED, retry: false });
  // Prefer the scanner's HID-POS (0x8C) or keyboard (generic desktop 0x01) collection when it has several.
  const usagePage = opts.mode === 'hid-pos' ? 0x8c : 0x01;
  let path: string | undefined;
  try {
    const found = hid.devices().filter((d) => d.vendorId === opts.vendorId && d.productId === opts.productId && d.path);
    path = (found.find((d) => d.usagePage === usagePage) ?? found[0])?.path;
  } catch (e) {
    // node-hid loads libusb on first use; if that failed, nothing a retry can fix.
    const noLib = /libusb|ERR_DLOPEN_FAILED|shared object/.test(`${message(e)} ${String((e as { code?: unknown } | null)?.code)}`);
    throw new PortFaultError(
      noLib
        ? { code: 'not-installed', reason: NOT_INSTALLED, retry: false }
        : { code: 'open-failed', reason: `cannot list HID devices: ${message(e)}` },
    );
  }
  if (!path) throw new PortFaultError({ code: 'not-present', reason: `scanner not found (${where})` });
  try {
    return new hid.HID(path);
  } catch (e) {
    throw new PortFaultError({ code: 'open-failed', reason: `cannot open scanner ${where}: ${message(e)}` });
  }
}

/** HID reports → scan bytes: HID-POS carries the bytes, a keyboard types characters. */
function reportDecoder(mode: HidScannerOptions['mode']): { push(report: Uint8Array): Uint8Array | null; reset(): void } {
  const pos = new HidPosAssembler();
  const keyboard = new KeyboardReportDecoder();
  const encoder = new TextEncoder();
  return {
    push: (report) => (mode === 'hid-pos' ? pos.push(report) : encoder.encode(keyboard.push(report))),
    reset() {
      pos.reset();
      keyboard.reset();
    },
  };
}
