/**
 * Values in scenario files: `${name}` references to values saved by earlier expectations, and
 * matching an expected subset (with "/regex/flags" strings) against what the kiosk sent.
 */
import { maskPersonalData } from './privacy.js';

/** `${name}`, `${name+1}`, `${name-2}`. */
export const REF = /\$\{([A-Za-z_]\w*)([+-]\d+)?\}/g;

/**
 * Replaces references, in values and in mapping keys. A string that is exactly one reference
 * takes the saved value as it is (a number stays a number, null stays null); `+N` adds N to
 * the number at the end of the value, keeping its prefix and width (A007 + 1 → A008).
 */
export function substitute(v: unknown, saved: ReadonlyMap<string, unknown>): unknown {
  if (typeof v === 'string') {
    const whole = /^\$\{([A-Za-z_]\w*)([+-]\d+)?\}$/.exec(v);
    if (whole) return resolve(whole[1]!, whole[2], saved);
    return v.replace(REF, (_m, name: string, delta: string | undefined) => String(resolve(name, delta, saved)));
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, saved));
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [substitute(k, saved) as string, substitute(x, saved)]));
  return v;
}

function resolve(name: string, delta: string | undefined, saved: ReadonlyMap<string, unknown>): unknown {
  if (!saved.has(name)) throw new Error(`no saved value \${${name}} (saved: ${[...saved.keys()].join(', ') || 'nothing'})`);
  const value = saved.get(name);
  if (delta === undefined) return value;
  const d = Number(delta);
  if (typeof value === 'number') return value + d;
  const m = typeof value === 'string' ? /^(.*?)(\d+)$/.exec(value) : null;
  if (!m) throw new Error(`\${${name}${delta}}: ${show(value)} does not end in a number`);
  return m[1]! + String(Number(m[2]) + d).padStart(m[2]!.length, '0');
}

/** `data.number`, `ports.printer.kind`, `items.0`. */
export function getPath(v: unknown, path: string): unknown {
  let cur = v;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** "/…/flags" → the regular expression; anything else → null. No g or y: their lastIndex would carry from one test to the next. */
export function regexOf(s: string): RegExp | null {
  const m = /^\/(.*)\/([dimsuv]*)$/s.exec(s);
  if (!m || m[1] === '') return null;
  try {
    return new RegExp(m[1]!, m[2]);
  } catch {
    return null;
  }
}

/**
 * Where `actual` differs from `expected`, one line per difference; empty when it matches.
 * Objects match as subsets (a `$keys` list demands exactly those keys), arrays element by
 * element, "/…/" strings as regular expressions (numbers are matched as their text).
 */
export function mismatches(expected: unknown, actual: unknown, at = ''): string[] {
  const where = at === '' ? '' : `${at}: `;
  if (typeof expected === 'string') {
    const re = regexOf(expected);
    if (re) {
      if ((typeof actual === 'string' || typeof actual === 'number') && re.test(String(actual))) return [];
      return [`${where}expected to match ${expected}, saw ${show(actual)}`];
    }
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${where}expected a list, saw ${show(actual)}`];
    if (actual.length !== expected.length) return [`${where}expected ${expected.length} items, saw ${actual.length}: ${show(actual)}`];
    return expected.flatMap((e, i) => mismatches(e, actual[i], `${at}[${i}]`));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return [`${where}expected an object, saw ${show(actual)}`];
    const a = actual as Record<string, unknown>;
    const out: string[] = [];
    for (const [k, e] of Object.entries(expected)) {
      const path = at === '' ? k : `${at}.${k}`;
      if (k === '$keys') {
        const want = (Array.isArray(e) ? e.map(String) : []).sort();
        const have = Object.keys(a).sort();
        if (want.join(',') !== have.join(',')) out.push(`${where}expected exactly the keys [${want.join(', ')}], saw [${have.join(', ')}]`);
        continue;
      }
      if (!Object.hasOwn(a, k)) out.push(`${path}: expected ${show(e)}, missing`);
      else out.push(...mismatches(e, a[k], path));
    }
    return out;
  }
  if (Object.is(expected, actual)) return [];
  return [`${where}expected ${show(expected)}, saw ${show(actual)}`];
}

/** A value as one short line of JSON, personal data masked before it is cut (a cut name or number would escape the mask). */
export function show(v: unknown, max = 200): string {
  const s = v === undefined ? 'nothing' : maskPersonalData(JSON.stringify(v));
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** A compact, YAML-like rendering for report lines: {outcome: printed, number: /^A\d{3}$/}. */
export function brief(v: unknown, max = 120): string {
  const render = (x: unknown): string => {
    if (typeof x === 'string') return /^[\w./^$\\{}()*+?|[\]:-]*$/.test(x) && x !== '' ? x : JSON.stringify(x);
    if (Array.isArray(x)) return `[${x.map(render).join(', ')}]`;
    if (x && typeof x === 'object')
      return `{${Object.entries(x)
        .map(([k, y]) => `${k}: ${render(y)}`)
        .join(', ')}}`;
    return String(x);
  };
  const s = render(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
