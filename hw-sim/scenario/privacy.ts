import { SAMPLE_IDENTITIES } from '../identities.js';

export interface Leak {
  /** What it is, e.g. "sample 1's full name". */
  readonly what: string;
  readonly found: string;
  readonly index: number;
}

const slashed = (d: string): string => `${d.slice(0, 2)}/${d.slice(2, 4)}/${d.slice(4)}`;
const iso = (d: string): string => `${d.slice(4)}-${d.slice(2, 4)}-${d.slice(0, 2)}`;
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Digits count as one number only when no digit touches them. */
const alone = (s: string): string => `(?<!\\d)${escape(s)}(?!\\d)`;

/**
 * The personal data of the sample patients, as it could leak: full and old ID numbers, names
 * (as written, in capitals as the BHYT gateway returns them, the family name alone), dates of
 * birth in the three usual forms, addresses — and any 12-digit number at all.
 */
const PATTERNS: ReadonlyArray<{ what: string; re: RegExp }> = [
  ...SAMPLE_IDENTITIES.flatMap((p, i) => {
    const who = `sample ${i + 1}'s`;
    return [
      { what: `${who} ID number`, re: new RegExp(alone(p.idNumber)) },
      ...(p.oldIdNumber ? [{ what: `${who} old ID number`, re: new RegExp(alone(p.oldIdNumber)) }] : []),
      { what: `${who} full name`, re: new RegExp(escape(p.fullName), 'i') },
      { what: `${who} family name`, re: new RegExp(`(?<![\\p{L}])${escape(p.fullName.split(' ')[0]!)}(?![\\p{L}])`, 'u') },
      { what: `${who} date of birth`, re: new RegExp(`${alone(p.dob)}|${alone(slashed(p.dob))}|${alone(iso(p.dob))}`) },
      { what: `${who} address`, re: new RegExp(escape(p.address), 'i') },
    ];
  }),
  // Not the last group of a UUID (check-in and event ids): about one in 280 is 12 digits by chance.
  { what: 'a 12-digit number (a full CCCD number)', re: /(?<![\d.])(?<![\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-)\d{12}(?!\d)/i },
];

export function findPersonalData(text: string): Leak[] {
  const out: Leak[] = [];
  for (const { what, re } of PATTERNS) {
    const m = re.exec(text);
    if (m) out.push({ what, found: m[0], index: m.index });
  }
  return out;
}

/** The text around a leak, on one line, to show where it was. */
export function around(text: string, index: number, width = 60): string {
  const from = Math.max(0, index - width);
  return `${from > 0 ? '…' : ''}${text.slice(from, index + width).replace(/\s*\n\s*/g, ' ⏎ ')}${index + width < text.length ? '…' : ''}`;
}
