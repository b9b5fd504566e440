#!/usr/bin/env node
// Runs the ava suite with the TAP reporter and ends with the line CI reads:
// "N passed, N failed". ava's own summary never prints both counts on one line.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

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
