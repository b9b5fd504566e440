import { rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyControl } from '../control/table.js';
import { formatDuration } from '../duration.js';
import type { KioskSim } from '../kiosk.js';
import { daemonNote, daemonRunning, markNow, sleep, StepFailed, type ScenarioContext } from './context.js';
import type { Action } from './schema.js';
import { brief, getPath, mismatches, show } from './values.js';

/** Does one step on the devices, the broker or the daemon; resolves with a note for the report, if any. */
export async function applyStep(step: Action, ctx: ScenarioContext): Promise<string | undefined> {
  const { kiosk: k } = ctx;
  const { sim } = k;
  if ('calls' in step) {
    if (step.kind === 'scan') ctx.lastScanAt = ctx.clock.now();
    for (const c of step.calls) {
      if (c.action === 'panel.press' && !sim.panel.connected())
        throw new StepFailed([
          `expected kioskd to be connected to the button panel`,
          `saw: no connection${daemonNote(k) ? ` (${daemonNote(k)})` : ''}`,
        ]);
      await applyControl(k, c);
    }
    return undefined;
  }
  switch (step.kind) {
    case 'broker':
      if (step.action === 'stop') await sim.broker.close();
      else await startBroker(ctx);
      return undefined;
    case 'command':
      return command(step, ctx);
    case 'wait':
      await sleep(ctx.clock, step.ms, ctx.signal);
      return undefined;
    case 'disk':
      return disk(step, ctx);
    case 'advance': {
      if (!daemonRunning(k)) throw new StepFailed(['expected a running kioskd whose clock to move', `saw: ${daemonNote(k)}`]);
      const r = await k.advanceClock('toLocal' in step ? { toLocal: step.toLocal } : { ms: step.ms }).catch((err: unknown) => {
        throw new StepFailed(['expected kioskd to move its clock', `saw: ${err instanceof Error ? err.message : String(err)}`]);
      });
      return `kioskd's clock now reads ${r.wallClock} (${formatDuration(r.offsetMs)} ahead)`;
    }
    case 'kill_daemon': {
      if (!daemonRunning(k)) throw new StepFailed(['expected a running kioskd to kill', `saw: ${daemonNote(k)}`]);
      const exited = new Promise<void>((r) => k.daemon.once('exit', () => r()));
      k.daemon.kill(step.signal);
      if (!(await within(ctx, exited, 20_000))) throw new StepFailed([`expected kioskd to exit on ${step.signal} within 20 s`, 'saw: it still runs']);
      return k.daemon.signalCode ? `killed by ${k.daemon.signalCode}` : `exited with code ${k.daemon.exitCode}`;
    }
    case 'restart_daemon':
      await stopDaemonForRestart(k);
      try {
        await k.restartDaemon(step.clockBackMs === undefined ? {} : { clockBackMs: step.clockBackMs });
      } catch (err) {
        throw new StepFailed(['expected kioskd to start again', `saw: ${err instanceof Error ? err.message : String(err)}`]);
      }
      return `pid ${k.daemon.pid}${step.clockBackMs === undefined ? '' : `, its clock ${formatDuration(step.clockBackMs)} earlier`}`;
    case 'mark':
      await sim.printer.settled();
      ctx.marks.set(step.label, markNow(k, ctx.mqtt));
      return undefined;
  }
}

/**
 * Starts the broker again with the runner's recorder subscribed before kioskd is back. kioskd
 * sends the events it kept while offline the moment it reconnects, and a fresh broker keeps no
 * sessions: a recorder that came second would miss them. kioskd is paused (SIGSTOP) for the
 * fraction of a second this takes, so its reconnect timer cannot win the race.
 */
async function startBroker(ctx: ScenarioContext): Promise<void> {
  const k = ctx.kiosk;
  const pid = daemonRunning(k) ? k.daemon.pid : undefined;
  const signal = (s: NodeJS.Signals): void => {
    try {
      if (pid !== undefined) process.kill(pid, s);
    } catch {
      // it exited meanwhile: nothing to pause or resume
    }
  };
  // Whatever ends this (a failure, Ctrl-C, an exception, the runner exiting), kioskd must not stay stopped.
  const resume = (): void => signal('SIGCONT');
  process.once('exit', resume);
  signal('SIGSTOP');
  try {
    await k.sim.broker.reopen();
    const end = ctx.clock.now() + 10_000;
    while (!(await ctx.mqtt.listening())) {
      if (ctx.clock.now() >= end) throw new StepFailed(['expected the runner to be subscribed to the broker again within 10 s', 'saw: it is not']);
      await sleep(ctx.clock, 10, ctx.signal);
    }
  } finally {
    process.off('exit', resume);
    resume();
  }
}

/** Stops a running daemon politely (SIGKILL after 20 s), so a new one can start. */
export async function stopDaemonForRestart(k: KioskSim): Promise<void> {
  await k.stopDaemon(20_000);
}

/** Sends a command to the daemon as central monitoring would and waits for its answer. */
async function command(step: Extract<Action, { kind: 'command' }>, ctx: ScenarioContext): Promise<string> {
  const k = ctx.kiosk;
  const transaction = `hw-sim-run-${Date.now()}-${Math.random().toString(16).slice(2, 6)}`;
  const responseTopic = k.topics.response(step.name);
  const from = ctx.mqtt.seen.length;
  const limit = step.within ?? 10_000;
  const refused = (why: string): StepFailed => new StepFailed([`expected to send cmd/${step.name} to the broker`, `saw: ${why}`]);
  // Sent now or not at all: a command queued while the broker is down would reach kioskd later, in another scenario.
  if (!k.sim.broker.running) throw refused('the broker is stopped ("broker: start" first)');
  const sent = ctx.mqtt.send(k.topics.command(step.name), JSON.stringify({ ...(step.args ?? {}), transaction }));
  let taken: boolean;
  try {
    taken = await within(ctx, sent.taken, limit);
  } catch (err) {
    throw refused(err instanceof Error ? err.message : String(err));
  }
  if (!taken) {
    sent.withdraw();
    throw refused(`the broker did not take it within ${limit} ms (withdrawn, so it is not sent later)`);
  }
  const answered = (): Record<string, unknown> | undefined => {
    for (const m of ctx.mqtt.seen.slice(from)) {
      if (m.topic !== responseTopic) continue;
      const r = parse(m.payload);
      if (r && r['transaction'] === transaction) return r;
    }
    return undefined;
  };
  const end = ctx.clock.now() + limit;
  let answer = answered();
  while (!answer && ctx.clock.now() < end) {
    await sleep(ctx.clock, 20, ctx.signal);
    answer = answered();
  }
  if (!answer)
    throw new StepFailed([`expected an answer on ${responseTopic} within ${limit} ms`, `saw: none${daemonNote(k) ? ` (${daemonNote(k)})` : ''}`]);
  const problems: string[] = [];
  if (step.status !== undefined && answer['status'] !== step.status)
    problems.push(`status: expected ${step.status}, saw ${show(answer['status'])}${answer['error'] ? ` (${String(answer['error'])})` : ''}`);
  if (step.data !== undefined) problems.push(...mismatches(step.data, answer['data'], 'data'));
  if (step.error !== undefined) problems.push(...mismatches(step.error, answer['error'], 'error'));
  if (problems.length > 0)
    throw new StepFailed([
      `expected the answer to cmd/${step.name} to have${step.status ? ` status ${step.status}` : ''}${step.data !== undefined ? ` data ${brief(step.data)}` : ''}`,
      ...problems.map((p) => `saw: ${p}`),
      `answer: ${show(answer, 400)}`,
    ]);
  const notes: string[] = [`${String(answer['status'])}${answer['error'] ? `: ${String(answer['error'])}` : ''}`];
  for (const [name, path] of Object.entries(step.save ?? {})) {
    const v = getPath(answer, path);
    if (v === undefined) throw new StepFailed([`expected ${path} in the answer to save as ${name}`, `saw: ${show(answer, 400)}`]);
    ctx.saved.set(name, v);
    notes.push(`${name}=${show(v)}`);
  }
  return notes.join(', ');
}

function parse(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** True if `p` settles within `ms`. */
async function within(ctx: Pick<ScenarioContext, 'clock' | 'signal'>, p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: unknown;
  const timeout = new Promise<false>((r) => (timer = ctx.clock.setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    ctx.clock.clearTimeout(timer);
  }
}

/** Fills (or frees) the tmpfs under kioskd's state directory with a ballast file beside it. */
async function disk(step: Extract<Action, { kind: 'disk' }>, ctx: ScenarioContext): Promise<string> {
  const dir = stateDirOf(ctx.kiosk);
  const ballast = join(dir, 'hw-sim-ballast');
  rmSync(ballast, { force: true });
  if (step.fillToMb === undefined) return `${freeMb(dir).toFixed(2)} MB free`;
  const bytes = Math.max(0, Math.floor((freeMb(dir) - step.fillToMb) * 2 ** 20));
  try {
    writeFileSync(ballast, Buffer.alloc(bytes));
  } catch (err) {
    throw new StepFailed([
      `expected to fill the state directory's disk to ${step.fillToMb} MB free`,
      `saw: ${err instanceof Error ? err.message : String(err)}`,
    ]);
  }
  return `${freeMb(dir).toFixed(2)} MB free`;
}

function freeMb(dir: string): number {
  const s = statfsSync(dir);
  return (s.bavail * s.bsize) / 2 ** 20;
}

/** kioskd's state directory on this virtual kiosk. */
export function stateDirOf(k: KioskSim): string {
  return (k.sim.config as { kiosk?: { stateDir?: string } }).kiosk?.stateDir ?? join(k.sim.dir, 'state');
}
