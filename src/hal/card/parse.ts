import type { CitizenIdentity, ParseResult, Rejection, RejectionCode, Sex } from './types.js';

/**
 * The CCCD QR payload parser. Pure: bytes or text in, a typed identity or a typed rejection
 * out; it never throws. Forms accepted (domain.md §1.2):
 *   7 fields  ID|oldID|name|ddMMyyyy|Nam/Nữ|address|ddMMyyyy   (chip CCCD, 2021–)
 *   6 fields  ID|name|dd/MM/yyyy|Nam/Nữ|address|dd/MM/yyyy      (seen from some apps)
 * and either with extra trailing fields (newer cards), empty optional fields, both date forms.
 */

export const MAX_PAYLOAD_BYTES = 4096;

export interface ParseOptions {
  /** Today's date (local), for "not in the future" checks; injected so the parser stays pure. */
  readonly today: { readonly year: number; readonly month: number; readonly day: number };
}

const reject = (code: RejectionCode, message: string): { ok: false; rejection: Rejection } => ({ ok: false, rejection: { code, message } });

/** Scanner bytes to text: UTF-8 (BOM stripped), or Windows-1252 when the bytes are not UTF-8. */
export function decodeScannerBytes(bytes: Uint8Array): string {
  let b = bytes;
  if (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return new TextDecoder('windows-1252').decode(b);
  }
}

export function parseCccdBytes(bytes: Uint8Array, opts: ParseOptions): ParseResult {
  if (bytes.length > MAX_PAYLOAD_BYTES) return reject('too-long', `payload is ${bytes.length} bytes; a CCCD QR is at most ${MAX_PAYLOAD_BYTES}`);
  return parseCccd(decodeScannerBytes(bytes), opts);
}

export function parseCccd(input: string, opts: ParseOptions): ParseResult {
  // A stray BOM, and what scanners wrap a scan in (an STX/ETX pair, a Tab or line-end
  // suffix), are not part of the payload.
  // eslint-disable-next-line no-control-regex
  let text = input.replace(/^\uFEFF?\u0002?/, '').replace(/[\r\n\t\u0003]+$/, '');
  if (text.length > MAX_PAYLOAD_BYTES) return reject('too-long', `payload is over ${MAX_PAYLOAD_BYTES} characters`);
  if (text.trim() === '') return reject('empty', 'the scan was empty');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(text)) return reject('control-characters', 'the payload contains control characters');
  // NFC: the same letter may arrive precomposed or as base + combining mark. A no-break or
  // other Unicode space (some card printers' software) is an ordinary space.
  text = text.normalize('NFC').replace(/\p{Zs}/gu, ' ');

  const repairs: string[] = [];
  let fields = splitFields(text, repairs);
  fields = fields.map((f) => f.trim());
  if (fields.length < 6) {
    return /^\d{12}/.test(fields[0] ?? '')
      ? reject('wrong-field-count', `expected 6 or more "|"-separated fields, found ${fields.length}`)
      : reject('not-a-cccd-payload', 'this is not a CCCD QR code (no "|"-separated fields starting with a 12-digit number)');
  }

  // Digit-only fields may carry "đ" typed for "0" by an input method; elsewhere "đ" is a letter.
  const digits = (s: string, what: string): string => {
    if (/đ/.test(s) && /^[0-9đ]+$/.test(s)) {
      if (!repairs.includes(what)) repairs.push(what);
      return s.replace(/đ/g, '0');
    }
    return s;
  };

  // Which form: where the date of birth sits. Fourth in the 7-field form (old ID second),
  // third in the 6-field form (name second); extra trailing fields do not matter.
  const isDate = (i: number): boolean => looksLikeDate(digits(fields[i] ?? '', 'd-for-0'));
  const sevenField = fields.length >= 7 && isDate(3) && !isDate(2);
  const [idRaw, oldRaw, name, dobRaw, sexRaw, address, issueRaw] = sevenField
    ? [fields[0]!, fields[1]!, fields[2]!, fields[3]!, fields[4]!, fields[5]!, fields[6]!]
    : [fields[0]!, '', fields[1]!, fields[2]!, fields[3]!, fields[4]!, fields[5]!];

  const id = digits(idRaw, 'd-for-0');
  if (!/^\d{12}$/.test(id)) return reject('bad-id-number', 'the ID number is not 12 digits');
  const oldId = digits(oldRaw, 'd-for-0');
  if (oldId !== '' && !/^(\d{9}|\d{12})$/.test(oldId)) return reject('bad-old-id-number', 'the old ID number is neither 9 nor 12 digits');

  if (name === '') return reject('missing-name', 'the name field is empty');
  if (!/^[\p{L}\p{M}'’‘ʼ .-]+$/u.test(name) || name.length > 100) return reject('bad-name', 'the name contains characters a name cannot have');

  const dob = parseDate(digits(dobRaw, 'd-for-0'), { allowYearOnly: true });
  if (!dob) return reject('bad-date-of-birth', 'the date of birth is not a real date (ddMMyyyy, dd/MM/yyyy or yyyy)');
  if (dob.year < 1900 || compare(dob, opts.today) > 0) return reject('bad-date-of-birth', 'the date of birth is before 1900 or in the future');

  let sex: Sex | null = null;
  if (sexRaw !== '') {
    const s = sexRaw.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
    if (s === 'nam') sex = 'male';
    else if (s === 'nu') sex = 'female';
    else return reject('bad-sex', 'the sex field is neither "Nam" nor "Nữ"');
  }

  let issue: DateParts | null = null;
  const issueText = digits(issueRaw ?? '', 'd-for-0');
  if (issueText !== '') {
    issue = parseDate(issueText, { allowYearOnly: false });
    if (!issue) return reject('bad-issue-date', 'the issue date is not a real date');
    if (compare(issue, opts.today) > 0) return reject('bad-issue-date', 'the issue date is in the future');
    if (compare(issue, dob) < 0) return reject('bad-issue-date', 'the issue date is before the date of birth');
  }

  const mismatch = idStructureMismatch(id, dob, sex);
  if (mismatch) return mismatch;

  const identity: CitizenIdentity = {
    idNumber: id,
    oldIdNumber: oldId === '' ? null : oldId,
    fullName: name.replace(/\s+/g, ' '),
    dateOfBirth: iso(dob),
    sex,
    address: address === '' ? null : address,
    issueDate: issue ? iso(issue) : null,
    form: sevenField ? '7-field' : '6-field',
    repairs,
  };
  return { ok: true, identity };
}

/**
 * The payload's "|"-separated fields. Vietnamese input methods in keyboard-wedge mode turn "|"
 * into "\" or "¦": repaired (and noted in `repairs`) only when the payload has no "|" at all and
 * the separators then give a plausible CCCD shape.
 */
function splitFields(text: string, repairs: string[]): string[] {
  const fields = text.split('|');
  if (fields.length >= 6) return fields;
  for (const [sep, name] of [
    ['\\', 'backslash-separators'],
    ['¦', 'broken-bar-separators'],
  ] as const) {
    const candidate = text.split(sep);
    if (!text.includes('|') && candidate.length >= 6 && /^\s*[0-9đ]{12}\s*$/.test(candidate[0]!)) {
      repairs.push(name);
      return candidate;
    }
  }
  return fields;
}

/**
 * The number's structure (Circular 07/2016): province 001–096, a digit for century and sex,
 * the last two digits of the birth year, then six digits. There is no check digit.
 */
function idStructureMismatch(id: string, dob: DateParts, sex: Sex | null): { ok: false; rejection: Rejection } | null {
  const province = Number(id.slice(0, 3));
  if (province < 1 || province > 96) return reject('bad-province-code', "the ID number's province code (its first 3 digits) does not exist");
  const centuryDigit = Number(id[3]);
  const century = 1900 + 100 * Math.floor(centuryDigit / 2);
  if (century !== Math.floor(dob.year / 100) * 100)
    return reject('id-century-mismatch', "the ID number's century digit does not match the year of birth");
  if (id.slice(4, 6) !== String(dob.year % 100).padStart(2, '0'))
    return reject('id-year-mismatch', "the ID number's year digits do not match the year of birth");
  const idSex: Sex = centuryDigit % 2 === 0 ? 'male' : 'female';
  if (sex !== null && sex !== idSex) return reject('id-sex-mismatch', "the ID number's sex digit does not match the sex field");
  return null;
}

interface DateParts {
  readonly year: number;
  readonly month: number | null;
  readonly day: number | null;
}

function looksLikeDate(s: string): boolean {
  return /^(\d{8}|\d{2}\/\d{2}\/\d{4}|\d{4})$/.test(s);
}

function parseDate(s: string, o: { allowYearOnly: boolean }): DateParts | null {
  const m = /^(\d{2})\/?(\d{2})\/?(\d{4})$/.exec(s);
  if (!m) return o.allowYearOnly && /^\d{4}$/.test(s) ? { year: Number(s), month: null, day: null } : null;
  if (s.includes('/') && !/^\d{2}\/\d{2}\/\d{4}$/.test(s)) return null;
  const [day, month, year] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return day > daysInMonth ? null : { year, month, day };
}

function compare(a: DateParts, b: { year: number; month: number | null; day: number | null }): number {
  return a.year - b.year || (a.month ?? 1) - (b.month ?? 1) || (a.day ?? 1) - (b.day ?? 1);
}

const iso = (d: DateParts): string =>
  d.month === null ? String(d.year) : `${d.year}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
