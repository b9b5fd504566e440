import test from 'ava';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { VirtualPrinter, type PrintedTicket } from '../../hw-sim/devices/printer.js';
import { SAMPLE_IDENTITIES } from '../../hw-sim/identities.js';
import { findPersonalData } from '../../hw-sim/scenario/privacy.js';
import { startSim, type Sim } from '../../hw-sim/sim.js';
import { until } from '../../hw-sim/wait.js';
import type { Leds } from '../../src/hal/ports.js';
import { CHECK_NAMES, pass, type Check } from '../../src/selftest/check.js';
import { clockCheck, type RunProgram } from '../../src/selftest/clock.js';
import { runChecks } from '../../src/selftest/runner.js';
import { systemClock } from '../../src/util/clock.js';
import { kioskdArgv } from '../../hw-sim/daemon.js';

/** kioskd as the tests run it: the build when up to date, else the source (hw-sim/daemon.ts). */
const KIOSKD = kioskdArgv();

/*
 * The virtual kiosk without the daemon, as on a kiosk where the service is stopped: the
 * selftest itself opens the scanner pty, connects to the printer and the lamp panel.
 * One simulator for the file; every fault is put right in a finally, so tests run serially.
 */
let sim: Sim;
test.before(async () => {
  // A free port: another test file may start its broker at the same moment.
  sim = await startSim({ brokerPort: 0, faceid: true });
});
test.after.always(async () => {
  await sim?.stop();
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface Started {
  readonly stderr: () => string;
  readonly done: Promise<Run>;
}

function start(args: readonly string[], env: NodeJS.ProcessEnv = {}): Started {
  // Asynchronous: the simulated devices live in this process and must keep answering.
  const child = spawn(process.execPath, [...KIOSKD, 'selftest', '--config', sim.configPath, ...args], {
    env: { ...sim.daemonEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  return { stderr: () => stderr, done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))) };
}

const selftest = (args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> => start(args, env).done;

/** The report line of one check ("✔ printer  …"). */
const lineOf = (r: Run, name: string): string =>
  r.stdout.split('\n').find((l) => new RegExp(`^[✔✘–] ${name}\\s`).test(l)) ?? `(no line for ${name} in:\n${r.stdout}${r.stderr})`;

/** Only the checks a fault test is about run in full; face models and the 3 s of lamps are left out. */
const QUICK = ['--skip', 'camera', '--skip', 'lamps', '--skip', 'printer'];

test.serial('against hw-sim every check passes: a self-test ticket prints, a face is detected, each lamp blinks, no card goes to BHYT', async (t) => {
  t.timeout(120_000);
  t.true(VirtualPrinter.ocrAvailable(), 'this test reads the ticket back: apt-get install tesseract-ocr tesseract-ocr-vie');
  const tickets: PrintedTicket[] = [];
  const offTicket = sim.printer.onTicket((tk) => tickets.push(tk));
  const lamps: Leds[] = [];
  const offLeds = sim.panel.onLeds((l) => lamps.push(l));
  const gatewayBefore = sim.gateway.stats();
  try {
    const r = await selftest([]);
    t.is(r.code, 0, r.stdout + r.stderr);
    for (const name of CHECK_NAMES) t.regex(lineOf(r, name), new RegExp(`^✔ ${name}\\s`), name);
    t.regex(r.stdout, /^selftest: 7 passed, 0 failed, 0 skipped$/m);
    t.notRegex(r.stdout, /FAILED/);
    t.regex(lineOf(r, 'printer'), /test ticket printed .* at tcp:\/\/127\.0\.0\.1:\d+ \(\d+ ms\)$/);
    t.regex(lineOf(r, 'camera'), /3 raw frames \(stream\) captured .*; face detected/);
    t.regex(lineOf(r, 'clock'), /synchronised \(timedatectl\)/);

    await until(() => tickets.length > 0, 15_000, 'the test ticket');
    const tk = tickets[0]!;
    t.true(tk.complete, 'the ticket was cut, not torn off');
    t.deepEqual(tk.unknownCommands, []);
    t.regex(tk.text, /\[QR: selftest-sim-kiosk-1\]/);
    t.regex(tk.text, /self-test/);
    t.regex(tk.text, /KIỂM TRA MÁY IN/);
    t.regex(tk.text, /sim-kiosk-1/);
    t.notRegex(tk.text, /Họ tên|CCCD/, 'no patient on a test ticket');

    // Each lamp alone, in turn, then all off.
    const lit = lamps.map((l) => (Object.keys(l) as Array<keyof Leds>).filter((k) => l[k] !== 'off').join('+'));
    t.deepEqual(
      lit.filter((s, i) => s !== '' && s !== lit[i - 1]),
      ['ready', 'busy', 'error'],
    );
    t.deepEqual(sim.panel.leds(), { ready: 'off', busy: 'off', error: 'off' });

    const gateway = sim.gateway.stats();
    t.is(gateway.tokenRequests, gatewayBefore.tokenRequests + 1, 'one token taken');
    t.is(gateway.lookups, gatewayBefore.lookups, 'no card looked up');
  } finally {
    offTicket();
    offLeds();
  }
});

test.serial('printer out of paper: the selftest fails, names the printer and says "out of paper"; nothing prints', async (t) => {
  const printed = sim.printer.tickets.length;
  sim.printer.state.paper = 'out';
  try {
    const r = await selftest(['--skip', 'camera', '--skip', 'lamps']);
    t.is(r.code, 1, r.stdout + r.stderr);
    t.is(lineOf(r, 'printer'), '✘ printer  out of paper');
    t.regex(r.stdout, /^selftest: 4 passed, 1 failed, 2 skipped$/m);
    t.regex(r.stdout, /^FAILED: printer$/m);
    await sim.printer.settled();
    t.is(sim.printer.tickets.length, printed);
  } finally {
    sim.printer.state.paper = 'ok';
  }
});

test.serial('scanner unplugged: the scanner check fails saying the device is not there', async (t) => {
  await sim.scanner.unplug();
  try {
    const r = await selftest(QUICK);
    t.is(r.code, 1, r.stdout + r.stderr);
    t.regex(
      lineOf(r, 'scanner'),
      new RegExp(`^✘ scanner  not available at ${escape(sim.scanner.daemonPath)}: (device not present|connection refused)`),
    );
    t.regex(r.stdout, /^FAILED: scanner$/m);
  } finally {
    await sim.scanner.plug();
  }
});

test.serial('--scan-sec: a card scanned when asked is read and shown masked, never in full', async (t) => {
  const run = start([...QUICK, '--skip', 'broker,bhyt,clock', '--scan-sec', '20']);
  await until(() => /scan a CCCD card now/.test(run.stderr()), 15_000, 'the prompt to scan');
  await sim.scanner.scan(SAMPLE_IDENTITIES[1]!);
  const r = await run.done;
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(lineOf(r, 'scanner'), /^✔ scanner {2}scanner ready at .*; card \*{8}0002 read \(7-field\)/);
  // Nothing of the card in the output: no ID number (old or new), name, date of birth or address
  // (what leaked is named, never the value).
  t.deepEqual(
    findPersonalData(r.stdout + r.stderr).map((l) => l.what),
    [],
  );
});

test.serial('camera failing: the camera check fails with what rpicam-vid said', async (t) => {
  await sim.camera.fail('no cameras available');
  try {
    // No face models: the capture fails before they would be used.
    const r = await selftest(['--skip', 'lamps', '--skip', 'printer'], { KIOSKD__FACEID__ENABLED: 'false' });
    t.is(r.code, 1, r.stdout + r.stderr);
    t.is(lineOf(r, 'camera'), '✘ camera   capture failed: rpicam-vid exited 1, before any frame: ERROR: *** no cameras available ***');
    t.regex(r.stdout, /^FAILED: camera$/m);
  } finally {
    await sim.showFace(1);
  }
});

test.serial('nobody in front of the camera: a note by default, a failure with --expect-face', async (t) => {
  t.timeout(120_000);
  await sim.showFace('empty');
  try {
    const only = ['--skip', 'printer,lamps,scanner,broker,bhyt,clock'];
    const note = await selftest(only);
    t.is(note.code, 0, note.stdout + note.stderr);
    t.regex(lineOf(note, 'camera'), /^✔ camera .*no face in view/);
    const strict = await selftest([...only, '--expect-face']);
    t.is(strict.code, 1, strict.stdout + strict.stderr);
    t.regex(lineOf(strict, 'camera'), /^✘ camera {3}no face in view/);
    t.regex(strict.stdout, /^FAILED: camera$/m);
  } finally {
    await sim.showFace(1);
  }
});

test.serial('broker down: the broker check fails with "connection refused"; --json reports the same', async (t) => {
  const dead = await deadPort();
  const r = await selftest([...QUICK, '--json'], { KIOSKD__MQTT__URL: `mqtt://127.0.0.1:${dead}` });
  t.is(r.code, 1, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout) as {
    ok: boolean;
    failed_checks: string[];
    skipped: number;
    checks: Array<{ name: string; ok: boolean; detail: string }>;
  };
  t.false(report.ok);
  t.deepEqual(report.failed_checks, ['broker']);
  t.is(report.skipped, 3);
  t.regex(report.checks.find((c) => c.name === 'broker')!.detail, new RegExp(`connection refused at mqtt://127\\.0\\.0\\.1:${dead}/?`));
});

test.serial('BHYT gateway down: the bhyt check fails saying it cannot reach the gateway', async (t) => {
  await sim.gateway.setFault('down');
  try {
    const r = await selftest(QUICK);
    t.is(r.code, 1, r.stdout + r.stderr);
    t.regex(lineOf(r, 'bhyt'), /^✘ bhyt {5}cannot reach the gateway \(ECONNREFUSED\)/);
    t.regex(r.stdout, /^FAILED: bhyt$/m);
  } finally {
    await sim.gateway.setFault('none');
  }
});

test.serial('BHYT wrong password: the bhyt check fails saying the gateway refused the login', async (t) => {
  const wrong = join(sim.dir, 'wrong-bhyt-password');
  writeFileSync(wrong, 'not-the-password\n');
  const r = await selftest(QUICK, { KIOSKD__BHYT__PASSWORD_FILE: wrong });
  t.is(r.code, 1, r.stdout + r.stderr);
  t.regex(lineOf(r, 'bhyt'), /^✘ bhyt {5}token request refused: gateway authentication failed \(401\): check the BHYT username and password/);
  t.notRegex(r.stdout, /not-the-password/);
});

test.serial('BHYT disabled: the check is skipped, which is not a failure', async (t) => {
  const r = await selftest(QUICK, { KIOSKD__BHYT__ENABLED: 'false' });
  t.is(r.code, 0, r.stdout + r.stderr);
  t.is(lineOf(r, 'bhyt'), '– bhyt     skipped: bhyt.enabled is false');
  t.regex(r.stdout, /^selftest: 3 passed, 0 failed, 4 skipped$/m);
});

test.serial('clock not synchronised: the clock check fails saying so', async (t) => {
  const state = sim.daemonEnv['HWSIM_CLOCK_STATE']!;
  writeFileSync(state, 'unsynced\n');
  try {
    const r = await selftest(QUICK);
    t.is(r.code, 1, r.stdout + r.stderr);
    t.regex(lineOf(r, 'clock'), /^✘ clock {4}not synchronised \(NTP\), per timedatectl/);
    t.regex(r.stdout, /^FAILED: clock$/m);
  } finally {
    rmSync(state, { force: true });
  }
});

test.serial('lamp panel not reachable: the lamps check fails before any lamp blinks, naming the panel', async (t) => {
  await sim.panel.unplug();
  const lamps: Leds[] = [];
  const offLeds = sim.panel.onLeds((l) => lamps.push(l));
  try {
    const r = await selftest(['--skip', 'camera', '--skip', 'printer']);
    t.is(r.code, 1, r.stdout + r.stderr);
    t.regex(lineOf(r, 'lamps'), new RegExp(`^✘ lamps {4}the panel at ${escape(sim.panel.url)}: connection refused$`));
    t.regex(r.stdout, /^FAILED: lamps$/m);
    // A panel lost during the sequence reads "went away while the ready lamp blinked": this one never started it.
    t.notRegex(r.stdout + r.stderr, /blink/);
    t.deepEqual(lamps, [], 'no lamp command reached the panel');
  } finally {
    offLeds();
    await sim.panel.plug();
  }
});

test.serial('a config that cannot be read exits 78; an unknown --skip is a usage error (64)', async (t) => {
  const missing = await selftest(['--config', join(sim.dir, 'nope.yaml')]);
  t.is(missing.code, 78);
  t.regex(missing.stderr, /cannot read the file: ENOENT/);
  const usage = await selftest(['--skip', 'coffee']);
  t.is(usage.code, 64);
  t.regex(usage.stderr, /--skip coffee: no such check/);
});

// The clock check's own logic, with our program-runner port faked in-process.

const answers =
  (table: Record<string, { exit: number | string; stdout: string }>): RunProgram =>
  async (file) =>
    table[file] ?? { exit: 'ENOENT', stdout: '' };

test('a clock earlier than this release was built fails, naming the time (a Pi without RTC)', async (t) => {
  const check = clockCheck({
    run: answers({ timedatectl: { exit: 0, stdout: 'yes\n' } }),
    wallClock: () => new Date('2020-01-01T08:00:00Z'),
    builtAt: new Date('2026-11-23T00:00:00Z'),
    limitMs: 2000,
  });
  const v = await check.run(new AbortController().signal);
  t.is(v.kind, 'fail');
  t.regex(v.detail, /^2020-01-01 08:00:00 UTC, earlier than this release was built \(2026-11-23\)/);
});

test('without timedatectl or timesyncd, chronyc decides; with nothing to ask, the check fails saying so', async (t) => {
  const now = () => new Date('2026-12-01T00:00:00Z');
  const built = new Date('2026-11-23T00:00:00Z');
  const signal = new AbortController().signal;
  const unsynced = await clockCheck({
    run: answers({ chronyc: { exit: 0, stdout: 'Reference ID    : 00000000 ()\nLeap status     : Not synchronised\n' } }),
    exists: () => false,
    wallClock: now,
    builtAt: built,
    limitMs: 2000,
  }).run(signal);
  t.deepEqual([unsynced.kind, unsynced.detail.replace(/;.*/, '')], ['fail', 'not synchronised (NTP), per chronyc (leap status Not synchronised)']);
  const synced = await clockCheck({
    run: answers({ chronyc: { exit: 0, stdout: 'Leap status     : Normal\n' } }),
    exists: () => false,
    wallClock: now,
    builtAt: built,
    limitMs: 2000,
  }).run(signal);
  t.is(synced.kind, 'pass');
  const timesyncd = await clockCheck({
    run: answers({}),
    exists: (p) => p === '/run/systemd/timesync/synchronized',
    wallClock: now,
    builtAt: built,
    limitMs: 2000,
  }).run(signal);
  t.regex(timesyncd.detail, /^synchronised \(systemd-timesyncd\)/);
  const nothing = await clockCheck({ run: answers({}), exists: () => false, wallClock: now, builtAt: built, limitMs: 2000 }).run(signal);
  t.deepEqual(
    [nothing.kind, nothing.detail],
    ['fail', 'cannot tell whether the clock is synchronised: no timedatectl, systemd-timesyncd or chronyc answered'],
  );
});

test('the runner turns a throw into a failure and stops a check that ignores its time limit', async (t) => {
  const hangs: Check = { name: 'scanner', limitMs: 100, run: () => new Promise(() => {}) };
  const throws: Check = { name: 'broker', limitMs: 1000, run: async () => Promise.reject(new Error('boom\nsecond line')) };
  const fine: Check = { name: 'clock', limitMs: 1000, run: async () => pass('ok') };
  const results = await runChecks([hangs, throws, fine], { clock: systemClock(), signal: new AbortController().signal });
  t.deepEqual(
    results.map((r) => [r.name, r.ok, r.detail]),
    [
      ['scanner', false, 'did not finish within 0.1 s'],
      ['broker', false, 'boom'],
      ['clock', true, 'ok'],
    ],
  );
});

/** A loopback port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
