import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

// One real `node scripts/release.mjs` (build, production node_modules, tarball), then the
// unpacked tarball is run with nothing compiled and nothing from this checkout's node_modules.

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const target = `${process.platform}-${process.arch}`;

test('npm run release makes a tarball that runs as unpacked: production modules only, native builds included', async (t) => {
  t.timeout(300_000);
  const out = mkdtempSync(join(tmpdir(), 'kioskd-release-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));

  const started = performance.now();
  // Other test files run kioskd from dist/ at the same time: rebuilding it here (rm -rf dist, then
  // tsc) would pull it from under them. A built dist/ (CI builds before the tests) is packed as it is.
  const reuse = existsSync('dist/src/main.js') ? ['--no-build'] : [];
  const built = await run(process.execPath, ['scripts/release.mjs', '--out', out, ...reuse], { maxBuffer: 64 * 1024 * 1024 }).catch(
    (err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`release.mjs failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    },
  );
  const seconds = (performance.now() - started) / 1000;
  t.log(`release.mjs took ${seconds.toFixed(1)} s`);
  const tarball = join(out, `kioskd-${pkg.version}-${target}.tar.gz`);
  t.true(existsSync(tarball), built.stdout);
  t.regex(built.stdout, new RegExp(`kioskd-${pkg.version}-${target}\\.tar\\.gz: [\\d.]+ MB, .* took [\\d.]+ s`), 'size and time are printed');
  t.deepEqual(existsSync('release') ? readdirSync('release').filter((n) => n.startsWith('.stage-')) : [], [], 'the staging directory is removed');

  const listing = spawnSync('tar', ['-tvzf', tarball, '--numeric-owner'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  t.is(listing.status, 0, listing.stderr);
  const entries = listing.stdout.trim().split('\n');
  t.true(
    entries.every((l) => / 0\/0 /.test(l)),
    'every entry is owned by root',
  );
  const names = entries.map((l) =>
    l
      .split(/\s+/)
      .slice(5)
      .join(' ')
      .replace(/ -> .*$/, ''),
  );
  t.true(
    names.every((n) => n.startsWith(`kioskd-${pkg.version}/`)),
    'one top directory, kioskd-<version>/',
  );
  t.is(names[1], `kioskd-${pkg.version}/release.json`, 'release.json comes first, so the installer reads it without unpacking the rest');
  // The default recogniser travels in the release with its licence and provenance (it is not an npm dependency).
  for (const f of ['fr_feature.onnx', 'LICENSE', 'PROVENANCE.md'])
    t.true(names.includes(`kioskd-${pkg.version}/dist/models/fr_feature/${f}`), `dist/models/fr_feature/${f} is in the release`);
  t.true(names.includes(`kioskd-${pkg.version}/node_modules/onnxruntime-web/package.json`), 'onnxruntime-web, which runs it, is a production module');
  t.false(
    names.some((n) => n.includes('/node_modules/faceplugin-face-recognition-js/')),
    "the model's npm package (and its build-time dependencies) is not",
  );

  const unpacked = join(out, 'x');
  mkdirSync(unpacked);
  const x = spawnSync('tar', ['-xzf', tarball, '-C', unpacked], { encoding: 'utf8' });
  t.is(x.status, 0, x.stderr);
  const root = join(unpacked, `kioskd-${pkg.version}`);

  const info = JSON.parse(readFileSync(join(root, 'release.json'), 'utf8')) as Record<string, unknown>;
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  t.like(info, {
    name: 'kioskd',
    version: pkg.version,
    commit: head,
    node: process.version,
    nodeAbi: Number(process.versions.modules),
    platform: process.platform,
    arch: process.arch,
    target,
  });
  t.is(typeof info['dirty'], 'boolean');
  t.true(Math.abs(Date.parse(String(info['builtAt'])) - Date.now()) < 10 * 60_000, `builtAt is now: ${String(info['builtAt'])}`);

  const nm = join(root, 'node_modules');
  // A devDependency that a production package also needs (@types/node, through mqtt) stays, as npm keeps it.
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const devOnly = Object.keys(pkg.devDependencies).filter((d) => lock.packages[`node_modules/${d}`]?.dev === true);
  for (const dev of new Set([...devOnly, 'typescript', 'ava', 'eslint', 'playwright-core', 'tsx', 'esbuild'])) {
    t.false(existsSync(join(nm, dev)), `devDependency ${dev} is not shipped`);
  }
  for (const dep of Object.keys(pkg.dependencies)) t.true(existsSync(join(nm, dep, 'package.json')), `dependency ${dep} is shipped`);
  t.true(existsSync(join(nm, 'better-sqlite3/build/Release/better_sqlite3.node')), "better-sqlite3's native build is shipped");
  t.false(existsSync(join(nm, 'better-sqlite3/build/Release/obj.target')), 'object files are not');
  t.true(existsSync(join(nm, `@serialport/bindings-cpp/prebuilds/${target}`)), `serialport's ${target} prebuild is shipped`);
  for (const f of [
    'dist/src/main.js',
    'package.json',
    'package-lock.json',
    'systemd/kioskd.service',
    'scripts/flash/provision',
    'scripts/flash/templates/config.yaml.tmpl',
    'broker/mosquitto/kioskd.acl',
    'broker/mosquitto/kioskd.conf',
  ]) {
    t.true(existsSync(join(root, f)), `${f} is in the release`);
  }
  t.is(statSync(join(root, 'scripts/flash/provision')).mode & 0o111, 0o111, 'the installer is executable');

  // Run from somewhere with no node_modules above it, with no compiler on hand: it must simply load.
  const env = { PATH: '/usr/bin:/bin', HOME: out, NOTIFY_SOCKET: '' };
  const version = spawnSync(process.execPath, [join(root, 'dist/src/main.js'), '--version'], { encoding: 'utf8', cwd: out, env });
  t.is(version.stdout, `${pkg.version}\n`, version.stderr);
  const good = join(out, 'good.yaml');
  writeFileSync(
    good,
    'device:\n  id: lobby-1\nmqtt:\n  url: mqtts://broker.hospital.vn:8883\nhal:\n  card: { driver: serial, path: /dev/kiosk-scanner }\n  printer: { driver: device, path: /dev/kiosk-printer }\n',
  );
  const valid = spawnSync(process.execPath, [join(root, 'dist/src/main.js'), 'check-config', good], { encoding: 'utf8', cwd: out, env });
  t.is(valid.status, 0, valid.stderr);
  t.regex(valid.stdout, /configuration is valid \(kiosk id "lobby-1", broker mqtts:\/\/broker\.hospital\.vn:8883\)/);
  const bad = join(out, 'bad.yaml');
  writeFileSync(bad, 'device:\n  id: "a/b"\nmqtt:\n  nope: 1\n');
  const invalid = spawnSync(process.execPath, [join(root, 'dist/src/main.js'), 'check-config', bad], { encoding: 'utf8', cwd: out, env });
  t.is(invalid.status, 78, invalid.stdout);
  t.regex(invalid.stderr, /mqtt\.nope: unknown key/);
  const sqlite = spawnSync(
    process.execPath,
    [
      '-e',
      `const D = require(${JSON.stringify(join(nm, 'better-sqlite3'))}); const db = new D(':memory:'); console.log(db.prepare('select 6 * 7 as n').get().n)`,
    ],
    { encoding: 'utf8', cwd: out, env },
  );
  t.is(sqlite.stdout, '42\n', sqlite.stderr);

  // The release's own installer, with its own template, provisions a card-like tree, and the
  // real check-config accepts the config it writes.
  const rules = join(root, 'systemd/99-kioskd.rules');
  if (!existsSync(rules)) writeFileSync(rules, 'SUBSYSTEM=="tty", ENV{ID_SERIAL}=="test-scanner", SYMLINK+="kiosk-scanner"\n'); // stand-in until systemd/ has it
  const card = join(out, 'card');
  for (const d of ['etc', 'usr/bin', 'var/tmp', 'var/lib/dpkg', 'opt']) mkdirSync(join(card, d), { recursive: true });
  writeFileSync(join(card, 'etc/os-release'), 'ID=debian\n');
  writeFileSync(join(card, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(join(card, 'etc/group'), 'root:x:0:\ndialout:x:20:\n');
  writeFileSync(join(card, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n');
  symlinkSync(process.execPath, join(card, 'usr/bin/node'));
  // The card says its CPU and Node major the way Raspberry Pi OS does: dpkg's nodejs package.
  const dpkgArch = ({ x64: 'amd64', arm64: 'arm64', arm: 'armhf' } as Record<string, string>)[process.arch];
  if (!dpkgArch) throw new Error(`test/integration/release.test.ts knows no Debian name for ${process.arch}`);
  writeFileSync(
    join(card, 'var/lib/dpkg/status'),
    `Package: nodejs\nStatus: install ok installed\nArchitecture: ${dpkgArch}\nVersion: ${process.versions.node}-1nodesource1\n\n`,
  );
  const ca = join(out, 'ca.pem');
  writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const pw = join(out, 'pw');
  writeFileSync(pw, 'secret\n');
  chmodSync(pw, 0o600);
  const provision = spawnSync(
    'bash',
    [
      join(root, 'scripts/flash/provision'),
      '--root',
      card,
      '--device-id',
      'lobby-1',
      '--mqtt-url',
      'mqtts://broker.hospital.vn:8883',
      '--mqtt-password-file',
      pw,
      '--mqtt-ca',
      ca,
      '--yes',
    ],
    { encoding: 'utf8', env: { ...process.env, TMPDIR: out } },
  );
  t.is(provision.status, 0, `${provision.stdout}${provision.stderr}`);
  t.regex(
    provision.stdout,
    /checked by the release's kioskd check-config: configuration is valid \(kiosk id "lobby-1", broker mqtts:\/\/broker\.hospital\.vn:8883\)/,
  );
  t.regex(provision.stdout, new RegExp(`· CPU: ${process.arch}, as the release \\(dpkg's nodejs:${dpkgArch}\\)`));
  // Each build its own directory: <version>-<short commit>, and the build time when built from uncommitted changes.
  const stamp = String(info['builtAt'])
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '');
  const name = `${pkg.version}-${String(info['commit']).slice(0, 12)}${info['dirty'] === true ? `-dirty-${stamp}` : ''}`;
  t.is(readlinkSync(join(card, 'opt/kioskd/current')), `releases/${name}`);
  t.is(
    readFileSync(join(card, 'etc/systemd/system/kioskd-selftest.service'), 'utf8'),
    readFileSync(join(root, 'systemd/kioskd-selftest.service'), 'utf8'),
  );
  t.is(statSync(join(card, 'etc/systemd/system/kioskd-selftest.service')).mode & 0o7777, 0o644);
  // The password where the release's unit loads it from (LoadCredential=mqtt-password:kioskd.mqtt-password),
  // handed to the daemon as systemd does: $CREDENTIALS_DIRECTORY/mqtt-password.
  t.is(readFileSync(join(card, 'etc/credstore/kioskd.mqtt-password'), 'utf8'), 'secret\n');
  t.is(statSync(join(card, 'etc/credstore/kioskd.mqtt-password')).mode & 0o777, 0o600);
  const credentials = join(out, 'credentials');
  mkdirSync(credentials);
  symlinkSync(join(card, 'etc/credstore/kioskd.mqtt-password'), join(credentials, 'mqtt-password'));
  const installed = spawnSync(
    process.execPath,
    [join(card, 'opt/kioskd/current/dist/src/main.js'), 'check-config', join(card, 'etc/kioskd/config.yaml')],
    {
      encoding: 'utf8',
      cwd: out,
      env: { ...env, KIOSKD__MQTT__TLS__CA_FILE: ca, CREDENTIALS_DIRECTORY: credentials },
    },
  );
  t.is(installed.status, 0, installed.stderr);
});
