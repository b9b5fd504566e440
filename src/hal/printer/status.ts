import type { PortState } from '../ports.js';

/**
 * ESC/POS real-time status (DLE EOT n). Each answer is one byte with bits 1 and 4 set and bits
 * 0 and 7 clear; anything else is not a status byte (an automatic status-back packet, noise).
 *   n=1 printer:  0x08 offline
 *   n=2 offline cause: 0x04 cover open, 0x20 stopped by paper end, 0x40 error
 *   n=4 paper roll sensor: 0x0C near end, 0x60 paper end
 */
export interface PrinterStatus {
  readonly online: boolean;
  readonly coverOpen: boolean;
  readonly paper: 'ok' | 'near-end' | 'out';
  readonly error: boolean;
}

export const isStatusByte = (b: number): boolean => (b & 0x93) === 0x12;

export function decodeStatus(printer: number, offlineCause: number, paper: number): PrinterStatus {
  return {
    online: (printer & 0x08) === 0,
    coverOpen: (offlineCause & 0x04) !== 0,
    paper: (paper & 0x60) !== 0 || (offlineCause & 0x20) !== 0 ? 'out' : (paper & 0x0c) !== 0 ? 'near-end' : 'ok',
    error: (offlineCause & 0x40) !== 0,
  };
}

/** What the kiosk makes of it: only a printer that can print a whole ticket is usable. */
export function portStateOf(s: PrinterStatus): PortState {
  if (s.paper === 'out') return { kind: 'faulted', code: 'paper-out', reason: 'paper-out' };
  if (s.coverOpen) return { kind: 'faulted', code: 'cover-open', reason: 'cover-open' };
  if (s.error) return { kind: 'faulted', code: 'printer-error', reason: 'printer-error' };
  if (!s.online) return { kind: 'faulted', code: 'offline', reason: 'offline' };
  if (s.paper === 'near-end') return { kind: 'degraded', code: 'paper-near-end', reason: 'paper-near-end' };
  return { kind: 'ready' };
}
