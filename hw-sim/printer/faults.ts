/**
 * The virtual printer's fault knobs (hw-sim/devices/printer.ts) and what they do to the bytes
 * it takes: set from tests directly, or through the control action printer.faults.
 */
export interface PrinterFaults {
  /** The paper runs out after this many more print bytes (mid-ticket). */
  paperOutAfterBytes?: number | undefined;
  /** The printer drops the connection after this many more bytes. */
  disconnectAfterBytes?: number | undefined;
  /** Takes data at most this fast (a printer busy printing a long job). */
  drainBytesPerSec?: number | undefined;
}

/**
 * With `disconnectAfterBytes` set: how many of the next `length` bytes the printer takes
 * before it drops the connection (the knob is then spent), or null when it takes them all.
 */
export function cutAt(faults: PrinterFaults, length: number): number | null {
  const cut = faults.disconnectAfterBytes;
  if (cut === undefined) return null;
  if (length >= cut) {
    faults.disconnectAfterBytes = undefined;
    return cut;
  }
  faults.disconnectAfterBytes = cut - length;
  return null;
}

/** `n` bytes printed: with `paperOutAfterBytes` set, the paper may run out under them. */
export function usePaper(faults: PrinterFaults, state: { paper: 'ok' | 'near-end' | 'out' }, n: number): void {
  const left = faults.paperOutAfterBytes;
  if (left === undefined) return;
  if (n >= left) {
    faults.paperOutAfterBytes = undefined;
    state.paper = 'out';
  } else faults.paperOutAfterBytes = left - n;
}
