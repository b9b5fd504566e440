#!/usr/bin/env node
// Runs the ava suite with the TAP reporter and ends with the line CI reads:
// "N passed, N failed". ava's own summary never prints both counts on one line.
// First it checks that the machine has what the tests need (scripts/test-deps.mjs): when something
// is missing it installs the Debian packages (as root or with passwordless sudo: the command is
// printed first), or else stops at once, saying the one command to run.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { decide, findMissing, readPackageList, systemProbe } from './test-deps.mjs';

/** sysexits' EX_UNAVAILABLE: a program the tests need is not installed. */
const EX_UNAVAILABLE = 69;

function ensureTestDependencies() {
  if (process.env.KIOSKD_TEST_SKIP_DEPS === '1') return;
  const probe = systemProbe();
  const missing = findMissing(probe);
  if (missing.length === 0) return;
  const root = probe.uid === 0;
  const d = decide({ missing, root, sudo: !root && probe.sudo(), apt: probe.apt(), packages: readPackageList() });
  if (d.action === 'stop') {
    process.stderr.write(d.message + '\n');
    process.exit(EX_UNAVAILABLE);
  }
  if (d.action !== 'install') return;
  process.stderr.write(d.message + '\n');
  for (const [cmd, ...args] of d.commands) {
    const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) {
      process.stderr.write(
        `npm test: "${[cmd, ...args].join(' ')}" failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}); install the packages by hand and run npm test again\n`,
      );
      process.exit(EX_UNAVAILABLE);
    }
  }
  const still = findMissing(systemProbe());
  if (still.length > 0) {
    process.stderr.write(`npm test: still missing after the install: ${still.map((m) => m.what).join(', ')}\n`);
    process.exit(EX_UNAVAILABLE);
  }
}

ensureTestDependencies();

const args = ['--tap', ...process.argv.slice(2)];
const ava = spawn(process.execPath, ['node_modules/ava/entrypoints/cli.mjs', ...args], { stdio: ['inherit', 'pipe', 'inherit'] });
const counts = { pass: 0, fail: 0, skip: 0, todo: 0, tests: 0 };
const lines = createInterface({ input: ava.stdout });
lines.on('line', (line) => {
  process.stdout.write(line + '\n');
  const m = /^# (tests|pass|fail|skip|todo) (\d+)$/.exec(line);
  if (m) counts[m[1]] = Number(m[2]);
});
ava.on('close', (code, signal) => {
  let failed = counts.fail;
  // ava can exit non-zero without a failed test (a crashed file, a timeout); never report that as green.
  if ((code !== 0 || signal) && failed === 0) failed = 1;
  if (counts.tests === 0 && failed === 0) {
    process.stdout.write('no tests ran\n');
    failed = 1;
  }
  const skipped = counts.skip + counts.todo;
  process.stdout.write(`${counts.pass} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  process.exit(failed > 0 ? 1 : 0);
});
