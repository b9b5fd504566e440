/**
 * Pure decoders for the two ways a USB scanner in HID mode delivers a scan. No I/O here: the
 * driver (hid-reader.ts) feeds raw input reports in and passes the decoded bytes on.
 *
 * Nothing in this file throws, whatever it is given: reports come from a device and may be
 * short, garbled or from another collection of the same device.
 */

/**
 * HID-POS ("USB POS", bar code scanner usage page 0x8C) input reports.
 *
 * Layouts vary by vendor. This follows the common "report ID 0x02, length byte, data,
 * continuation flag" layout:
 *
 *   byte 0           report ID, 0x02
 *   byte 1           N, the number of valid data bytes (at most 56)
 *   bytes 2 .. 2+N   data: the raw scanned bytes (UTF-8 for a CCCD QR)
 *   last byte        "continued": 1 when more reports follow for the same scan (index 63 in a
 *                    64-byte report)
 *
 * Bytes between the data and the flag are padding (often a symbology identifier) and ignored.
 */
export const HID_POS_REPORT_ID = 0x02;
export const HID_POS_MAX_DATA = 56;

export interface HidPosChunk {
  readonly bytes: Uint8Array;
  /** More reports follow for the same scan. */
  readonly continued: boolean;
}

/** The data of one HID-POS input report, or null if it is not a data report of this layout. */
export function decodeHidPosReport(report: Uint8Array): HidPosChunk | null {
  if (!(report instanceof Uint8Array) || report.length < 3) return null;
  if (report[0] !== HID_POS_REPORT_ID) return null;
  const n = report[1]!;
  // The flag must be a byte of its own, after the data.
  if (n > HID_POS_MAX_DATA || 2 + n > report.length - 1) return null;
  return { bytes: report.slice(2, 2 + n), continued: report[report.length - 1] === 1 };
}

/**
 * Joins the reports of one HID-POS scan: `push` returns the whole scan once a report without
 * the continued flag arrives. A scanner that never clears the flag cannot grow the buffer past
 * `maxBytes`; what is buffered is then handed on as it stands.
 */
export class HidPosAssembler {
  private parts: Uint8Array[] = [];
  private size = 0;

  constructor(private readonly maxBytes = 4096) {}

  push(report: Uint8Array): Uint8Array | null {
    const chunk = decodeHidPosReport(report);
    if (!chunk) return null;
    this.parts.push(chunk.bytes);
    this.size += chunk.bytes.length;
    if (chunk.continued && this.size < this.maxBytes) return null;
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    this.reset();
    return out.length > 0 ? out : null;
  }

  reset(): void {
    this.parts = [];
    this.size = 0;
  }
}

/**
 * USB HID keyboard boot reports (8 bytes: modifier bitmap, reserved, six keycodes), US layout.
 *
 * This is the scanner's factory default "keyboard wedge" mode. It can only type what a US
 * keyboard can: Vietnamese letters (ễ, Ữ, Đ …) cannot be typed, so a CCCD name or address
 * arrives without them (scanners skip those characters or send something else). That is
 * expected; set the scanner to HID-POS or USB COM to get the real UTF-8 bytes.
 */
const UNSHIFTED: Record<number, string> = {};
const SHIFTED: Record<number, string> = {};
for (let i = 0; i < 26; i++) {
  UNSHIFTED[0x04 + i] = String.fromCharCode(0x61 + i);
  SHIFTED[0x04 + i] = String.fromCharCode(0x41 + i);
}
const table = (first: number, plain: string, shift: string): void => {
  for (let i = 0; i < plain.length; i++) {
    UNSHIFTED[first + i] = plain[i]!;
    SHIFTED[first + i] = shift[i]!;
  }
};
table(0x1e, '1234567890', '!@#$%^&*()');
table(0x28, '\r', '\r'); // Enter
table(0x2b, '\t ', '\t '); // Tab, Space
table(0x2d, "-=[]\\#;'`,./", '_+{}|~:"~<>?'); // 0x32 is the non-US #/~ key
table(0x58, '\r', '\r'); // Keypad Enter: some scanners send it as the suffix

const SHIFT_BITS = 0x02 | 0x20; // left and right Shift
const ERROR_ROLL_OVER = 0x01;

export class KeyboardReportDecoder {
  private held = new Set<number>();

  /** The characters this report types: keys that are down now and were not in the last report. */
  push(report: Uint8Array): string {
    if (!(report instanceof Uint8Array) || report.length < 8) return '';
    const keys = report.subarray(2, 8);
    // Phantom state: too many keys down. Keep the previous state so held keys don't repeat.
    if (keys.every((k) => k === ERROR_ROLL_OVER)) return '';
    const map = (report[0]! & SHIFT_BITS) !== 0 ? SHIFTED : UNSHIFTED;
    const now = new Set<number>();
    let out = '';
    for (const k of keys) {
      if (k === 0 || k === ERROR_ROLL_OVER || now.has(k)) continue;
      now.add(k);
      if (!this.held.has(k)) out += map[k] ?? '';
    }
    this.held = now;
    return out;
  }

  reset(): void {
    this.held = new Set();
  }
}
