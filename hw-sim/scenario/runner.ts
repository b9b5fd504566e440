import { appendFileSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { applyControl, DEVICES_AS_NEW } from '../control/table.js';
import { startBench, stopBench, usesDisk, type Bench } from './bench.js';
import { daemonNote, daemonRunning, markNow, sleep, StepFailed, type ScenarioContext } from './context.js';
import { checkExpectation, judgedAtEnd } from './expect.js';
import type { ScenarioFile } from './parse.js';
import { describeStep, Report, summaryLine } from './report.js';
import type { Action } from './schema.js';
import { applyStep, stopDaemonForRestart } from './apply-step.js';
import { substitute } from './values.js';

export interface RunOptions {
  readonly files: readonly ScenarioFile[];
  /** Where report.txt, mqtt.log, daemon.log and tickets/ go; nothing is written without it. */
  readonly artifacts?: string;
  readonly out: (text: string) => void;
  readonly clock?: Clock;
  /** Ctrl-C: the run stops, the kiosk is stopped, what ran is reported. */
  readonly signal?: AbortSignal;
}

export interface RunResult {
  readonly passed: readonly string[];
  readonly failed: readonly string[];
}

/** How long a kiosk may take to be idle again before the next scenario. */
const READY_MS = 30_000;

/**
 * Runs scenario files in order against the real daemon on a virtual kiosk. Consecutive files
 * with the same face-model switch and `config:` share one kiosk (its devices are reset between
 * them); a different config gets a kiosk of its own.
 */
export async function runScenarios(o: RunOptions): Promise<RunResult> {
  const clock = o.clock ?? systemClock();
  const signal = o.signal ?? new AbortController().signal;
  const report = new Report(o.out);
  const art = o.artifacts ? artifacts(o.artifacts) : null;
  const passed: string[] = [];
  const failed: string[] = [];
  const slugs = new Set<string>();
  report.line(`hw-sim run: ${o.files.length} scenario file${o.files.length === 1 ? '' : 's'}`);
  try {
    for (const group of groups(o.files)) {
      if (signal.aborted) break;
      const { faceid, config } = group[0]!.scenario;
      const chip = needsChip(group[0]!);
      const what = `face models ${faceid ? 'on' : 'off'}${chip ? '; chip reader' : ''}${Object.keys(config).length ? `; config: ${flat(config)}` : ''}`;
      report.line();
      report.line(`starting a virtual kiosk with kioskd (${what})`);
      const t0 = clock.now();
      let bench: Bench;
      try {
        bench = await startBench(faceid, config, clock, art?.mqttLog, { tmpfs: usesDisk(group), chip });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        report.line(`✘ the virtual kiosk did not start: ${message.split('\n')[0]}`);
        for (const l of message.split('\n').slice(1)) report.line(`    ${l}`);
        for (const f of group) {
          report.line(`✘ ${f.path}: not run`);
          failed.push(f.path);
        }
        continue;
      }
      report.line(`  ready in ${((clock.now() - t0) / 1000).toFixed(1)} s (broker ${bench.kiosk.sim.broker.url}, kiosk ${bench.kiosk.base})`);
      try {
        if (art) art.daemon(`kiosk start (${what})`, bench);
        for (const f of group) {
          if (signal.aborted) break;
          const slug = unique(slugs, basename(f.path).replace(/\.ya?ml$/i, ''));
          art?.mqttMark(`scenario ${f.path}`);
          const ok = await runOne(f, bench, report, clock, signal, art ? (from) => art.tickets(slug, bench, from) : null);
          (ok ? passed : failed).push(f.path);
          if (art) art.daemon(`scenario ${f.path}`, bench);
        }
      } finally {
        await stopBench(bench);
        if (art) art.daemon('kiosk stopped', bench);
      }
    }
  } finally {
    report.line();
    if (signal.aborted) report.line('interrupted: the remaining scenarios were not run');
    if (failed.length > 0) report.line(`failed: ${failed.join(', ')}`);
    report.line(summaryLine(passed.length, failed.length + (signal.aborted ? o.files.length - passed.length - failed.length : 0)));
    if (art) {
      writeFileSync(join(art.dir, 'report.txt'), report.text());
      report.line(`artifacts: ${art.dir} (report.txt, mqtt.log, daemon.log, tickets/)`);
    }
  }
  return { passed, failed };
}

async function runOne(
  f: ScenarioFile,
  bench: Bench,
  report: Report,
  clock: Clock,
  signal: AbortSignal,
  keepTickets: ((fromIndex: number) => Promise<void>) | null,
): Promise<boolean> {
  const s = f.scenario;
  const { kiosk: k } = bench;
  report.line();
  report.line(`${f.path}${s.name ? ` — ${s.name}` : ''}`);
  if (s.description) report.line(`  ${s.description.trim().replace(/\s*\n\s*/g, ' ')}`);
  const started = clock.now();
  const { problems: ready, notes } = await prepare(bench, clock, signal);
  for (const n of notes) report.line(`  · ${n}`);
  if (ready === null && bench.lastScanAt !== null) {
    // A card the previous scenario scanned would be dropped as a double scan: let its window pass.
    const left = bench.lastScanAt + bench.duplicateWindowMs + 100 - clock.now();
    if (left > 0) await sleep(clock, left, signal).catch(() => {});
  }
  if (ready !== null) {
    report.step(false, 'the kiosk is ready (idle) before the scenario', clock.now() - started, undefined, ready);
    report.line(`✘ ${f.path} failed (${((clock.now() - started) / 1000).toFixed(1)} s)`);
    return false;
  }
  const ctx: ScenarioContext = {
    kiosk: k,
    mqtt: bench.mqtt,
    clock,
    signal,
    saved: new Map(),
    marks: new Map([['start', markNow(k, bench.mqtt)]]),
    leds: bench.leds,
    lastScanAt: null,
  };
  let ok = true;
  // Counts and absences in a row (nothing done between them) look at the same stretch of time: their limits count from the first.
  let rowFrom: number | null = null;
  for (const [i, step] of s.steps.entries()) {
    const t0 = clock.now();
    rowFrom = step.kind === 'expect' && judgedAtEnd(step.expect) ? (rowFrom ?? t0) : null;
    try {
      const note =
        step.kind === 'expect'
          ? await checkExpectation(step.expect, ctx, rowFrom ?? t0)
          : await applyStep(substitute(step, ctx.saved) as Action, ctx);
      report.step(true, describeStep(step), clock.now() - t0, note);
    } catch (err) {
      ok = false;
      const lines = signal.aborted ? ['interrupted'] : err instanceof StepFailed ? err.lines : [err instanceof Error ? err.message : String(err)];
      const note = err instanceof StepFailed ? null : daemonNote(k);
      report.step(false, describeStep(step), clock.now() - t0, undefined, note ? [...lines, note] : lines);
      const left = s.steps.length - i - 1;
      if (left > 0) report.line(`  · ${left} more step${left === 1 ? '' : 's'} not run`);
      break;
    }
  }
  bench.lastScanAt = ctx.lastScanAt ?? bench.lastScanAt;
  await k.sim.printer.settled();
  await keepTickets?.(ctx.marks.get('start')!.tickets);
  report.line(`${ok ? '✔' : '✘'} ${f.path} ${ok ? 'passed' : 'failed'} (${((clock.now() - started) / 1000).toFixed(1)} s)`);
  return ok;
}

/**
 * Puts the kiosk back as a patient expects it — every device working, every sample's BHYT
 * card valid, kioskd running, no check-in going on — and waits until it is idle. `problems`
 * is null when ready, else why not; `notes` say what had to be done beyond the usual.
 */
async function prepare(bench: Bench, clock: Clock, signal: AbortSignal): Promise<{ problems: string[] | null; notes: string[] }> {
  const { sim } = bench.kiosk;
  const notes: string[] = [];
  try {
    for (const c of DEVICES_AS_NEW) await applyControl(bench.kiosk, c);
    await sim.broker.reopen();
    const ctx: ScenarioContext = {
      kiosk: bench.kiosk,
      mqtt: bench.mqtt,
      clock,
      signal,
      saved: new Map(),
      marks: new Map([['start', markNow(bench.kiosk, bench.mqtt)]]),
      leds: bench.leds,
      lastScanAt: null,
    };
    // Maintenance is the one mode a kiosk never leaves by itself (a file may end in it, or fail
    // before switching it off): a fresh kioskd starts idle.
    if (daemonRunning(bench.kiosk) && lastState(bench)?.mode === 'maintenance') await stopDaemonForRestart(bench.kiosk);
    if (!daemonRunning(bench.kiosk)) await bench.kiosk.restartDaemon();
    // A file that failed mid-check-in leaves a patient's session behind (at the consent
    // question it would wait out the whole consent timeout): end it as an operator would.
    // cancel does nothing while a ticket prints or a result shows, which end by themselves.
    if (daemonRunning(bench.kiosk) && lastState(bench)?.mode === 'in-session') notes.push(await cancelSession(bench, ctx));
    await checkExpectation({ kind: 'state', match: { mode: 'idle' }, within: READY_MS, since: undefined, save: undefined }, ctx);
    return { problems: null, notes };
  } catch (err) {
    return { problems: err instanceof StepFailed ? [...err.lines] : [err instanceof Error ? err.message : String(err)], notes };
  }
}

/** Sends kioskd's cancel command for the session in progress (as an operator would); says what it did for the report. */
async function cancelSession(bench: Bench, ctx: ScenarioContext): Promise<string> {
  const step = lastState(bench)?.step;
  const session = lastState(bench)?.session_id;
  const what = `kioskd was still in a check-in${typeof step === 'string' ? ` (step ${step})` : ''}`;
  // After a broker restart the runner may still be connecting: a command is sent only once it is.
  const end = ctx.clock.now() + 10_000;
  while (!(await bench.mqtt.listening())) {
    if (ctx.clock.now() >= end) return `${what}; cmd/cancel not sent: the runner is not connected to the broker`;
    await sleep(ctx.clock, 20, ctx.signal);
  }
  if (typeof session !== 'string') return `${what}; cmd/cancel not sent: the kiosk's state names no session`;
  // kioskd ends only the check-in a cancel names.
  const sent = bench.mqtt.send(
    bench.kiosk.topics.command('cancel'),
    JSON.stringify({ transaction: `hw-sim-run-prepare-${Date.now()}`, session_id: session }),
  );
  try {
    await sent.taken;
  } catch (err) {
    return `${what}; cmd/cancel not sent: ${err instanceof Error ? err.message : String(err)}`;
  }
  return `${what}: sent cmd/cancel`;
}

/** The last state the kiosk published, if any. */
function lastState(bench: Bench): { mode?: unknown; step?: unknown; session_id?: unknown } | undefined {
  const state = bench.kiosk.topics.retained('state');
  const last = bench.mqtt.seen.findLast((m) => m.topic === state);
  try {
    return last ? (JSON.parse(last.payload) as { mode?: unknown; step?: unknown; session_id?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

/** The file's kiosk has hw-sim's chip reader: it says so (`chip: true`), or a step uses it. */
export function needsChip(f: ScenarioFile): boolean {
  return f.scenario.chip ?? f.scenario.steps.some((s) => s.kind === 'chip');
}

/**
 * Consecutive files that can share a kiosk: same face-model switch, same config, same chip reader. A file that
 * moves kioskd's clock gets a kiosk of its own, so its jumps never reach another file.
 */
function groups(files: readonly ScenarioFile[]): ScenarioFile[][] {
  const out: ScenarioFile[][] = [];
  let key = '';
  for (const f of files) {
    const ownKiosk = f.scenario.steps.some((s) => s.kind === 'advance' || s.kind === 'disk');
    const k = JSON.stringify([f.scenario.faceid, canonical(f.scenario.config), needsChip(f), ownKiosk ? f.path : null]);
    if (out.length === 0 || k !== key) out.push([]);
    out.at(-1)!.push(f);
    key = k;
  }
  return out;
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** {a: {b: 1}, c: 2} → "a.b=1 c=2" */
function flat(v: Record<string, unknown>, prefix = ''): string {
  return Object.entries(v)
    .map(([k, x]) =>
      x && typeof x === 'object' && !Array.isArray(x) ? flat(x as Record<string, unknown>, `${prefix}${k}.`) : `${prefix}${k}=${JSON.stringify(x)}`,
    )
    .join(' ');
}

function unique(taken: Set<string>, slug: string): string {
  let s = slug;
  for (let i = 2; taken.has(s); i++) s = `${slug}-${i}`;
  taken.add(s);
  return s;
}

/** The artifacts folder: report.txt, mqtt.log, daemon.log, tickets/<scenario>/. */
function artifacts(dir: string) {
  mkdirSync(join(dir, 'tickets'), { recursive: true });
  const mqttFile = join(dir, 'mqtt.log');
  const daemonFile = join(dir, 'daemon.log');
  writeFileSync(mqttFile, '# time (UTC) | R retained, - not | topic | payload\n');
  writeFileSync(daemonFile, '');
  return {
    dir,
    mqttLog: (line: string) => appendFileSync(mqttFile, line + '\n'),
    mqttMark: (what: string) => appendFileSync(mqttFile, `# ---- ${new Date().toISOString()} ${what}\n`),
    /** Appends what the daemon said since the last call, under a heading. */
    daemon(what: string, b: Bench): void {
      const out = b.kiosk.output();
      appendFileSync(daemonFile, `===== ${new Date().toISOString()} ${what} =====\n${out.slice(b.logged)}`);
      b.logged = out.length;
    },
    /** Copies what the virtual printer rendered during a scenario (PNG and text). */
    async tickets(slug: string, b: Bench, fromIndex: number): Promise<void> {
      const printed = b.kiosk.sim.printer.tickets.slice(fromIndex);
      const to = join(dir, 'tickets', slug);
      rmSync(to, { recursive: true, force: true });
      if (printed.length === 0) return;
      mkdirSync(to, { recursive: true });
      for (const t of printed) {
        copyFileSync(t.png, join(to, basename(t.png)));
        copyFileSync(t.txt, join(to, basename(t.txt)));
      }
    },
  };
}
