import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Leds } from '../../src/hal/ports.js';
import type { PrintedTicket } from '../devices/printer.js';
import { daemonNote, sleep, StepFailed, type Mark, type ScenarioContext } from './context.js';
import type { Recorded } from './mqtt-log.js';
import { around, findPersonalData } from './privacy.js';
import type { Expectation } from './schema.js';
import { brief, getPath, mismatches, regexOf, show, substitute } from './values.js';

/** Until the limit: pass, fail for good, or not yet (with what is wrong so far). */
type Verdict = { readonly kind: 'pass'; readonly note?: string } | { readonly kind: 'fail' | 'pending'; readonly lines: readonly string[] };
const pass = (note?: string): Verdict => ({ kind: 'pass', ...(note ? { note } : {}) });
const pending = (...lines: string[]): Verdict => ({ kind: 'pending', lines });
const fail = (...lines: string[]): Verdict => ({ kind: 'fail', lines });

/** Time limits when a file gives none: things that should happen get a few seconds; counts and absences are checked at once. */
export function defaultWithin(e: Expectation): number {
  switch (e.kind) {
    case 'state':
    case 'ticket':
      return e.kind === 'ticket' && (e.none || e.count !== undefined) ? 0 : 10_000;
    case 'mqtt':
      return e.absent || e.count !== undefined ? 0 : 10_000;
    case 'leds':
      return 5000;
    case 'audit':
      return 2000;
    case 'calls':
    case 'no_personal_data':
      return 0;
  }
}

/**
 * Waits until the expectation holds (or, for counts and absences, until its window ends)
 * and resolves with a note for the report; throws StepFailed saying what was expected and
 * what was seen instead.
 */
export async function checkExpectation(raw: Expectation, ctx: ScenarioContext): Promise<string | undefined> {
  let e: Expectation;
  try {
    e = substitute(raw, ctx.saved) as Expectation;
  } catch (err) {
    throw new StepFailed([err instanceof Error ? err.message : String(err)]);
  }
  const sinceName = e.since ?? 'start';
  const mark = ctx.marks.get(sinceName);
  if (!mark) throw new StepFailed([`no mark "${sinceName}" was passed`]);
  const limit = e.within ?? defaultWithin(e);
  const check = checker(e, ctx, mark, sinceName === 'start' ? 'the scenario began' : `mark ${sinceName}`);
  const end = ctx.clock.now() + limit;
  for (;;) {
    const final = ctx.clock.now() >= end;
    // A ticket cut is rendered (picture, OCR) a second or two later: count what was cut by now.
    if (final && e.kind === 'ticket') await ctx.kiosk.sim.printer.settled();
    const v = check(final);
    if (v.kind === 'pass') return v.note;
    if (v.kind === 'fail' || final) {
      const note = daemonNote(ctx.kiosk);
      throw new StepFailed([...v.lines, ...(note ? [note] : [])]);
    }
    await sleep(ctx.clock, 20, ctx.signal);
  }
}

/** `check(final)`: final is true at the end of the window. */
function checker(e: Expectation, ctx: ScenarioContext, mark: Mark, window: string): (final: boolean) => Verdict {
  const limit = e.within ?? defaultWithin(e);
  const inTime = limit > 0 ? ` within ${fmtMs(limit)}` : '';
  switch (e.kind) {
    case 'mqtt':
      return mqttChecker(e, ctx, mark, window, inTime);
    case 'state':
      return stateChecker(e, ctx, inTime);
    case 'ticket':
      return ticketChecker(e, ctx, mark, window, inTime);
    case 'leds':
      return ledsChecker(e, ctx, inTime);
    case 'audit':
      return () => audit(e, ctx);
    case 'calls':
      return (final) => calls(e.counts, ctx, mark, window, final);
    case 'no_personal_data':
      return () => privacy(e.where, ctx, mark, window);
  }
}

export function resolveTopic(topic: string, base: string): string {
  return topic.startsWith('kiosk/') ? topic : `${base}/${topic}`;
}

/** MQTT filter matching: + is one level, # the rest. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

function payloadOf(m: Recorded): unknown {
  try {
    return JSON.parse(m.payload) as unknown;
  } catch {
    return m.payload;
  }
}

function mqttChecker(e: Extract<Expectation, { kind: 'mqtt' }>, ctx: ScenarioContext, mark: Mark, window: string, inTime: string): (final: boolean) => Verdict {
  const topic = resolveTopic(e.topic, ctx.kiosk.base);
  const want = e.data !== undefined ? { data: e.data } : e.payload;
  const what = `${topic}${want !== undefined ? ` with ${brief(want)}` : ''}${e.retain !== undefined ? (e.retain ? ' (retained)' : ' (not retained)') : ''}`;
  const differences = (m: Recorded): string[] => [...(want === undefined ? [] : mismatches(want, payloadOf(m))), ...(e.retain !== undefined && m.retain !== e.retain ? [`retain: expected ${e.retain}, saw ${m.retain}`] : [])];
  return (final) => {
    const onTopic = ctx.mqtt.seen.slice(mark.mqtt).filter((m) => topicMatches(topic, m.topic));
    const hits = onTopic.filter((m) => differences(m).length === 0);
    const expected = e.absent || e.count !== undefined;
    if (expected) {
      const n = e.absent ? 0 : e.count!;
      const head = `expected ${n === 0 ? 'no message' : `exactly ${n} message${n === 1 ? '' : 's'}`} on ${what} since ${window}${inTime}`;
      if (hits.length > n || (final && hits.length !== n)) return fail(head, `saw ${hits.length}${hits.length ? ':' : ''}`, ...hits.slice(-5).map((m) => `  ${clock(m)} ${m.topic} ${show(payloadOf(m), 300)}`));
      return final ? pass() : pending(head);
    }
    const hit = hits[0];
    if (hit) {
      const notes: string[] = [];
      for (const [name, path] of Object.entries(e.save ?? {})) {
        const v = getPath(payloadOf(hit), path);
        if (v === undefined) return fail(`expected ${path} in the message on ${hit.topic} to save as ${name}`, `saw: ${show(payloadOf(hit), 400)}`);
        ctx.saved.set(name, v);
        notes.push(`${name}=${show(v)}`);
      }
      return pass(notes.join(', ') || undefined);
    }
    const head = `expected a message on ${what} since ${window}${inTime}`;
    if (onTopic.length === 0) {
      const recent = ctx.mqtt.seen.slice(mark.mqtt).slice(-5);
      return pending(head, `saw no message on ${topic} since ${window}${recent.length ? '; the last messages on any topic:' : ' and none on any topic'}`, ...recent.map((m) => `  ${clock(m)} ${m.topic} ${show(payloadOf(m), 200)}`));
    }
    const last = onTopic.slice(-5);
    return pending(head, `saw ${onTopic.length} on ${topic}, none matching; the last ${last.length}:`, ...last.flatMap((m) => [`  ${clock(m)} ${show(payloadOf(m), 300)}`, ...differences(m).slice(0, 6).map((d) => `      ${d}`)]));
  };
}

function stateChecker(e: Extract<Expectation, { kind: 'state' }>, ctx: ScenarioContext, inTime: string): (final: boolean) => Verdict {
  const topic = `${ctx.kiosk.base}/state`;
  // The kiosk's current state is its last published one: it, or any later one, counts.
  const lastIndex = ctx.mqtt.seen.findLastIndex((m) => m.topic === topic);
  const from = Math.max(0, lastIndex);
  return () => {
    const states = ctx.mqtt.seen.slice(from).filter((m) => m.topic === topic);
    for (const m of states) {
      if (mismatches(e.match, payloadOf(m)).length > 0) continue;
      const notes: string[] = [];
      for (const [name, path] of Object.entries(e.save ?? {})) {
        const v = getPath(payloadOf(m), path);
        if (v === undefined) return fail(`expected ${path} in the state to save as ${name}`, `saw: ${show(payloadOf(m), 400)}`);
        ctx.saved.set(name, v);
        notes.push(`${name}=${show(v)}`);
      }
      return pass(notes.join(', ') || undefined);
    }
    const head = `expected the kiosk's state to match ${brief(e.match)}${inTime}`;
    const last = states.at(-1) ?? ctx.mqtt.seen.findLast((m) => m.topic === topic);
    if (!last) return pending(head, `saw no state on ${topic}`);
    const before = ctx.mqtt.seen
      .filter((m) => m.topic === topic)
      .slice(-6, -1)
      .map((m) => stateLine(payloadOf(m)));
    return pending(head, `saw: ${stateLine(payloadOf(last))}`, ...mismatches(e.match, payloadOf(last)).map((d) => `  ${d}`), ...(before.length ? [`before that: ${before.join(' → ')}`] : []));
  };
}

function stateLine(s: unknown): string {
  if (!s || typeof s !== 'object') return show(s);
  const st = s as { mode?: unknown; step?: unknown; ports?: Record<string, { kind?: string; reason?: string }> };
  const ports = Object.entries(st.ports ?? {})
    .map(([k, p]) => `${k}=${p.kind ?? '?'}${p.reason ? ` (${p.reason})` : ''}`)
    .join(' ');
  return `mode=${String(st.mode)}${st.step ? ` step=${String(st.step)}` : ''}${ports ? ` ports: ${ports}` : ''}`;
}

function ticketChecker(e: Extract<Expectation, { kind: 'ticket' }>, ctx: ScenarioContext, mark: Mark, window: string, inTime: string): (final: boolean) => Verdict {
  const printer = ctx.kiosk.sim.printer;
  const re = e.text === undefined ? null : regexOf(e.text);
  const textOk = (t: PrintedTicket): boolean => e.text === undefined || (re ? re.test(t.text) : t.text.includes(e.text));
  const ok = (t: PrintedTicket): boolean => (e.complete === undefined || t.complete === e.complete) && textOk(t);
  const describe = (t: PrintedTicket): string => `  ${basename(t.png)} ${t.complete ? 'complete' : 'torn off unfinished'}, text: ${show(t.text.trim().replace(/\s*\n\s*/g, ' ⏎ '), 400)}`;
  return (final) => {
    const since = printer.tickets.slice(mark.tickets);
    if (e.none || e.count !== undefined) {
      const n = e.none ? 0 : e.count!;
      const head = `expected ${n === 0 ? 'no ticket' : `exactly ${n} ticket${n === 1 ? '' : 's'}`} printed since ${window}${inTime}`;
      if (since.length > n || (final && since.length !== n)) return fail(head, `saw ${since.length}${since.length ? ':' : ''}`, ...since.slice(-5).map(describe));
      return final ? pass() : pending(head);
    }
    const hit = since.find(ok);
    if (hit) return pass(`${basename(hit.png)}`);
    const want = [e.complete === true ? 'complete' : e.complete === false ? 'torn-off' : '', 'ticket', e.text !== undefined ? `with text ${re ? 'matching' : 'containing'} ${e.text}` : ''].filter(Boolean).join(' ');
    const head = `expected a ${want} printed since ${window}${inTime}`;
    if (since.length === 0) {
      const s = printer.state;
      return pending(head, `saw no ticket since ${window} (the printer: paper ${s.paper}${s.coverOpen ? ', cover open' : ''}${printer.plugged ? '' : ', switched off'})`);
    }
    return pending(head, `saw ${since.length} ticket${since.length === 1 ? '' : 's'}, none like that:`, ...since.slice(-3).map(describe));
  };
}

function ledsChecker(e: Extract<Expectation, { kind: 'leds' }>, ctx: ScenarioContext, inTime: string): (final: boolean) => Verdict {
  const panel = ctx.kiosk.sim.panel;
  const startAt = ctx.clock.now();
  const atStart = panel.leds();
  const fromIndex = ctx.leds.length;
  const show1 = (l: Leds): string => `ready=${l.ready} busy=${l.busy} error=${l.error}`;
  return () => {
    // The lamps as they were when the expectation began, and every change since: a short blink pattern is not missed between polls.
    const seen = [atStart, ...ctx.leds.slice(fromIndex).map((x) => x.leds)];
    if (seen.some((l) => mismatches(e.leds, l).length === 0)) return pass();
    const history = ctx.leds.slice(-5).map((x) => `${show1(x.leds)} at ${fmtMs(x.at - startAt)}`);
    return pending(
      `expected the lamps ${Object.entries(e.leds)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}${inTime}`,
      `saw: ${show1(panel.leds())}${panel.connected() ? '' : ' (kioskd is not connected to the panel)'}`,
      ...(history.length ? [`changes (relative to the start of this expectation): ${history.join('; ')}`] : []),
    );
  };
}

interface AuditRow {
  readonly id: string;
  readonly day: string | null;
  readonly number: string | null;
  readonly ticket_state: string | null;
}

function audit(e: Extract<Expectation, { kind: 'audit' }>, ctx: ScenarioContext): Verdict {
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
  if (e.no_personal_data) {
    const text = JSON.stringify(all);
    for (const leak of findPersonalData(text)) problems.push(`${leak.what} ${show(leak.found)} in the audit: ${around(text, leak.index)}`);
  }
  for (const [id, state] of Object.entries(e.ticket_state ?? {})) {
    const row = rows.find((r) => r.id === id);
    if (row?.ticket_state !== state) problems.push(`check-in ${id}: expected ticket_state ${state}, saw ${row ? show(row.ticket_state) : 'no such check-in'}`);
  }
  if (problems.length === 0) return pass(`${rows.length} check-ins, ${rows.filter((r) => r.number !== null).length} numbers`);
  const wanted = [e.unique_numbers && 'every number unique', e.no_personal_data && 'no personal data', e.ticket_state && `ticket states ${brief(e.ticket_state)}`].filter(Boolean).join(', ');
  return pending(`expected the check-in audit (${file}) to have ${wanted}`, ...problems.slice(0, 10).map((p) => `saw: ${p}`));
}

function calls(counts: { readonly camera?: number | undefined; readonly portrait?: number | undefined; readonly bhyt?: number | undefined }, ctx: ScenarioContext, mark: Mark, window: string, final: boolean): Verdict {
  const { sim } = ctx.kiosk;
  const now = { camera: sim.camera.calls().length - mark.camera, portrait: sim.identity.stats().requests - mark.portrait, bhyt: sim.gateway.stats().lookups - mark.bhyt };
  const name = { camera: 'camera captures', portrait: 'portrait requests', bhyt: 'BHYT lookups' };
  const over = Object.entries(counts).filter(([k, n]) => now[k as keyof typeof now] > n!);
  const off = Object.entries(counts).filter(([k, n]) => now[k as keyof typeof now] !== n);
  const head = `expected ${Object.entries(counts)
    .map(([k, n]) => `${n} ${name[k as keyof typeof name]}`)
    .join(', ')} since ${window}`;
  const saw = `saw ${off.map(([k]) => `${now[k as keyof typeof now]} ${name[k as keyof typeof name]}`).join(', ')}`;
  if (over.length > 0 || (final && off.length > 0)) return fail(head, saw);
  return final ? pass() : pending(head, saw);
}

function privacy(where: readonly ('mqtt' | 'log')[], ctx: ScenarioContext, mark: Mark, window: string): Verdict {
  const problems: string[] = [];
  if (where.includes('mqtt')) {
    for (const m of ctx.mqtt.seen.slice(mark.mqtt)) {
      for (const leak of findPersonalData(`${m.topic} ${m.payload}`)) problems.push(`${leak.what} ${show(leak.found)} on ${m.topic} at ${clock(m)}: ${around(`${m.topic} ${m.payload}`, leak.index)}`);
    }
  }
  if (where.includes('log')) {
    const log = ctx.kiosk.output().slice(mark.log);
    for (const leak of findPersonalData(log)) problems.push(`${leak.what} ${show(leak.found)} in the daemon's log: ${around(log, leak.index)}`);
  }
  if (problems.length === 0) return pass(`${where.includes('mqtt') ? `${ctx.mqtt.seen.length - mark.mqtt} messages` : ''}${where.length === 2 ? ' and ' : ''}${where.includes('log') ? 'the daemon log' : ''} checked`);
  return fail(`expected no personal data (names, ID numbers, dates of birth, addresses) in ${where.map((w) => (w === 'mqtt' ? 'MQTT' : "the daemon's log")).join(' or ')} since ${window}`, ...problems.slice(0, 10).map((p) => `saw: ${p}`));
}

function clock(m: Recorded): string {
  return new Date(m.at).toISOString().slice(11, 23);
}

export function fmtMs(ms: number): string {
  return ms >= 1000 && ms % 100 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
