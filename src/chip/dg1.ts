// DG1: the MRZ as the chip holds it (tag 61 → 5F1F), TD1 layout (ICAO 9303-5: an ID card's 3 × 30
// characters). Every check digit is verified, so a chip that answers garbage, or a reader that
// decrypted the wrong bytes, is caught here rather than used.
import { ChipError } from './apdu.js';
import { childrenOf, malformed, need, readFile } from './tlv.js';

export interface Dg1 {
  /** The 90 characters, without line breaks. */
  readonly mrz: string;
  /** "ID" on a CCCD ("I<" on many ID cards). */
  readonly documentCode: string;
  readonly issuingState: string;
  /** Fillers removed; a long number's overflow (ICAO 9303-5 note j) is joined back. */
  readonly documentNumber: string;
  /** YYMMDD as printed; '<' where a part is unknown. */
  readonly birthDate: string;
  /** YYMMDD as printed. */
  readonly expiryDate: string;
  readonly sex: 'M' | 'F' | 'X';
  readonly nationality: string;
  /** Line 1's optional data, trailing fillers removed (on a CCCD: the 12-digit number first). */
  readonly optionalData: string;
  /** Line 2's optional data, trailing fillers removed. */
  readonly optionalData2: string;
  readonly names: { readonly surname: string; readonly givenNames: string };
  /** The 12-digit personal number when the optional data starts with one (a CCCD). */
  readonly idNumber?: string;
}

const TD1_LENGTH = 90;

export function parseDg1(bytes: Uint8Array): Dg1 {
  const root = readFile(bytes, 0x61, 'DG1');
  const mrzTlv = need(childrenOf(root), 0x5f1f, 'DG1');
  const raw = mrzTlv.value;
  if (raw.length !== TD1_LENGTH) throw new ChipError('unsupported', `DG1: MRZ of ${raw.length} characters, not TD1 (90)`);
  for (const b of raw) if (!isMrzByte(b)) throw malformed('DG1: MRZ holds a character outside A-Z 0-9 <');
  return parseTd1(String.fromCharCode(...raw));
}

/** The ICAO 9303-3 check digit: weights 7, 3, 1; A-Z count 10-35, '<' counts 0. */
export function checkDigit(text: string): number {
  const weights = [7, 3, 1];
  let sum = 0;
  for (let i = 0; i < text.length; i++) sum += charValue(text.charCodeAt(i)) * weights[i % 3]!;
  return sum % 10;
}

function parseTd1(mrz: string): Dg1 {
  const l1 = mrz.slice(0, 30);
  const l2 = mrz.slice(30, 60);
  const l3 = mrz.slice(60, 90);
  const { documentNumber, optionalData } = documentNumberOf(l1);
  const birthDate = l2.slice(0, 6);
  const expiryDate = l2.slice(8, 14);
  verify(birthDate, l2[6]!, 'date of birth');
  verify(expiryDate, l2[14]!, 'date of expiry');
  verify(l1.slice(5, 30) + l2.slice(0, 7) + l2.slice(8, 15) + l2.slice(18, 29), l2[29]!, 'composite');
  for (const [value, what] of [
    [birthDate, 'date of birth'],
    [expiryDate, 'date of expiry'],
  ] as const)
    if (!/^[0-9<]{6}$/.test(value)) throw malformed(`DG1: ${what} is not YYMMDD`);
  const sexChar = l2[7]!;
  if (!'MF<X'.includes(sexChar)) throw malformed('DG1: sex is not M, F or <');
  const idNumber = /^\d{12}/.exec(optionalData)?.[0];
  return {
    mrz,
    documentCode: l1.slice(0, 2),
    issuingState: trimFillers(l1.slice(2, 5)),
    documentNumber,
    birthDate,
    expiryDate,
    sex: sexChar === 'M' || sexChar === 'F' ? sexChar : 'X',
    nationality: trimFillers(l2.slice(15, 18)),
    optionalData,
    optionalData2: trimFillers(l2.slice(18, 29)),
    names: namesOf(l3),
    ...(idNumber === undefined ? {} : { idNumber }),
  };
}

/**
 * Positions 6-14 hold the number and 15 its check digit; a longer number puts '<' at 15 and
 * continues in the optional data, ending with its check digit (ICAO 9303-5 §4.2.2, note j).
 */
function documentNumberOf(l1: string): { documentNumber: string; optionalData: string } {
  const head = l1.slice(5, 14);
  const optional = l1.slice(15, 30);
  if (l1[14] !== '<') {
    verify(head, l1[14]!, 'document number');
    return { documentNumber: trimFillers(head), optionalData: trimFillers(optional) };
  }
  const run = /^[A-Z0-9]*/.exec(optional)![0];
  if (run.length < 2) throw malformed('DG1: document number has no check digit');
  const tail = run.slice(0, -1);
  verify(head + tail, run.slice(-1), 'document number');
  return { documentNumber: head + tail, optionalData: trimFillers(optional.slice(run.length + 1)) };
}

function verify(field: string, digit: string, what: string): void {
  if (digit === '<' && /^<+$/.test(field)) return; // an empty field may carry a filler for its check digit
  if (!/^[0-9]$/.test(digit) || Number(digit) !== checkDigit(field)) throw malformed(`DG1: check digit of the ${what} is wrong`);
}

function namesOf(l3: string): { surname: string; givenNames: string } {
  const at = l3.indexOf('<<');
  const words = (s: string) => s.split('<').filter(Boolean).join(' ');
  return at < 0 ? { surname: words(l3), givenNames: '' } : { surname: words(l3.slice(0, at)), givenNames: words(l3.slice(at + 2)) };
}

function trimFillers(s: string): string {
  return s.replace(/<+$/, '');
}

function isMrzByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || b === 0x3c;
}

function charValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x5a) return c - 0x41 + 10;
  return 0;
}
