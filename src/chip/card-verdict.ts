// What a finished chip read means for the check-in (chip.md §6-7; the integration spec's outcomes):
// passive authentication, DG13's number against the QR's, the portrait's format. Pure: the read's
// bytes in, a verdict out; messages name groups, codes and at most the last 4 digits of a number.
import { maskId } from '../log/mask.js';
import { ChipError } from './apdu.js';
import { parseDg1, type Dg1 } from './dg1.js';
import { parseDg13, type Dg13 } from './dg13.js';
import { parseDg2, type Dg2 } from './dg2.js';
import { passiveAuth, type PaStatus } from './passive-auth.js';
import type { ChipRead, FileName } from './read-chip.js';
import { parseSod } from './sod.js';

/** The read cannot give a portrait; the next portrait source is tried. */
export const CHIP_FALLBACK_CODES = [
  'reader-not-ready',
  'no-card',
  'unsupported',
  'timeout',
  'read-failed',
  'unreadable',
  'jpeg2000',
  'cancelled',
] as const;
export type ChipFallbackCode = (typeof CHIP_FALLBACK_CODES)[number];
/** The chip contradicts the card or itself: the patient goes to the counter, whatever checkin.noPortrait says. */
export const CHIP_COUNTER_CODES = ['wrong-can', 'number-mismatch', 'pa-failed', 'card-removed'] as const;
export type ChipCounterCode = (typeof CHIP_COUNTER_CODES)[number];
/** Counter outcomes that central monitoring must hear of (a forged or swapped card). */
export const ALERTING_CODES: ReadonlySet<ChipCounterCode> = new Set(['number-mismatch', 'pa-failed']);

export type Verdict =
  | { readonly kind: 'read' }
  | { readonly kind: 'fallback'; readonly code: ChipFallbackCode; readonly reason: string }
  | { readonly kind: 'counter'; readonly code: ChipCounterCode; readonly reason: string };

export const fallback = (code: ChipFallbackCode, reason: string): Verdict => ({ kind: 'fallback', code, reason });
export const counter = (code: ChipCounterCode, reason: string): Verdict => ({ kind: 'counter', code, reason });

/** The parsed personal data groups, only for `kioskd card read-chip` (never kept by the daemon). */
export interface Holder {
  readonly dg1?: Dg1;
  readonly dg13?: Dg13;
}

export interface Judged {
  readonly verdict: Verdict;
  readonly pa: PaStatus;
  readonly paDetail: string;
  readonly signer: { readonly issuer: string; readonly serial: string } | null;
  /** DG2, its image a copy the caller owns (and must wipe); null when there was none. */
  readonly portrait: Dg2 | null;
  readonly holder: Holder | null;
  /** Groups that were read but could not be parsed, and why. */
  readonly notes: readonly string[];
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The SOD checks: 'unverified' when there is no EF.SOD or it cannot be checked, 'failed' only for a mismatch or a bad signature. */
function passive(
  files: ReadonlyMap<FileName, Uint8Array>,
  anchors: readonly Uint8Array[],
): { pa: PaStatus; detail: string; signer: Judged['signer'] } {
  const bytes = files.get('SOD');
  if (!bytes) return { pa: 'unverified', detail: 'the chip gave no EF.SOD', signer: null };
  try {
    const r = passiveAuth(files, parseSod(bytes), anchors);
    return { pa: r.pa, detail: r.detail, signer: r.signer };
  } catch (e) {
    // A structure this reader does not know is not proof of forgery: honest "unverified", with why.
    return { pa: 'unverified', detail: `EF.SOD cannot be checked: ${message(e)}`, signer: null };
  }
}

function parsed<T>(files: ReadonlyMap<FileName, Uint8Array>, name: FileName, parse: (b: Uint8Array) => T, notes: string[]): T | undefined {
  const bytes = files.get(name);
  if (!bytes) return undefined;
  try {
    return parse(bytes);
  } catch (e) {
    notes.push(e instanceof ChipError ? `${name}: ${e.message} (${e.reason})` : `${name}: ${message(e)}`);
    return undefined;
  }
}

/**
 * Judges a read. `expectedNumber` is the QR's 12 digits (null when only a CAN was given: nothing to
 * compare). Order: a failed passive authentication, then the number, then the portrait.
 */
export function judgeRead(read: ChipRead, o: { expectedNumber: string | null; anchors: readonly Uint8Array[]; keepHolder?: boolean }): Judged {
  const notes: string[] = [];
  const pa = passive(read.files, o.anchors);
  const dg1 = parsed(read.files, 'DG1', parseDg1, notes);
  const dg13 = parsed(read.files, 'DG13', parseDg13, notes);
  const dg2 = parsed(read.files, 'DG2', (b) => parseDg2(b), notes) ?? null;
  const holder = o.keepHolder ? { ...(dg1 ? { dg1 } : {}), ...(dg13 ? { dg13 } : {}) } : null;
  const judged = (verdict: Verdict): Judged => ({ verdict, pa: pa.pa, paDetail: pa.detail, signer: pa.signer, portrait: dg2, holder, notes });

  if (pa.pa === 'failed') return judged(counter('pa-failed', `passive authentication failed: ${pa.detail}`));
  if (o.expectedNumber !== null) {
    const expected = o.expectedNumber;
    const numbers: Array<[string, string]> = [];
    if (dg13) numbers.push(['DG13', dg13.idNumber]);
    if (dg1?.idNumber !== undefined) numbers.push(['DG1', dg1.idNumber]);
    if (numbers.length === 0)
      return judged(fallback('unreadable', `the chip gave no number to compare with the QR's${notes.length ? ` (${notes.join('; ')})` : ''}`));
    const other = numbers.find(([, n]) => n !== expected);
    if (other)
      return judged(
        counter(
          'number-mismatch',
          `the number in the chip's ${other[0]} (${maskId(other[1])}) is not the QR's (${maskId(expected)}): another card was placed`,
        ),
      );
  }
  if (!dg2) {
    const why = notes.find((n) => n.startsWith('DG2')) ?? (read.refused.has('DG2') ? `DG2 refused (${read.refused.get('DG2')})` : 'DG2 not read');
    return judged(fallback('unreadable', `no portrait: ${why}`));
  }
  if (dg2.format === 'jp2' || dg2.format === 'j2k')
    return judged(fallback('jpeg2000', `the chip's portrait is JPEG 2000 (${dg2.format}), which this kiosk cannot decode`));
  if (dg2.format !== 'jpeg') return judged(fallback('unreadable', "the chip's portrait is neither JPEG nor JPEG 2000"));
  return judged({ kind: 'read' });
}
