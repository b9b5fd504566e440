/** What the virtual printer's sensors say, as a test or technician sets them. */
export interface PrinterState {
  paper: 'ok' | 'near-end' | 'out';
  coverOpen: boolean;
  offline: boolean;
  error: boolean;
  /** Powered off or wedged: no answer to DLE EOT at all. */
  mute: boolean;
}

/** The printer's answer to DLE EOT n (real-time status), from its sensors. */
export function statusByte(s: PrinterState, n: number): number {
  const out = s.paper === 'out';
  switch (n) {
    case 1:
      return 0x12 | (s.offline || out || s.coverOpen || s.error ? 0x08 : 0);
    case 2:
      return 0x12 | (s.coverOpen ? 0x04 : 0) | (out ? 0x20 : 0) | (s.error ? 0x40 : 0);
    case 3:
      return 0x12 | (s.error ? 0x08 : 0);
    case 4:
      return 0x12 | (s.paper === 'near-end' ? 0x0c : 0) | (out ? 0x60 : 0);
    default:
      return 0x12;
  }
}
