import { DG13_INVENTED, mrzName } from '../chip/card-files.js';
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
 * birth in the three usual forms, addresses — and any 12-digit number at all. Longer forms come
 * first, so masking replaces a full name before its family name.
 */
const PATTERNS: ReadonlyArray<{ what: string; re: RegExp }> = [
  ...SAMPLE_IDENTITIES.flatMap((p, i) => {
    const who = `sample ${i + 1}'s`;
    return [
      { what: `${who} ID number`, re: new RegExp(alone(p.idNumber)) },
      ...(p.oldIdNumber ? [{ what: `${who} old ID number`, re: new RegExp(alone(p.oldIdNumber)) }] : []),
      { what: `${who} full name`, re: new RegExp(escape(p.fullName), 'i') },
      { what: `${who} address`, re: new RegExp(escape(p.address), 'i') },
      { what: `${who} family name`, re: new RegExp(`(?<![\\p{L}])${escape(p.fullName.split(' ')[0]!)}(?![\\p{L}])`, 'u') },
      { what: `${who} date of birth`, re: new RegExp(`${alone(p.dob)}|${alone(slashed(p.dob))}|${alone(iso(p.dob))}`) },
      // As the chip's DG1 (the MRZ) writes them: the name without marks, the last 9 digits as document number.
      { what: `${who} name as in the MRZ`, re: new RegExp(`${escape(mrzName(p.fullName))}|${escape(mrzName(p.fullName).replace(/<+/g, ' '))}`, 'i') },
      { what: `${who} MRZ document number`, re: new RegExp(alone(p.idNumber.slice(3))) },
    ];
  }),
  // DG13's invented fields of every virtual card (hw-sim/chip/card-files.ts), and any TD1 MRZ line.
  ...Object.entries(DG13_INVENTED).map(([field, value]) => ({ what: `a chip's DG13 ${field}`, re: new RegExp(escape(value), 'i') })),
  { what: 'a chip MRZ (DG1)', re: /I[<D]VNM[\dA-Z<]{10}/ },
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

/**
 * The text with every piece of the sample patients' personal data replaced by what it is,
 * `[personal data: sample 1's full name]`: everything the report prints (payloads, ticket
 * text, daemon output) goes through this, so a report never repeats a leak it found.
 */
export function maskPersonalData(text: string): string {
  let out = text;
  // A fresh global copy per call: a shared /g regex would carry lastIndex from call to call.
  for (const { what, re } of PATTERNS) out = out.replace(new RegExp(re.source, `${re.flags}g`), `[personal data: ${what}]`);
  return out;
}

/** The ticket's name line ("Họ tên: …"), also as OCR misreads it: "Ho tén:", "Họ tên;". */
const NAME_LINE = /^(H\S{0,2}\s+t\S{0,3}\s*[:;])[^\n]*$/gimu;

/** A ticket's text for the report: the name line blanked even where OCR garbled the name past recognition. */
export function maskTicketText(text: string): string {
  return maskPersonalData(text.replace(NAME_LINE, "$1 [personal data: the patient's name]"));
}

/** One finding, saying what leaked and where, never the value. */
export interface Finding {
  readonly what: string;
  readonly where: string;
}

/**
 * The leaks in a text, without those inside another one: the family name within the full name,
 * "a 12-digit number" that is sample 1's ID number (the more specific, earlier pattern stays).
 */
function distinctLeaks(text: string): Leak[] {
  const all = findPersonalData(text);
  const covers = (o: Leak, l: Leak): boolean => o.index <= l.index && l.index + l.found.length <= o.index + o.found.length;
  return all.filter((l, i) => !all.some((o, j) => j !== i && covers(o, l) && (o.found.length > l.found.length || j < i)));
}

/** Every leak in a JSON value (or a text), each with the dotted path of the field that holds it. */
function leaksIn(text: string): Array<{ what: string; field: string | null }> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return distinctLeaks(text).map((l) => ({ what: l.what, field: null }));
  }
  const out: Array<{ what: string; field: string | null }> = [];
  const add = (text: string, field: string | null): void => {
    for (const l of distinctLeaks(text)) if (!out.some((o) => o.what === l.what)) out.push({ what: l.what, field });
  };
  const walk = (v: unknown, path: string): void => {
    if (typeof v === 'string' || typeof v === 'number') add(String(v), path || null);
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const p = path ? `${path}.${k}` : k;
        add(k, `the key of ${p}`);
        walk(x, p);
      }
    }
  };
  walk(value, '');
  return out;
}

const inField = (field: string | null): string => (field ? `, in ${field}` : '');

/** Leaks in MQTT messages: the topic (masked), which message of the window, its time and field. */
export function leaksInMessages(
  messages: ReadonlyArray<{ readonly topic: string; readonly payload: string; readonly at: number }>,
  window: string,
): Finding[] {
  const out: Finding[] = [];
  messages.forEach((m, i) => {
    const where = `on ${maskPersonalData(m.topic)} (message ${i + 1} since ${window}, at ${new Date(m.at).toISOString().slice(11, 23)})`;
    for (const l of findPersonalData(m.topic)) out.push({ what: l.what, where: `${where}, in the topic` });
    for (const l of leaksIn(m.payload)) out.push({ what: l.what, where: `${where}${inField(l.field)}` });
  });
  return out;
}

/** Leaks in kioskd's output (JSON lines): the line (counted from `firstLine`), its time, level, message (masked) and field. */
export function leaksInLog(log: string, window: string, firstLine = 1): Finding[] {
  const out: Finding[] = [];
  log.split('\n').forEach((line, i) => {
    const leaks = leaksIn(line);
    if (leaks.length === 0) return;
    let about = '';
    try {
      const j = JSON.parse(line) as { time?: unknown; msg?: unknown };
      const time = typeof j.time === 'number' || typeof j.time === 'string' ? new Date(j.time).toISOString().slice(11, 23) : null;
      const msg = typeof j.msg === 'string' ? JSON.stringify(maskPersonalData(j.msg).slice(0, 80)) : null;
      about = [time && `at ${time}`, msg && `msg ${msg}`].filter(Boolean).join(', ');
    } catch {
      // not a JSON line (a stack trace, a crash): its number is all there is
    }
    for (const l of leaks)
      out.push({ what: l.what, where: `in kioskd's log, line ${firstLine + i} since ${window}${about ? ` (${about})` : ''}${inField(l.field)}` });
  });
  return out;
}

/** Leaks in database rows: the row's id and the column. */
export function leaksInRows(rows: ReadonlyArray<Record<string, unknown>>, table: string): Finding[] {
  const out: Finding[] = [];
  rows.forEach((row, i) => {
    const id = typeof row['id'] === 'string' && findPersonalData(row['id']).length === 0 ? `id ${row['id']}` : `row ${i + 1}`;
    for (const [col, v] of Object.entries(row)) {
      if (typeof v !== 'string' && typeof v !== 'number') continue;
      for (const l of leaksIn(String(v))) out.push({ what: l.what, where: `in ${table}, ${id}, column ${col}${l.field ? ` (${l.field})` : ''}` });
    }
  });
  return out;
}
