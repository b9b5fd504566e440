import { readFile } from 'node:fs/promises';
import YAML, { isMap, isScalar, LineCounter, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { configSchema } from '../../src/config/schema.js';
import { REF } from './values.js';
import { ScenarioSchema, SINCE_KINDS, type Scenario } from './schema.js';

const MAX_ALIAS_COUNT = 100;

export interface ScenarioFile {
  /** As given on the command line. */
  readonly path: string;
  readonly scenario: Scenario;
}

/** One problem in a file, placed on its YAML line: `file:line:col: field: message`. */
export interface FileError {
  readonly path: string;
  readonly line: number;
  readonly col: number;
  readonly field: string;
  readonly message: string;
}

export function formatError(e: FileError): string {
  return `${e.path}:${e.line > 0 ? `${e.line}:${e.col}:` : ''} ${e.field ? `${e.field}: ` : ''}${e.message}`;
}

export async function loadScenarioFile(path: string): Promise<{ ok: true; file: ScenarioFile } | { ok: false; errors: FileError[] }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return {
      ok: false,
      errors: [{ path, line: 0, col: 0, field: '', message: `cannot read the file: ${err instanceof Error ? err.message : String(err)}` }],
    };
  }
  return parseScenario(path, text);
}

/** Checks a scenario's text against the schema; every problem is reported, each with its line. */
export function parseScenario(path: string, text: string): { ok: true; file: ScenarioFile } | { ok: false; errors: FileError[] } {
  const lines = new LineCounter();
  const docs = YAML.parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  const at = (offset: number): { line: number; col: number } => lines.linePos(offset);
  if (!Array.isArray(docs))
    return { ok: false, errors: [{ path, line: 1, col: 1, field: '', message: 'the file is empty; a scenario has at least steps:' }] };
  if (docs.length > 1)
    return {
      ok: false,
      errors: [{ path, ...at(docs[1]!.range[0]), field: '', message: 'one scenario per file: remove the second YAML document ("---")' }],
    };
  const doc = docs[0];
  if (!doc || doc.contents === null)
    return { ok: false, errors: [{ path, line: 1, col: 1, field: '', message: 'the file is empty; a scenario has at least steps:' }] };
  if (doc.errors.length > 0) {
    // After the first syntax error the parser mostly reports its consequences: show that one.
    const e = doc.errors[0]!;
    const more = doc.errors.length - 1;
    return {
      ok: false,
      errors: [
        {
          path,
          ...at(e.pos[0]),
          field: '',
          message: `not valid YAML: ${e.message.split('\n')[0]}${more ? ` (and ${more} more problem${more === 1 ? '' : 's'} after it)` : ''}`,
        },
      ],
    };
  }
  let raw: unknown;
  try {
    // At most 100 alias expansions (the yaml package's default, stated): a "billion laughs"
    // file of nested aliases is an invalid file (65), not a crash.
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      errors: [
        {
          path,
          line: 1,
          col: 1,
          field: '',
          message: /resource exhaustion/.test(message)
            ? `too many YAML aliases (*name): expanding them would exceed ${MAX_ALIAS_COUNT} copies`
            : `not valid YAML: ${message}`,
        },
      ],
    };
  }
  const r = ScenarioSchema.safeParse(raw);
  const errors: FileError[] = [];
  if (!r.success) {
    for (const issue of r.error.issues) errors.push(placeIssue(path, doc, at, issue));
  }
  // The daemon would refuse a bad `config:` (exit 78) only after the kiosk started: check it here.
  const config = (raw as { config?: unknown } | null)?.config;
  if (config && typeof config === 'object' && !Array.isArray(config)) {
    const c = configSchema.safeParse(config);
    // The daemon sees this merged over hw-sim's generated config: only a key or a value the
    // file itself gets wrong is certain here (a missing field or a cross-field rule may be met by the generated part).
    const certain = (i: z.core.$ZodIssue): boolean =>
      i.code === 'unrecognized_keys' ||
      (['invalid_type', 'invalid_value', 'invalid_format', 'too_small', 'too_big', 'not_multiple_of'].includes(i.code) &&
        valueAt(config, i.path) !== undefined);
    if (!c.success)
      for (const issue of c.error.issues)
        if (certain(issue)) errors.push(placeIssue(path, doc, at, { ...issue, path: ['config', ...issue.path] }, "the daemon's config: "));
  }
  const steps = (raw as { steps?: unknown } | null)?.steps;
  if (Array.isArray(steps))
    for (const p of checkNames(steps)) errors.push({ path, ...at(locate(doc, p.path)), field: fieldName(p.path), message: p.message });
  if (errors.length > 0) return { ok: false, errors: errors.sort((a, b) => a.line - b.line || a.col - b.col) };
  return { ok: true, file: { path, scenario: r.data! } };
}

function placeIssue(path: string, doc: Document, at: (o: number) => { line: number; col: number }, issue: z.core.$ZodIssue, prefix = ''): FileError {
  const p = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
  // An unknown key is placed on the key itself, not on the mapping that holds it.
  const unknownKey =
    issue.code === 'unrecognized_keys'
      ? { parent: p, keys: issue.keys }
      : issue.code === 'custom' && issue.params?.['unknownKey']
        ? { parent: p.slice(0, -1), keys: [String(p.at(-1))] }
        : null;
  if (unknownKey) {
    const key = unknownKey.keys[0]!;
    const node = doc.getIn(unknownKey.parent, true);
    const pair = isMap(node) ? node.items.find((i) => isScalar(i.key) && i.key.value === key) : undefined;
    const keyNode = pair?.key as Node | undefined;
    const offset = keyNode?.range?.[0] ?? locate(doc, unknownKey.parent);
    const message =
      issue.code === 'custom'
        ? issue.message
        : unknownKey.keys.length === 1
          ? `unknown key "${key}"`
          : `unknown keys ${unknownKey.keys.map((k) => `"${k}"`).join(', ')}`;
    return { path, ...at(offset), field: fieldName([...unknownKey.parent, key]), message: prefix + message };
  }
  const value = doc.getIn(p, false);
  const seen = value === undefined || typeof value === 'object' ? '' : ` (got ${JSON.stringify(value)})`;
  return { path, ...at(locate(doc, p)), field: fieldName(p), message: prefix + issue.message + seen };
}

/** The start of the deepest node on `path` that exists in the document. */
function locate(doc: Document, path: readonly (string | number)[]): number {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
    if (node && typeof node === 'object' && 'range' in node && node.range) return node.range[0];
  }
  return 0;
}

function fieldName(path: readonly (string | number)[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
}

/**
 * `${name}` must refer to a value saved by an earlier step, and `since:` to an earlier mark:
 * a misspelt name is a file error, not a failure found half-way through a run.
 */
function checkNames(steps: readonly unknown[]): Array<{ path: (string | number)[]; message: string }> {
  const saved = new Set<string>();
  const marks = new Set<string>(['start']);
  const problems: Array<{ path: (string | number)[]; message: string }> = [];
  steps.forEach((item, i) => {
    for (const ref of refsIn(item, ['steps', i])) {
      if (!saved.has(ref.name))
        problems.push({
          path: ref.path,
          message: `\${${ref.name}} is not saved by an earlier step (${saved.size ? `saved so far: ${[...saved].join(', ')}` : 'nothing is saved before this step'}); save it with save: {${ref.name}: data.…}`,
        });
    }
    if (typeof item !== 'object' || item === null) return;
    const o = item as Record<string, Record<string, unknown> | string>;
    const body = (o['expect'] ?? o['command']) as Record<string, unknown> | string | null | undefined;
    if (!body || typeof body !== 'object') {
      if (typeof o['mark'] === 'string') marks.add(o['mark']);
      return;
    }
    // since: on a kind without a window is reported by the schema; one problem per mistake.
    const windowed = SINCE_KINDS.some((k) => k in body);
    const since = o['expect'] !== undefined && windowed ? body['since'] : undefined;
    if (typeof since === 'string' && !marks.has(since))
      problems.push({
        path: ['steps', i, 'expect', 'since'],
        message: `no mark "${since}" before this step (marks so far: ${[...marks].join(', ')}); add "- mark: ${since}" where its window starts`,
      });
    if (body['save'] && typeof body['save'] === 'object') for (const k of Object.keys(body['save'])) saved.add(k);
  });
  return problems;
}

function refsIn(v: unknown, path: (string | number)[]): Array<{ name: string; path: (string | number)[] }> {
  if (typeof v === 'string') return [...v.matchAll(REF)].map((m) => ({ name: m[1]!, path }));
  if (Array.isArray(v)) return v.flatMap((x, i) => refsIn(x, [...path, i]));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => [...refsIn(k, [...path, k]), ...refsIn(x, [...path, k])]);
  return [];
}

function valueAt(v: unknown, path: readonly PropertyKey[]): unknown {
  let cur = v;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}
