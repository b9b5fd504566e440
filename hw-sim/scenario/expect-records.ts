/**
 * Expectations judged on records rather than on the MQTT stream: the check-in audit database,
 * how often the devices were called, and personal data in MQTT and the daemon's log.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Mark, ScenarioContext } from './context.js';
import { leaksInLog, leaksInMessages, leaksInRows, type Finding } from './privacy.js';
import type { Expectation } from './schema.js';
import { brief, show } from './values.js';

/** Until the limit: pass, fail for good, or not yet (with what is wrong so far). */
export type Verdict = { readonly kind: 'pass'; readonly note?: string } | { readonly kind: 'fail' | 'pending'; readonly lines: readonly string[] };
export const pass = (note?: string): Verdict => ({ kind: 'pass', ...(note ? { note } : {}) });
export const pending = (...lines: string[]): Verdict => ({ kind: 'pending', lines });
export const fail = (...lines: string[]): Verdict => ({ kind: 'fail', lines });

/** What leaked and where, never the value: the report must not repeat the leak. */
const finding = (f: Finding): string => `${f.what} ${f.where}`;

interface AuditRow {
  readonly id: string;
  readonly day: string | null;
  readonly number: string | null;
  readonly ticket_state: string | null;
}

export function audit(e: Extract<Expectation, { kind: 'audit' }>, ctx: ScenarioContext): Verdict {
  const file = join(ctx.kiosk.sim.dir, 'state', 'kioskd.db');
  if (!existsSync(file)) return pending(`expected the check-in audit database at ${file}`, 'saw: no such file');
  let rows: AuditRow[];
  let all: unknown[];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    rows = db.prepare('SELECT id, day, number, ticket_state FROM checkins').all() as AuditRow[];
    all = db.prepare('SELECT * FROM checkins').all();
  } finally {
    db.close();
  }
  const problems: string[] = [];
  if (e.unique_numbers) {
    const seen = new Map<string, string>();
    for (const r of rows) {
      if (r.number === null) continue;
      const key = `${r.day} ${r.number}`;
      if (seen.has(key)) problems.push(`number ${r.number} was given twice on ${r.day} (check-ins ${seen.get(key)} and ${r.id})`);
      seen.set(key, r.id);
    }
  }
  if (e.no_personal_data) problems.push(...leaksInRows(all as Array<Record<string, unknown>>, 'the checkins table').map(finding));
  for (const [id, state] of Object.entries(e.ticket_state ?? {})) {
    const row = rows.find((r) => r.id === id);
    if (state === 'absent') {
      if (row)
        problems.push(`check-in ${id}: expected no record of it (deleted after the retention period), saw ticket_state ${show(row.ticket_state)}`);
    } else if (row?.ticket_state !== state)
      problems.push(`check-in ${id}: expected ticket_state ${state}, saw ${row ? show(row.ticket_state) : 'no such check-in'}`);
  }
  if (problems.length === 0) return pass(`${rows.length} check-ins, ${rows.filter((r) => r.number !== null).length} numbers`);
  const wanted = [
    e.unique_numbers && 'every number unique',
    e.no_personal_data && 'no personal data',
    e.ticket_state && `ticket states ${brief(e.ticket_state)}`,
  ]
    .filter(Boolean)
    .join(', ');
  return pending(`expected the check-in audit (${file}) to have ${wanted}`, ...problems.slice(0, 10).map((p) => `saw: ${p}`));
}

export function calls(
  counts: { readonly camera?: number | undefined; readonly portrait?: number | undefined; readonly bhyt?: number | undefined },
  ctx: ScenarioContext,
  mark: Mark,
  window: string,
  final: boolean,
): Verdict {
  const { sim } = ctx.kiosk;
  const now = {
    camera: sim.camera.calls().length + sim.camera.streamCalls().length - mark.camera,
    portrait: sim.identity.stats().requests - mark.portrait,
    bhyt: sim.gateway.stats().lookups - mark.bhyt,
  };
  const name = { camera: 'camera starts (stills and streams)', portrait: 'portrait requests', bhyt: 'BHYT lookups' };
  const over = Object.entries(counts).filter(([k, n]) => now[k as keyof typeof now] > n!);
  const off = Object.entries(counts).filter(([k, n]) => now[k as keyof typeof now] !== n);
  const head = `expected ${Object.entries(counts)
    .map(([k, n]) => `${n} ${name[k as keyof typeof name]}`)
    .join(', ')} since ${window}`;
  const saw = `saw ${off.map(([k]) => `${now[k as keyof typeof now]} ${name[k as keyof typeof name]}`).join(', ')}`;
  if (over.length > 0 || (final && off.length > 0)) return fail(head, saw);
  return final ? pass() : pending(head, saw);
}

export function privacy(where: readonly ('mqtt' | 'log')[], ctx: ScenarioContext, mark: Mark, window: string): Verdict {
  const problems: string[] = [];
  if (where.includes('mqtt')) problems.push(...leaksInMessages(ctx.mqtt.seen.slice(mark.mqtt), window).map(finding));
  if (where.includes('log')) problems.push(...leaksInLog(ctx.kiosk.output().slice(mark.log), window).map(finding));
  if (problems.length === 0)
    return pass(
      `${where.includes('mqtt') ? `${ctx.mqtt.seen.length - mark.mqtt} messages` : ''}${where.length === 2 ? ' and ' : ''}${where.includes('log') ? 'the daemon log' : ''} checked`,
    );
  return fail(
    `expected no personal data (names, ID numbers, dates of birth, addresses) in ${where.map((w) => (w === 'mqtt' ? 'MQTT' : "the daemon's log")).join(' or ')} since ${window}`,
    ...problems.slice(0, 10).map((p) => `saw: ${p}`),
    ...(problems.length > 10 ? [`and ${problems.length - 10} more`] : []),
  );
}
