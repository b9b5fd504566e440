/**
 * `npm run build` leaves the package's commands runnable: the "bin" files tsc writes as plain
 * files are marked executable, so `npx kioskd` / `npx hw-sim` work in a checkout whose
 * node_modules/.bin links were made before the build.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { kioskdEntry } from '../../hw-sim/daemon.js';

const SCRIPT = resolve('scripts/chmod-bins.mjs');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
const executable = (file: string): boolean => (statSync(file).mode & 0o111) === 0o111;

function fakePackage(t: { teardown(fn: () => void): void }, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'kioskd-build-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'x', bin: pkg.bin }));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), text);
    chmodSync(join(root, rel), 0o644); // as tsc writes them
  }
  return root;
}

test('the build ends by marking every "bin" of package.json executable', (t) => {
  t.regex(pkg.scripts['build']!, /tsc -p tsconfig\.build\.json .*&& node scripts\/chmod-bins\.mjs$/);
  const root = fakePackage(t, Object.fromEntries(Object.values(pkg.bin).map((rel) => [rel, '#!/usr/bin/env node\nconsole.log(1);\n'])));
  const r = spawnSync(process.execPath, [SCRIPT], { cwd: root, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  for (const rel of Object.values(pkg.bin)) t.true(executable(join(root, rel)), `${rel} is executable`);
  t.deepEqual(Object.values(pkg.bin).sort(), ['dist/hw-sim/main.js', 'dist/src/main.js']);
});

test('the build fails, naming the file, when a "bin" was not built or cannot run as a command', (t) => {
  const [first, second] = Object.values(pkg.bin) as [string, string];
  const missing = spawnSync(process.execPath, [SCRIPT], { cwd: fakePackage(t, { [first]: '#!/usr/bin/env node\n' }), encoding: 'utf8' });
  t.is(missing.status, 1);
  t.true(missing.stderr.includes(`${second} was not built (ENOENT)`), missing.stderr);
  const noShebang = spawnSync(process.execPath, [SCRIPT], {
    cwd: fakePackage(t, { [first]: '#!/usr/bin/env node\n', [second]: 'console.log(1);\n' }),
    encoding: 'utf8',
  });
  t.is(noShebang.status, 1);
  t.true(noShebang.stderr.includes(`${second} does not start with a #! line`), noShebang.stderr);
});

// CI runs `npm run build` before the tests (.ci/run); elsewhere dist/ may be missing or older
// than the sources, and then the test says so in its title instead of judging a stale build.
const builtFresh = kioskdEntry().entry.includes(`${sep}dist${sep}`);
(builtFresh || process.env['CI'] ? test : test.skip)(
  `after npm run build, dist's commands are executable${builtFresh ? '' : ' (dist/ is missing or older than src/: skipped; run npm run build)'}`,
  (t) => {
    for (const rel of Object.values(pkg.bin)) t.true(executable(rel), `${rel} is executable (mode ${(statSync(rel).mode & 0o777).toString(8)})`);
  },
);
