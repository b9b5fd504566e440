import { basename } from 'node:path';
import type { Leds } from '../../src/hal/ports.js';
import type { EventTopics } from '../../src/mqtt/topics.js';
import type { PrintedTicket } from '../devices/printer.js';
import { TOPIC_PREFIX } from '../sim.js';
import { daemonNote, sleep, StepFailed, type Mark, type ScenarioContext } from './context.js';
import type { Recorded } from './mqtt-log.js';
import { maskTicketText } from './privacy.js';
import { audit, calls, fail, pass, pending, privacy, type Verdict } from './expect-records.js';
import type { Expectation } from './schema.js';
import { brief, getPath, mismatches, regexOf, show, substitute } from './values.js';

/**
 * A count or an absence: judged at the end of its window (and failed early when exceeded),
 * where anything else passes as soon as it is seen.
 */
export function judgedAtEnd(e: Expectation): boolean {
  return (
    (e.kind === 'mqtt' && (e.absent === true || e.count !== undefined)) ||
    (e.kind === 'ticket' && (e.none === true || e.count !== undefined)) ||
    e.kind === 'calls'
  );
}

/**
 * Time limits when a file gives none: things that should happen get a few seconds; a count or
 * an absence gets 1 s, so that one written right after the event it follows still gives the
 * kiosk time to do what it must not (a check-in a second after a card read is not "at once").
 */
export function defaultWithin(e: Expectation): number {
  if (judgedAtEnd(e)) return 1000;
  switch (e.kind) {
    case 'state':
    case 'ticket':
    case 'mqtt':
      return 10_000;
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
 * what was seen instead. `startedAt` is when its time limit began counting: now, or for a
 * count in a row of counts and absences, when the first of the row began.
 */
export async function checkExpectation(raw: Expectation, ctx: ScenarioContext, startedAt = ctx.clock.now()): Promise<string | undefined> {
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
  const end = startedAt + limit;
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
  return topic.startsWith(`${TOPIC_PREFIX}/`) ? topic : `${base}/${topic}`;
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

/** Events a check-in sends once each: a later one for the same session cannot follow a wrong one. */
const ONCE_PER_SESSION: ReadonlyArray<keyof EventTopics> = [
  'card.read',
  'checkin.started',
  'checkin.completed',
  'checkin.failed',
  'checkin.reconciled',
];

function mqttChecker(
  e: Extract<Expectation, { kind: 'mqtt' }>,
  ctx: ScenarioContext,
  mark: Mark,
  window: string,
  inTime: string,
): (final: boolean) => Verdict {
  const topic = resolveTopic(e.topic, ctx.kiosk.base);
  // The session this expectation is about, when it names one exactly (not by a regex).
  const expectedSession = e.data?.['session_id'];
  const session =
    typeof expectedSession === 'string' && regexOf(expectedSession) === null && ONCE_PER_SESSION.some((k) => topic === ctx.kiosk.topics.event(k))
      ? expectedSession
      : null;
  const want = e.data !== undefined ? { data: e.data } : e.payload;
  const what = `${topic}${want !== undefined ? ` with ${brief(want)}` : ''}${e.retain !== undefined ? (e.retain ? ' (retained)' : ' (not retained)') : ''}`;
  const differences = (m: Recorded): string[] => [
    ...(want === undefined ? [] : mismatches(want, payloadOf(m))),
    ...(e.retain !== undefined && m.retain !== e.retain ? [`retain: expected ${e.retain}, saw ${m.retain}`] : []),
  ];
  return (final) => {
    const onTopic = ctx.mqtt.seen.slice(mark.mqtt).filter((m) => topicMatches(topic, m.topic));
    const hits = onTopic.filter((m) => differences(m).length === 0);
    const expected = e.absent || e.count !== undefined;
    if (expected) {
      const n = e.absent ? 0 : e.count!;
      const head = `expected ${n === 0 ? 'no message' : `exactly ${n} message${n === 1 ? '' : 's'}`} on ${what} since ${window}${inTime}`;
      if (hits.length > n || (final && hits.length !== n))
        return fail(
          head,
          `saw ${hits.length}${hits.length ? ':' : ''}`,
          ...hits.slice(-5).map((m) => `  ${clock(m)} ${m.topic} ${show(payloadOf(m), 300)}`),
        );
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
      return pending(
        head,
        `saw no message on ${topic} since ${window}${recent.length ? '; the last messages on any topic:' : ' and none on any topic'}`,
        ...recent.map((m) => `  ${clock(m)} ${m.topic} ${show(payloadOf(m), 200)}`),
      );
    }
    const last = onTopic.slice(-5);
    const lines = [
      head,
      `saw ${onTopic.length} on ${topic}, none matching; the last ${last.length}:`,
      ...last.flatMap((m) => [
        `  ${clock(m)} ${show(payloadOf(m), 300)}`,
        ...differences(m)
          .slice(0, 6)
          .map((d) => `      ${d}`),
      ]),
    ];
    // Waiting on would only end in the same failure, later.
    if (session !== null && onTopic.some((m) => getPath(payloadOf(m), 'data.session_id') === session))
      return fail(...lines, `(check-in ${session} sends ${e.topic} once: this was it)`);
    return pending(...lines);
  };
}

function stateChecker(e: Extract<Expectation, { kind: 'state' }>, ctx: ScenarioContext, inTime: string): (final: boolean) => Verdict {
  const topic = ctx.kiosk.topics.retained('state');
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
    return pending(
      head,
      `saw: ${stateLine(payloadOf(last))}`,
      ...mismatches(e.match, payloadOf(last)).map((d) => `  ${d}`),
      ...(before.length ? [`before that: ${before.join(' → ')}`] : []),
    );
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

function ticketChecker(
  e: Extract<Expectation, { kind: 'ticket' }>,
  ctx: ScenarioContext,
  mark: Mark,
  window: string,
  inTime: string,
): (final: boolean) => Verdict {
  const printer = ctx.kiosk.sim.printer;
  const re = e.text === undefined ? null : regexOf(e.text);
  const textOk = (t: PrintedTicket): boolean => e.text === undefined || (re ? re.test(t.text) : t.text.includes(e.text));
  const ok = (t: PrintedTicket): boolean => (e.complete === undefined || t.complete === e.complete) && textOk(t);
  // The ticket carries the patient's name: the report shows its text without it.
  const describe = (t: PrintedTicket): string =>
    `  ${basename(t.png)} ${t.complete ? 'complete' : 'torn off unfinished'}, text: ${show(maskTicketText(t.text.trim()).replace(/\s*\n\s*/g, ' ⏎ '), 400)}`;
  const like = [e.complete === true ? 'complete' : e.complete === false ? 'torn-off' : '', 'ticket'].filter(Boolean).join(' ');
  const withText = e.text !== undefined ? ` with text ${re ? 'matching' : 'containing'} ${e.text}` : '';
  return (final) => {
    const since = printer.tickets.slice(mark.tickets);
    if (e.none || e.count !== undefined) {
      // Only the tickets like the ones described count: {count: 1, complete: true} is one complete ticket, whatever else was torn off.
      const n = e.none ? 0 : e.count!;
      const hits = since.filter(ok);
      const filtered = e.complete !== undefined || e.text !== undefined;
      const head = `expected ${n === 0 ? `no ${like}` : `exactly ${n} ${like}${n === 1 ? '' : 's'}`}${withText} printed since ${window}${inTime}`;
      if (hits.length > n || (final && hits.length !== n)) {
        return fail(
          head,
          `saw ${hits.length}${filtered ? ` like that, of ${since.length} printed` : ''}${since.length ? ':' : ''}`,
          ...since.slice(-5).map((t) => `${describe(t)}${filtered ? (ok(t) ? '  (counted)' : '  (not counted)') : ''}`),
        );
      }
      return final ? pass(filtered ? `${hits.length} of ${since.length} printed` : undefined) : pending(head);
    }
    const hit = since.find(ok);
    if (hit) return pass(`${basename(hit.png)}`);
    const head = `expected a ${like}${withText} printed since ${window}${inTime}`;
    if (since.length === 0) {
      const s = printer.state;
      return pending(
        head,
        `saw no ticket since ${window} (the printer: paper ${s.paper}${s.coverOpen ? ', cover open' : ''}${printer.plugged ? '' : ', switched off'})`,
      );
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
    const changes = ctx.leds.slice(fromIndex);
    const history = changes.slice(-8).map((x) => `${show1(x.leds)} at +${Math.round(x.at - startAt)} ms`);
    return pending(
      `expected the lamps ${Object.entries(e.leds)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}${inTime}`,
      `saw: ${show1(panel.leds())}${panel.connected() ? '' : ' (kioskd is not connected to the panel)'}`,
      `when this step began: ${show1(atStart)}; ${changes.length === 0 ? 'no change since' : `then${changes.length > history.length ? ` (the last ${history.length} of ${changes.length} changes)` : ''}: ${history.join('; ')}`}`,
    );
  };
}

function clock(m: Recorded): string {
  return new Date(m.at).toISOString().slice(11, 23);
}

export function fmtMs(ms: number): string {
  const r = Math.round(ms);
  return r >= 1000 && r % 100 === 0 ? `${r / 1000} s` : `${r} ms`;
}
