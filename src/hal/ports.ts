/**
 * The port contract every piece of hardware sits behind. The pipeline imports only this file
 * from the HAL: it sees port states, never a device.
 */
import type { CameraFrame } from '../faceid/frames.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';
import type { ScanResult } from './card/types.js';
import type { Hn212ChipReader } from './chip/hn212.js';
import type { ChipReaderPort } from './chip/port.js';
import type { PrinterStatus } from './printer/status.js';

/** `storage` is the state directory's free space (hal/storage.ts): always required. `chip`: the contactless chip reader (absent unless chip.enabled). */
export type PortId = 'card' | 'camera' | 'printer' | 'indicators' | 'storage' | 'chip';
export const PORT_IDS: readonly PortId[] = ['card', 'camera', 'printer', 'indicators', 'storage', 'chip'];

/**
 * Why a port is degraded or faulted, for machines (alerts are `<port>.<code>`); `reason` says it
 * for people. One list for every driver:
 * - opening or keeping a device: `not-present`, `permission`, `busy`, `connection-refused`,
 *   `unreachable` (no answer, no route), `open-failed` (anything else), `disconnected`,
 *   `not-installed` (a program or optional module is missing), `bad-url`;
 * - printer status: `paper-out`, `paper-near-end`, `cover-open`, `printer-error`, `offline`,
 *   `not-answering`, `job-timeout`;
 * - camera: `capture-failed`; GPIO: `pin-unavailable`, `lamp-failed`;
 * - storage (the state directory): `low`, `full`, `unreadable`.
 */
export type PortCode =
  | 'not-present'
  | 'permission'
  | 'busy'
  | 'connection-refused'
  | 'unreachable'
  | 'open-failed'
  | 'disconnected'
  | 'not-installed'
  | 'bad-url'
  | 'paper-out'
  | 'paper-near-end'
  | 'cover-open'
  | 'printer-error'
  | 'offline'
  | 'not-answering'
  | 'job-timeout'
  | 'capture-failed'
  | 'pin-unavailable'
  | 'lamp-failed'
  | 'low'
  | 'full'
  | 'unreadable';

export type PortState =
  /** Not fitted, not configured, or not built yet. Says why. */
  | { readonly kind: 'absent'; readonly reason: string }
  | { readonly kind: 'connecting'; readonly attempt: number }
  | { readonly kind: 'ready' }
  /** Usable with a caveat, e.g. paper near end. */
  | { readonly kind: 'degraded'; readonly code: PortCode; readonly reason: string }
  | { readonly kind: 'faulted'; readonly code: PortCode; readonly reason: string; readonly retryInMs?: number };

/**
 * A port state as a reader of kiosk/<id>/state sees it (kioskd monitor): `code` came with
 * issue 16, so an older daemon's report has none.
 */
export type ReportedPortState =
  PortState | { readonly kind: 'degraded' | 'faulted'; readonly code?: string; readonly reason: string; readonly retryInMs?: number };

export type Unsubscribe = () => void;

/** What every device driver is built with (src/daemon/wiring.ts hands them in). */
export interface DriverDeps {
  readonly clock: Clock;
  readonly log: Logger;
  /** For reconnect jitter. */
  readonly random: () => number;
}

export interface Port {
  readonly id: PortId;
  /** Which driver backs this port ("none", "serial", "escpos-tcp", …); reported in kiosk/<id>/info. */
  readonly driver: string;
  /** Starts the port; resolves once it has a first state. Reconnecting is the port's own job. */
  open(signal: AbortSignal): Promise<void>;
  /** Idempotent; cancels anything in flight. */
  close(): Promise<void>;
  state(): PortState;
  onStateChange(listener: (state: PortState) => void): Unsubscribe;
}

/** A card scanner: each scan becomes a parsed identity or a rejection with a reason. */
export interface CardReader extends Port {
  onScan(listener: ScanListener): Unsubscribe;
}

/**
 * Returns true when the kiosk acted on the scan (a session started). Only such scans arm the
 * duplicate guard, so a scan ignored while busy never blocks the patient's next attempt.
 */
export type ScanListener = (result: ScanResult) => boolean | void;

/**
 * The chip reader of the card's CCCD chip (src/hal/chip/): the port's state for the kiosk, and the
 * reader itself for the chip read (src/chip/card-reading.ts), which asks its own state before reading.
 * A PC/SC reader gives a link to the card (connect); the HN-212's vendor service reads the card
 * itself and gives its groups (readFiles, `driver: 'hn212'`).
 */
export interface ChipReader extends Port {
  readonly reader: AnyChipReader;
}

export type AnyChipReader = ChipReaderPort | Hn212ChipReader;

/** A receipt printer: takes finished ESC/POS jobs and reports its status. */
export interface TicketPrinter extends Port {
  /** Never rejects for printer trouble: the outcome says what happened. */
  print(bytes: Uint8Array, signal: AbortSignal): Promise<PrintOutcome>;
  /** The last status read (null before the first answer). */
  status(): PrinterStatus | null;
}

export type PrintOutcome = { readonly ok: true; readonly ms: number; readonly bytes: number } | { readonly ok: false; readonly reason: string };

/**
 * A camera: frames held in memory only (never a file). A streaming camera runs while a check-in
 * is open and gives a short burst per capture; a still camera takes one picture per capture.
 */
export interface Camera extends Port {
  /**
   * Starts the camera for a check-in ahead of its capture, so exposure has settled by then; it
   * stops when `session` aborts. Idempotent; a camera with nothing to warm up ignores it.
   */
  prepare(session: AbortSignal): void;
  /** Never rejects for camera trouble: the outcome says what happened. Aborting kills the capture. */
  capture(signal: AbortSignal): Promise<CaptureOutcome>;
}

export type CaptureOutcome =
  | {
      readonly ok: true;
      /** A burst (raw frames from the stream) or one JPEG still; the receiver wipes them after use. */
      readonly frames: readonly CameraFrame[];
      readonly ms: number;
      /** Frames passed over because exposure was still settling. */
      readonly skipped?: number;
    }
  | { readonly ok: false; readonly reason: string };

export type LedId = 'ready' | 'busy' | 'error';
export type LedState = 'on' | 'off' | 'blink';
export type Leds = Readonly<Record<LedId, LedState>>;
export type ButtonId = 'consent-yes' | 'consent-no' | 'help';
export const LED_IDS: readonly LedId[] = ['ready', 'busy', 'error'];
export const BUTTON_IDS: readonly ButtonId[] = ['consent-yes', 'consent-no', 'help'];

/** The kiosk's lamps and push buttons (GPIO on a real kiosk). */
export interface Indicators extends Port {
  /** Sets every LED at once; cheap and idempotent (called on every kiosk step). */
  setLeds(leds: Leds): void;
  /** What the LEDs were last set to. */
  leds(): Leds;
  onButton(listener: (button: ButtonId) => void): Unsubscribe;
}

export type PortStates = Readonly<Record<PortId, PortState>>;

/** One word per port for status lines: "ready", "absent", "faulted(paper-out)". */
export function describePortState(s: ReportedPortState): string {
  switch (s.kind) {
    case 'absent':
    case 'ready':
      return s.kind;
    case 'connecting':
      return `connecting#${s.attempt}`;
    case 'degraded':
    case 'faulted':
      return `${s.kind}(${s.reason})`;
  }
}
