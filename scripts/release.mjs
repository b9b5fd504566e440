#!/usr/bin/env node
// npm run release: release/kioskd-<version>-<platform>-<arch>.tar.gz, holding the built daemon
// (dist/), the production node_modules, systemd/ and scripts/flash/ (so a release carries its
// own installer), and broker/ (the broker's config and ACL that installer points at), under one
// top directory kioskd-<version>/. Nothing is compiled on the kiosk.
//
// The tarball is ARCHITECTURE-SPECIFIC: node_modules holds native builds (better-sqlite3's
// build/Release/better_sqlite3.node, serialport/usb/node-hid prebuilds, sd-notify, epoll)
// made for this machine's CPU, C library and Node ABI (process.versions.modules). Build it
// on the kiosk's architecture with the Node major the kiosk runs (on an arm64 Pi, or an
// arm64 CI runner, for arm64 kiosks), on the kiosk's Debian release or an older one (glibc).
// scripts/flash/provision refuses a release whose Node major differs from the kiosk's, and
// release.json says what it was built for.
//
// node_modules is the one already installed here, copied (hard links: instant, no disk) and
// stripped of devDependencies, never reinstalled or rebuilt. The stripping follows the
// lockfile's "dev" flags rather than `npm prune --omit=dev`: npm prune also ADDS what the
// lockfile lists but the tree lacks (an optional dependency whose install failed here, such
// as @tensorflow/tfjs-node, comes back from the cache without its native part).
//
// Options: --no-build  reuse dist/ as it is (CI has just built it)
//          --out DIR   where the tarball goes (default: release/)
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const started = performance.now();

const { values: opts } = parseArgs({ options: { 'no-build': { type: 'boolean' }, out: { type: 'string' } } });
const outDir = resolve(repo, opts.out ?? 'release');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
const top = `kioskd-${pkg.version}`;
const target = `${process.platform}-${process.arch}`;
const tarball = join(outDir, `${top}-${target}.tar.gz`);

function fail(message) {
  process.stderr.write(`release: ${message}\n`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: repo, stdio: 'inherit', ...opts });
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
  return r;
}

function output(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: repo, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const tarVersion = output('tar', ['--version']);
if (!tarVersion?.includes('GNU tar')) fail('needs GNU tar (--sort, --owner): build releases on Linux (apt-get install tar)');
if (!existsSync(join(repo, 'node_modules'))) fail('node_modules is missing: run npm ci first');

if (!opts['no-build']) {
  step('build (npm run build)');
  run('npm', ['run', 'build']);
}
if (!existsSync(join(repo, 'dist/src/main.js'))) fail('dist/src/main.js is missing: run npm run build (or drop --no-build)');

// Staging sits beside node_modules (release/ is in the repo), wherever the tarball goes, so hard links work.
const stageParent = join(repo, 'release');
mkdirSync(stageParent, { recursive: true });
mkdirSync(outDir, { recursive: true });
// Left by a release run that was killed; a running one keeps its own.
for (const old of readdirSync(stageParent))
  if (/^\.stage-\d+$/.test(old) && !alive(Number(old.slice(7)))) rmSync(join(stageParent, old), { recursive: true, force: true });
const stageRoot = join(stageParent, `.stage-${process.pid}`);
const stage = join(stageRoot, top);
const partial = `${tarball}.partial`;
process.on('exit', () => {
  rmSync(stageRoot, { recursive: true, force: true });
  rmSync(partial, { force: true });
  if (stageParent !== outDir && readdirSync(stageParent).length === 0) rmdirSync(stageParent);
});
mkdirSync(stage, { recursive: true });

step(`stage ${top}/`);
for (const entry of ['dist', 'package.json', 'package-lock.json', 'systemd', 'scripts/flash', 'broker', 'README.md', 'LICENSE']) {
  const from = join(repo, entry);
  if (!existsSync(from)) {
    if (['dist', 'package.json', 'package-lock.json', 'systemd', 'scripts/flash', 'broker'].includes(entry)) fail(`${entry} is missing`);
    continue;
  }
  cpSync(from, join(stage, entry), { recursive: true, verbatimSymlinks: true });
}

step('production node_modules (copy, then drop devDependencies)');
const linked = spawnSync('cp', ['-al', join(repo, 'node_modules'), join(stage, 'node_modules')], { stdio: 'ignore' });
if (linked.status !== 0) {
  // Another filesystem or no GNU cp: a real copy, slower but the same result.
  rmSync(join(stage, 'node_modules'), { recursive: true, force: true });
  cpSync(join(repo, 'node_modules'), join(stage, 'node_modules'), { recursive: true, verbatimSymlinks: true });
}
// npm's tree cache would describe the dev tree; npm rebuilds it when needed.
rmSync(join(stage, 'node_modules/.package-lock.json'), { force: true });
const lock = JSON.parse(readFileSync(join(stage, 'package-lock.json'), 'utf8'));
const removed = pruneDev(join(stage, 'node_modules'), lock.packages ?? {});
const trimmed = dropBuildLeftovers(join(stage, 'node_modules'));
removeDanglingBins(join(stage, 'node_modules'));
const devNames = Object.keys(pkg.devDependencies ?? {}).filter((n) => removed.includes(`node_modules/${n}`));
console.log(`  removed ${removed.length} dev-only packages (${devNames.join(', ')} and what they use), ${trimmed} native build leftovers`);

step('check the staged tree');
// npm ls fails on a missing or wrong production dependency; it reads only the disk.
const ls = spawnSync('npm', ['ls', '--omit=dev', '--offline'], { cwd: stage, encoding: 'utf8' });
if (ls.status !== 0) fail(`npm ls --omit=dev finds the production tree broken:\n${ls.stdout}${ls.stderr}`);
// The native module must load with this Node: the kiosk runs the same major.
run(process.execPath, ['-e', `new (require(${JSON.stringify(join(stage, 'node_modules/better-sqlite3'))}))(':memory:').close()`]);
// sd-notify is optional for development, but a kiosk needs it: the unit's NotifyAccess=main
// refuses READY=1 from the systemd-notify fallback's child process, and systemd would kill
// the daemon at TimeoutStartSec over and over. Built only where libsystemd-dev is installed.
if (!existsSync(join(stage, 'node_modules/sd-notify')))
  fail('sd-notify is not installed (apt-get install libsystemd-dev, then npm ci): without it the kiosk never reports READY under systemd');
run(process.execPath, ['-e', `require(${JSON.stringify(join(stage, 'node_modules/sd-notify'))})`]);

// Flat on purpose: scripts/flash/provision reads it with sed (a technician's laptop may have
// no Node or jq).
const commit = output('git', ['rev-parse', 'HEAD']) ?? 'unknown';
const dirty = (output('git', ['status', '--porcelain']) ?? '') !== '';
const libc = process.report?.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
const info = {
  name: pkg.name,
  version: pkg.version,
  commit,
  dirty,
  node: process.version,
  nodeAbi: Number(process.versions.modules),
  platform: process.platform,
  arch: process.arch,
  libc,
  target,
  builtAt: new Date().toISOString(),
};
writeFileSync(join(stage, 'release.json'), JSON.stringify(info, null, 2) + '\n');

step(`tar ${tarball.replace(repo + '/', '')}`);
// release.json first, so the installer can read it without unpacking the rest; then the
// tree in name order, owned by root, not writable by others: what the kiosk should get.
const children = readdirSync(stage)
  .filter((n) => n !== 'release.json')
  .sort()
  .map((n) => `${top}/${n}`);
run('tar', [
  '--create',
  '--gzip',
  `--file=${partial}`,
  '--sort=name',
  '--owner=0',
  '--group=0',
  '--numeric-owner',
  '--mode=u+rwX,go+rX,go-w',
  `--directory=${stageRoot}`,
  '--no-recursion',
  top,
  '--recursion',
  `${top}/release.json`,
  ...children,
]);
renameSync(partial, tarball);
const sha = output('sha256sum', [tarball])?.split(' ')[0];
if (sha) writeFileSync(`${tarball}.sha256`, `${sha}  ${tarball.split('/').pop()}\n`);

const mb = (statSync(tarball).size / 1e6).toFixed(1);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `\n${tarball.replace(repo + '/', '')}: ${mb} MB, ${info.version} for ${target} (Node ${process.version}, ABI ${info.nodeAbi}), commit ${commit.slice(0, 12)}${dirty ? ' + uncommitted changes' : ''}; took ${seconds} s`,
);

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function step(what) {
  console.log(`release: ${what}`);
}

/** Every package directory under node_modules, nested ones included, with its lockfile key. */
function* packageDirs(nodeModules, rel = 'node_modules') {
  for (const name of readdirSync(nodeModules)) {
    if (name.startsWith('.')) continue;
    const names = name.startsWith('@') ? readdirSync(join(nodeModules, name)).map((sub) => `${name}/${sub}`) : [name];
    for (const n of names) {
      const dir = join(nodeModules, n);
      if (!lstatSync(dir).isDirectory()) continue;
      yield { dir, key: `${rel}/${n}` };
    }
  }
}

/**
 * Removes every package the lockfile marks dev-only, and any the lockfile does not know
 * (extraneous). Packages also needed by an optional dependency ("devOptional") stay, as npm keeps them.
 */
function pruneDev(nodeModules, packages, rel = 'node_modules') {
  const removed = [];
  for (const { dir, key } of [...packageDirs(nodeModules, rel)]) {
    const meta = packages[key];
    if (!meta || meta.dev) {
      rmSync(dir, { recursive: true, force: true });
      removed.push(key);
    } else if (existsSync(join(dir, 'node_modules'))) {
      removed.push(...pruneDev(join(dir, 'node_modules'), packages, `${key}/node_modules`));
    }
  }
  return removed;
}

/** node-gyp's object files and static libraries: only the .node files are loaded at run time. */
function dropBuildLeftovers(nodeModules) {
  let count = 0;
  for (const { dir } of packageDirs(nodeModules)) {
    if (existsSync(join(dir, 'node_modules'))) count += dropBuildLeftovers(join(dir, 'node_modules'));
    if (!existsSync(join(dir, 'binding.gyp'))) continue;
    for (const config of ['Release', 'Debug']) {
      const out = join(dir, 'build', config);
      if (!existsSync(out)) continue;
      for (const leftover of readdirSync(out)) {
        if (['obj', 'obj.target', '.deps'].includes(leftover) || leftover.endsWith('.a')) {
          rmSync(join(out, leftover), { recursive: true, force: true });
          count++;
        }
      }
    }
  }
  return count;
}

function removeDanglingBins(nodeModules) {
  const bin = join(nodeModules, '.bin');
  if (existsSync(bin)) for (const name of readdirSync(bin)) if (!existsSync(join(bin, name))) rmSync(join(bin, name), { force: true });
  for (const { dir } of packageDirs(nodeModules)) if (existsSync(join(dir, 'node_modules'))) removeDanglingBins(join(dir, 'node_modules'));
}
