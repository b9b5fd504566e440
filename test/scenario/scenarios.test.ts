/**
 * The check-in scenarios of issue 6 (hw-sim/scenarios/*.yaml) run as a technician runs them:
 * `hw-sim run … --artifacts DIR` against the real daemon with its face models, on hw-sim's
 * virtual kiosk. What they check is in the files; this test checks that every file passed and
 * that the artifacts folder holds what the README promises. Artifacts stay in
 * artifacts/scenarios/ for a look after a CI run.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pcscdMissing } from '../../hw-sim/chip/pcscd.js';
import { findPersonalData } from '../../hw-sim/scenario/privacy.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = join(ROOT, 'artifacts', 'scenarios');
const ALL_FILES = readdirSync(join(ROOT, 'hw-sim', 'scenarios'))
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => `hw-sim/scenarios/${f}`);
/** Disk scenarios mount a tmpfs: root only. CI runs as root and runs them all; a developer's run says what it left out. */
const ROOT_USER = process.getuid?.() === 0;
const DISK_FILES = ALL_FILES.filter((f) => /^\s*- disk:/m.test(readFileSync(join(ROOT, f), 'utf8')));
/** Chip scenarios need hw-sim's pcscd (and vpcd): CI installs them (scripts/deb-packages.txt); elsewhere their absence is said in the title. */
const CHIP_FILES = ALL_FILES.filter((f) => /^\s*- chip:|^chip: true/m.test(readFileSync(join(ROOT, f), 'utf8')));
const CHIP_MISSING = process.env['CI'] ? null : pcscdMissing();
const FILES = (ROOT_USER || process.env['CI'] ? ALL_FILES : ALL_FILES.filter((f) => !DISK_FILES.includes(f))).filter(
  (f) => !CHIP_MISSING || !CHIP_FILES.includes(f),
);
/** What leaked and where, never the value itself: a failing CI log must not repeat the leak. */
const leaks = (text: string) => findPersonalData(text).map(({ what, index }) => ({ what, index }));

test(`hw-sim run hw-sim/scenarios/*.yaml: every check-in scenario passes against the real daemon, with report, MQTT log, daemon log and tickets saved${!(ROOT_USER || process.env['CI']) ? ` (not root: ${DISK_FILES.join(', ')} left out, it mounts a tmpfs)` : ''}${CHIP_MISSING ? ` (${CHIP_FILES.length} chip files left out: ${CHIP_MISSING} is not installed)` : ''}`, async (t) => {
  // The chip files wait for the machine's one pcscd, which chip tests in other files may hold for a while.
  t.timeout(900_000);
  t.true(FILES.length >= 11, `the check-in scenarios are in hw-sim/scenarios/ (found ${FILES.length})`);
  rmSync(ARTIFACTS, { recursive: true, force: true });
  const child = spawn(process.execPath, ['--import', 'tsx', 'hw-sim/main.ts', 'run', ...FILES, '--artifacts', ARTIFACTS], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  t.is(code, 0, `hw-sim run failed:\n${out}\n${err}`);
  for (const f of FILES) t.true(out.includes(`✔ ${f} passed`), `${f} is reported as passed`);
  t.true(out.includes(`${FILES.length} scenarios: ${FILES.length} passed, 0 failed`));
  t.notRegex(out, /✘/);

  // The artifacts folder, as documented in hw-sim/scenarios/README.md.
  const report = readFileSync(join(ARTIFACTS, 'report.txt'), 'utf8');
  t.true(out.startsWith(report), 'report.txt is the report that was printed');
  // An empty (or cut-short) report.txt would pass startsWith: it must hold the run's summary.
  t.regex(report, new RegExp(`^${FILES.length} scenarios: ${FILES.length} passed, 0 failed$`, 'm'), "report.txt holds the run's summary line");
  t.deepEqual(leaks(report), [], 'personal data in report.txt');
  const mqttLog = readFileSync(join(ARTIFACTS, 'mqtt.log'), 'utf8');
  t.regex(mqttLog, /^\d{4}-\d\d-\d\dT[\d:.]+Z [R-] kiosk\/sim-kiosk-1\/event\/checkin\.completed \{.*"outcome":"printed"/m);
  // kill -9 mid-print: the number's fate is unknown after the restart (never ticket.voided: it may be on paper).
  t.regex(mqttLog, /^\d{4}-\d\d-\d\dT[\d:.]+Z [R-] kiosk\/sim-kiosk-1\/event\/alert \{.*"code":"ticket\.fate-unknown"/m);
  for (const f of FILES) t.true(mqttLog.includes(`# ---- `) && mqttLog.includes(`scenario ${f}`), `mqtt.log marks where ${f} began`);
  // The raw artifacts, as saved: no sample patient's ID number, name, date of birth or address.
  t.deepEqual(leaks(mqttLog), [], 'personal data in mqtt.log');
  const daemonLog = readFileSync(join(ARTIFACTS, 'daemon.log'), 'utf8');
  t.regex(daemonLog, /"msg":"kioskd starting"/);
  t.true((daemonLog.match(/"msg":"kioskd starting"/g)?.length ?? 0) >= 2, 'the daemon log holds the first start and the restart after kill -9');
  t.deepEqual(leaks(daemonLog), [], 'personal data in daemon.log');
  for (const f of FILES) {
    const dir = join(ARTIFACTS, 'tickets', f.replace(/^.*\//, '').replace(/\.yaml$/, ''));
    t.true(existsSync(dir), `tickets of ${f} are saved`);
    const pngs = readdirSync(dir).filter((n) => n.endsWith('.png'));
    t.true(pngs.length >= 1, `${f} printed a ticket`);
    for (const png of pngs) {
      t.deepEqual([...readFileSync(join(dir, png)).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${png} is a PNG`);
      t.true(readFileSync(join(dir, png.replace(/\.png$/, '.txt')), 'utf8').trim().length > 0, `${png} has its text`);
    }
  }
  const happy = readdirSync(join(ARTIFACTS, 'tickets', 'checkin-01-happy-path')).find((n) => n.endsWith('.txt'))!;
  t.regex(readFileSync(join(ARTIFACTS, 'tickets', 'checkin-01-happy-path', happy), 'utf8'), /Khám bệnh/);
});
