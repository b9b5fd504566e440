import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// scripts/flash/provision against directory trees standing in for an SD card's root
// filesystem, with small release tarballs made here (a real one takes a minute to build).

const PROVISION = resolve('scripts/flash/provision');
const UNIT = readFileSync('systemd/kioskd.service', 'utf8');
// systemd/99-kioskd.rules is written by someone else; until it exists the fake release carries a stand-in.
const RULES = existsSync('systemd/99-kioskd.rules')
  ? readFileSync('systemd/99-kioskd.rules', 'utf8')
  : 'SUBSYSTEM=="tty", ENV{ID_SERIAL}=="test-scanner", SYMLINK+="kiosk-scanner", GROUP="dialout", MODE="0660"\n';
const TEMPLATE = readFileSync('scripts/flash/templates/config.yaml.tmpl', 'utf8');
const unitGroups = (UNIT.match(/^SupplementaryGroups=(.*)$/m)?.[1] ?? '').split(/\s+/).filter(Boolean);

if (process.getuid?.() !== 0) throw new Error('test/flash.test.ts runs the provisioning script, which needs root: run the tests as root (CI does), e.g. sudo npx ava test/flash.test.ts');

/** A stand-in for kioskd's entry point: --version, and a check-config that refuses what the tests plant. */
const FAKE_MAIN = `
const { readFileSync, existsSync } = require('node:fs');
const [cmd, file] = process.argv.slice(2);
if (cmd === '--version') { console.log(JSON.parse(readFileSync(__dirname + '/../../release.json', 'utf8')).version); process.exit(0); }
if (cmd !== 'check-config') process.exit(64);
const text = readFileSync(file, 'utf8');
const problems = [];
if (/^bogus:/m.test(text)) problems.push('  - bogus: unknown key');
for (const m of text.matchAll(/(caFile|certFile|keyFile): "([^"]+)"/g)) if (!existsSync(m[2])) problems.push('  - mqtt.tls.' + m[1] + ': cannot read ' + m[2] + ': ENOENT');
if (/^ +username: "/m.test(text) && !existsSync(process.env.CREDENTIALS_DIRECTORY + '/mqtt-password')) problems.push('  - mqtt: no credential mqtt-password');
if (problems.length) { console.error(file + ': ' + problems.length + ' configuration error(s)\\n' + problems.join('\\n')); process.exit(78); }
console.log(file + ': configuration is valid (kiosk id "' + /id: "([^"]+)"/.exec(text)[1] + '", broker ' + (/url: "([^"]+)"/.exec(text)?.[1] ?? 'default') + ')');
`;

interface ReleaseOptions {
  readonly rules?: boolean;
  readonly template?: string;
  readonly nodeVersion?: string;
  readonly commit?: string;
}

function makeRelease(dir: string, version: string, opts: ReleaseOptions = {}): string {
  const top = join(dir, `stage-${version}`, `kioskd-${version}`);
  mkdirSync(join(top, 'dist/src'), { recursive: true });
  mkdirSync(join(top, 'systemd'), { recursive: true });
  mkdirSync(join(top, 'scripts/flash/templates'), { recursive: true });
  writeFileSync(join(top, 'dist/src/main.js'), FAKE_MAIN);
  writeFileSync(join(top, 'package.json'), JSON.stringify({ name: 'kioskd', version, type: 'commonjs' }));
  writeFileSync(join(top, 'systemd/kioskd.service'), UNIT);
  if (opts.rules !== false) writeFileSync(join(top, 'systemd/99-kioskd.rules'), RULES);
  writeFileSync(join(top, 'scripts/flash/templates/config.yaml.tmpl'), opts.template ?? TEMPLATE);
  const info = {
    name: 'kioskd',
    version,
    commit: opts.commit ?? `c0ffee${version.replace(/\D/g, '')}`,
    dirty: false,
    node: opts.nodeVersion ?? process.version,
    nodeAbi: Number(process.versions.modules),
    platform: process.platform,
    arch: process.arch,
    libc: 'glibc',
    target: `${process.platform}-${process.arch}`,
    builtAt: '2026-01-01T00:00:00.000Z',
  };
  writeFileSync(join(top, 'release.json'), JSON.stringify(info, null, 2) + '\n');
  const tarball = join(dir, `kioskd-${version}-${opts.commit ?? 'a'}.tar.gz`);
  const r = spawnSync('tar', ['-czf', tarball, '-C', join(dir, `stage-${version}`), `kioskd-${version}/release.json`, `kioskd-${version}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
  return tarball;
}

interface RootOptions {
  readonly node?: 'symlink' | 'absent';
  readonly dpkgNode?: string;
  readonly groups?: string;
}

/** A Raspberry Pi OS-like root: root and pi, dialout/lp/video but no gpio, a machine-id, nodejs in dpkg's database. */
function makeRoot(dir: string, opts: RootOptions = {}): string {
  const root = join(dir, 'root');
  for (const d of ['etc', 'usr/bin', 'var/lib/dbus', 'var/lib/dpkg', 'var/tmp', 'opt']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'etc/os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n');
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nsystemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin\npi:x:1000:1000:,,,:/home/pi:/bin/bash\n');
  writeFileSync(join(root, 'etc/group'), opts.groups ?? 'root:x:0:\nlp:x:7:\ndialout:x:20:pi\nvideo:x:44:pi\nsystemd-network:x:998:\nsystemd-journal:x:999:\npi:x:1000:\n');
  writeFileSync(join(root, 'etc/shadow'), 'root:*:19700:0:99999:7:::\nsystemd-network:!*:19700::::::\npi:$y$j9T$salt$hash:19700:0:99999:7:::\n');
  writeFileSync(join(root, 'etc/gshadow'), 'root:*::\nlp:*::\ndialout:*::pi\nvideo:*::pi\nsystemd-network:!*::\nsystemd-journal:!*::\npi:!::\n');
  chmodSync(join(root, 'etc/shadow'), 0o640);
  chmodSync(join(root, 'etc/gshadow'), 0o640);
  writeFileSync(join(root, 'etc/machine-id'), '5f0e3c1d2b4a49d8a7c6e5f4d3c2b1a0\n');
  chmodSync(join(root, 'etc/machine-id'), 0o444);
  writeFileSync(join(root, 'var/lib/dbus/machine-id'), '5f0e3c1d2b4a49d8a7c6e5f4d3c2b1a0\n');
  if ((opts.node ?? 'symlink') === 'symlink') symlinkSync(process.execPath, join(root, 'usr/bin/node'));
  const major = process.versions.node.split('.')[0];
  writeFileSync(
    join(root, 'var/lib/dpkg/status'),
    `Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2\n\nPackage: nodejs\nStatus: install ok installed\nArchitecture: arm64\nVersion: ${opts.dpkgNode ?? `${major}.19.2-1nodesource1`}\n\n`,
  );
  return root;
}

/** Every path with its type, mode, owner and content (or link target): equal snapshots mean an unchanged tree. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    const p = join(root, rel);
    const s = lstatSync(p);
    const who = `${(s.mode & 0o7777).toString(8)} ${s.uid}:${s.gid}`;
    if (s.isSymbolicLink()) out.set(rel, `link ${readlinkSync(p)} ${s.uid}:${s.gid}`);
    else if (s.isDirectory()) {
      out.set(rel, `dir ${who}`);
      for (const name of readdirSync(p).sort()) walk(rel ? `${rel}/${name}` : name);
    } else out.set(rel, `file ${who} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
  };
  walk('');
  return out;
}

function provision(args: readonly string[], input?: string) {
  const r = spawnSync('bash', [PROVISION, ...args], { encoding: 'utf8', input: input ?? '', env: { ...process.env, TMPDIR: tmpdir() } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out: `${r.stdout}${r.stderr}` };
}

function setup(t: { teardown: (fn: () => void) => void }, rootOpts: RootOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-flash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const root = makeRoot(dir, rootOpts);
  const secret = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: 0o644 });
    return p;
  };
  return { dir, root, secret };
}

const stat = (p: string) => {
  const s = lstatSync(p);
  return { mode: (s.mode & 0o7777).toString(8).padStart(4, '0'), owner: `${s.uid}:${s.gid}` };
};
const accountLine = (root: string, file: string, name: string) => readFileSync(join(root, 'etc', file), 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
const stepLines = (stdout: string) => stdout.split('\n').filter((l) => /^\[\d\/7\] /.test(l));

test('a dry run lists every file it would write, with mode and owner, and writes nothing', (t) => {
  const { dir, root, secret } = setup(t);
  const release = makeRelease(dir, '1.0.0');
  const before = snapshot(root);
  const r = provision(['--root', root, '--release', release, '--device-id', 'lobby-1', '--mqtt-url', 'mqtts://broker.hospital.vn:8883', '--mqtt-user', 'kiosk-lobby-1', '--mqtt-password-file', secret('pw', 'hunter2-secret\n'), '--dry-run']);
  t.is(r.status, 0, r.out);
  t.deepEqual(snapshot(root), before, 'a dry run changes nothing');
  t.deepEqual(
    stepLines(r.stdout).map((l) => l.replace(/^\[(\d)\/7\] .* … /, '$1 ')),
    ['1 would change', '2 would change', '3 would change', '4 would change', '5 would change', '6 would change', '7 would change'],
  );
  for (const expected of [
    /update \/etc\/passwd \(0644 root:root\)/,
    /update \/etc\/group \(0644 root:root\)/,
    /update \/etc\/shadow \(0640 root:root\)/,
    /update \/etc\/gshadow \(0640 root:root\)/,
    /\+ user kioskd \(uid \d+, group \d+, home \/var\/lib\/kioskd, shell \/usr\/sbin\/nologin/,
    /\+ install kioskd 1\.0\.0 to \/opt\/kioskd\/releases\/1\.0\.0\/ .*root:root/,
    /\+ link \/opt\/kioskd\/current → releases\/1\.0\.0/,
    /\+ create \/etc\/kioskd\/config\.yaml \(0640 root:kioskd\)/,
    /\+ create \/etc\/kioskd\/secrets\/ \(0700 root:root\)/,
    /\+ create \/etc\/kioskd\/secrets\/mqtt-password \(0600 root:root\), content not shown/,
    /update \/etc\/machine-id \(0444 root:root\): content/,
    /replace the file \/var\/lib\/dbus\/machine-id by a symlink → \/etc\/machine-id/,
    /\+ create \/etc\/udev\/rules\.d\/99-kioskd\.rules \(0644 root:root\)/,
    /\+ create \/etc\/systemd\/system\/kioskd\.service \(0644 root:root\)/,
    /\+ create \/etc\/systemd\/system\/kioskd\.service\.d\/credentials\.conf \(0644 root:root\)/,
    /\+ link \/etc\/systemd\/system\/multi-user\.target\.wants\/kioskd\.service → \/etc\/systemd\/system\/kioskd\.service/,
    /checked by the release's kioskd check-config: configuration is valid \(kiosk id "lobby-1"/,
  ]) {
    t.regex(r.stdout, expected);
  }
  t.regex(r.stdout, /dry run: 7 of 7 steps would change; nothing was written\n$/);
  t.notRegex(r.out, /hunter2/, 'secrets are never printed');
});

test('provisioning a fresh root makes a kiosk of it, and a second run reports no changes', (t) => {
  const { dir, root, secret } = setup(t);
  const release = makeRelease(dir, '1.0.0');
  const mqttPw = secret('mqtt-pw', 'hunter2-secret\n');
  const bhytPw = secret('bhyt-pw', 'gateway-secret\n');
  const ca = secret('ca.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const cert = secret('client.pem', '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n');
  const key = secret('client.key', '-----BEGIN PRIVATE KEY-----\nMIID\n-----END PRIVATE KEY-----\n');
  const args = [
    '--root', root, '--release', release, '--device-id', 'lobby-1', '--mqtt-url', 'mqtts://broker.hospital.vn:8883', '--mqtt-user', 'kiosk-lobby-1',
    '--mqtt-password-file', mqttPw, '--bhyt-password-file', bhytPw, '--mqtt-ca', ca, '--mqtt-cert', cert, '--mqtt-key', key, '--yes',
  ];
  const first = provision(args);
  t.is(first.status, 0, first.out);
  t.deepEqual(stepLines(first.stdout).map((l) => l.split(' … ')[1]), Array(7).fill('changed'));
  t.regex(first.stdout, /done: 7 of 7 steps changed\n$/);

  // The user and groups, with ids taken from the card's own files.
  const passwd = accountLine(root, 'passwd', 'kioskd')?.split(':') ?? [];
  const [uid, gid] = [Number(passwd[2]), Number(passwd[3])];
  t.true(uid > 0 && uid < 1000 && ![998, 1000].includes(uid), `a free system uid, got ${uid}`);
  t.deepEqual(passwd.slice(4), ['kioskd kiosk daemon', '/var/lib/kioskd', '/usr/sbin/nologin']);
  t.is(accountLine(root, 'group', 'kioskd'), `kioskd:x:${gid}:`);
  t.is(accountLine(root, 'shadow', 'kioskd'), 'kioskd:!*:::::::');
  t.is(accountLine(root, 'gshadow', 'kioskd'), 'kioskd:!::');
  t.true(unitGroups.length > 0, 'the unit names its supplementary groups');
  const usedGids = new Set([0, 7, 20, 44, 998, 999, 1000, gid]);
  for (const g of unitGroups) {
    const line = accountLine(root, 'group', g)?.split(':') ?? [];
    t.true(line[3]?.split(',').includes('kioskd'), `kioskd is in ${g}: ${line.join(':')}`);
    t.true(accountLine(root, 'gshadow', g)?.split(':')[3]?.split(',').includes('kioskd'), `kioskd is in ${g} in gshadow`);
    if (!['lp', 'dialout', 'video'].includes(g)) {
      t.false(usedGids.has(Number(line[2])), `group ${g} was created with a free gid, got ${line[2]}`);
      usedGids.add(Number(line[2]));
    }
  }
  t.is(accountLine(root, 'group', 'dialout'), 'dialout:x:20:pi,kioskd', 'existing members stay');
  t.deepEqual(stat(join(root, 'etc/shadow')), { mode: '0640', owner: '0:0' }, 'account files keep their mode');
  t.is(readFileSync(join(root, 'etc/passwd-'), 'utf8').includes('kioskd'), false, 'the previous passwd is kept as passwd-');

  // The release, runnable where it was installed.
  t.is(readlinkSync(join(root, 'opt/kioskd/current')), 'releases/1.0.0');
  t.deepEqual(stat(join(root, 'opt/kioskd/releases/1.0.0/dist/src/main.js')), { mode: '0644', owner: '0:0' });
  t.is(spawnSync(process.execPath, [join(root, 'opt/kioskd/current/dist/src/main.js'), '--version'], { encoding: 'utf8' }).stdout, '1.0.0\n');
  t.deepEqual(readdirSync(join(root, 'var/tmp')), [], 'no unpacked leftovers');

  // Config, secrets and certificates.
  const config = readFileSync(join(root, 'etc/kioskd/config.yaml'), 'utf8');
  t.deepEqual(stat(join(root, 'etc/kioskd/config.yaml')), { mode: '0640', owner: `0:${gid}` });
  t.regex(config, /^ {2}id: "lobby-1"$/m);
  t.regex(config, /^ {2}url: "mqtts:\/\/broker\.hospital\.vn:8883"$/m);
  t.regex(config, /^ {2}username: "kiosk-lobby-1"$/m);
  t.regex(config, /^ {2}tls: \{ caFile: "\/etc\/kioskd\/tls\/ca\.pem", certFile: "\/etc\/kioskd\/tls\/client\.pem", keyFile: "\/etc\/kioskd\/tls\/client\.key" \}$/m);
  t.notRegex(config, /hunter2|gateway-secret/);
  t.deepEqual(stat(join(root, 'etc/kioskd/secrets')), { mode: '0700', owner: '0:0' });
  t.deepEqual(stat(join(root, 'etc/kioskd/secrets/mqtt-password')), { mode: '0600', owner: '0:0' });
  t.deepEqual(stat(join(root, 'etc/kioskd/secrets/bhyt-password')), { mode: '0600', owner: '0:0' });
  t.is(readFileSync(join(root, 'etc/kioskd/secrets/mqtt-password'), 'utf8'), 'hunter2-secret\n');
  t.deepEqual(stat(join(root, 'etc/kioskd/tls/ca.pem')), { mode: '0644', owner: '0:0' });
  t.deepEqual(stat(join(root, 'etc/kioskd/tls/client.key')), { mode: '0640', owner: `0:${gid}` }, 'the daemon reads its key as kioskd');

  // A machine-id of its own for each clone.
  t.is(readFileSync(join(root, 'etc/machine-id'), 'utf8'), '');
  t.deepEqual(stat(join(root, 'etc/machine-id')), { mode: '0444', owner: '0:0' });
  t.is(readlinkSync(join(root, 'var/lib/dbus/machine-id')), '/etc/machine-id');

  // udev rules, the unit as the release has it, its credentials, enabled.
  t.is(readFileSync(join(root, 'etc/udev/rules.d/99-kioskd.rules'), 'utf8'), RULES);
  t.is(readFileSync(join(root, 'etc/systemd/system/kioskd.service'), 'utf8'), UNIT);
  t.deepEqual(stat(join(root, 'etc/systemd/system/kioskd.service')), { mode: '0644', owner: '0:0' });
  const dropIn = readFileSync(join(root, 'etc/systemd/system/kioskd.service.d/credentials.conf'), 'utf8');
  t.regex(dropIn, /^\[Service\]$/m);
  for (const name of ['mqtt-password', 'bhyt-password']) {
    const loadedByUnit = new RegExp(`^LoadCredential=${name}:`, 'm').test(UNIT);
    t.is(new RegExp(`^LoadCredential=${name}:/etc/kioskd/secrets/${name}$`, 'm').test(dropIn), !loadedByUnit, `${name} is loaded once`);
  }
  t.is(readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants/kioskd.service')), '/etc/systemd/system/kioskd.service');

  const after = snapshot(root);
  const second = provision(args);
  t.is(second.status, 0, second.out);
  t.deepEqual(stepLines(second.stdout).map((l) => l.split(' … ')[1]), Array(7).fill('unchanged'));
  t.regex(second.stdout, /\nno changes\n$/);
  t.notRegex(second.stdout, /unpacking/, 'the installed release is recognised without unpacking it again');
  t.deepEqual(snapshot(root), after, 'the second run changes nothing');
});

test('a new release swaps current and keeps the old one for rollback; going back needs no unpacking', (t) => {
  const { dir, root } = setup(t);
  const base = ['--root', root, '--device-id', 'ward-2', '--mqtt-url', 'mqtt://10.0.0.5:1883', '--yes'];
  t.is(provision([...base, '--release', makeRelease(dir, '1.0.0')]).status, 0);
  const upgrade = provision([...base, '--release', makeRelease(dir, '1.1.0')]);
  t.is(upgrade.status, 0, upgrade.out);
  t.deepEqual(stepLines(upgrade.stdout).map((l) => l.split(' … ')[1]), ['unchanged', 'changed', 'unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
  t.regex(upgrade.stdout, /~ point \/opt\/kioskd\/current → releases\/1\.1\.0 \(was releases\/1\.0\.0\)/);
  t.is(readlinkSync(join(root, 'opt/kioskd/current')), 'releases/1.1.0');
  t.is(readlinkSync(join(root, 'opt/kioskd/previous')), 'releases/1.0.0');
  t.deepEqual(readdirSync(join(root, 'opt/kioskd/releases')).sort(), ['1.0.0', '1.1.0']);

  const back = provision([...base, '--release', makeRelease(dir, '1.0.0')]);
  t.is(back.status, 0, back.out);
  t.notRegex(back.stdout, /unpacking/);
  t.is(readlinkSync(join(root, 'opt/kioskd/current')), 'releases/1.0.0');
  t.is(readlinkSync(join(root, 'opt/kioskd/previous')), 'releases/1.1.0');

  // Another build of an installed version replaces it in place.
  const rebuilt = provision([...base, '--release', makeRelease(dir, '1.0.0', { commit: 'feedbeef' })]);
  t.is(rebuilt.status, 0, rebuilt.out);
  t.regex(rebuilt.stdout, /~ replace \/opt\/kioskd\/releases\/1\.0\.0\/ by another build of 1\.0\.0 \(commit feedbeef/);
  t.regex(readFileSync(join(root, 'opt/kioskd/releases/1.0.0/release.json'), 'utf8'), /"commit": "feedbeef"/);
});

test('a changed option rewrites only the config, shows the difference and keeps the old file', (t) => {
  const { dir, root } = setup(t);
  const release = makeRelease(dir, '1.0.0');
  const base = ['--root', root, '--release', release, '--device-id', 'ward-2', '--yes'];
  t.is(provision([...base, '--mqtt-url', 'mqtt://10.0.0.5:1883']).status, 0);
  const r = provision([...base, '--mqtt-url', 'mqtt://10.0.0.9:1883']);
  t.is(r.status, 0, r.out);
  t.deepEqual(stepLines(r.stdout).map((l) => l.split(' … ')[1]), ['unchanged', 'unchanged', 'changed', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
  t.regex(r.stdout, /^ +\| - {2}url: "mqtt:\/\/10\.0\.0\.5:1883"$/m);
  t.regex(r.stdout, /^ +\| \+ {2}url: "mqtt:\/\/10\.0\.0\.9:1883"$/m);
  t.regex(readFileSync(join(root, 'etc/kioskd/config.yaml.previous'), 'utf8'), /10\.0\.0\.5/);
});

test('groups the card already has are used, not created again', (t) => {
  const { dir, root } = setup(t, { groups: `root:x:0:\nlp:x:7:\ndialout:x:20:pi\nvideo:x:44:pi\n${unitGroups.filter((g) => !['lp', 'dialout', 'video'].includes(g)).map((g, i) => `${g}:x:${990 + i}:pi\n`).join('')}pi:x:1000:\n` });
  const r = provision(['--root', root, '--release', makeRelease(dir, '1.0.0'), '--device-id', 'k', '--mqtt-url', 'mqtt://b:1883', '--yes']);
  t.is(r.status, 0, r.out);
  t.notRegex(r.stdout, /\+ group (?!kioskd)/);
  for (const g of unitGroups) t.regex(accountLine(root, 'group', g) ?? '', /:kioskd$|,kioskd$/);
});

test('bad inputs are refused with a clear message and an exit code, and change nothing', (t) => {
  const { dir, root, secret } = setup(t);
  const good = makeRelease(dir, '1.0.0');
  const ok = ['--root', root, '--release', good, '--device-id', 'lobby-1', '--mqtt-url', 'mqtt://b:1883', '--yes'];
  const empty = mkdtempSync(join(dir, 'empty-'));
  const noRules = makeRelease(join(dir, 'norules'), '1.0.0', { rules: false });
  const notRelease = join(dir, 'junk.tar.gz');
  secret('junk.txt', 'not a release\n');
  spawnSync('tar', ['-czf', notRelease, '-C', dir, 'junk.txt']);
  const badTemplate = secret('t1.tmpl', 'device:\n  id: {{DEVICE_ID}}\nmqtt:\n  url: {{MQTT_URL}}\n  port: {{MQTT_PORT}}\n');
  const rejected = secret('t2.tmpl', 'device:\n  id: {{DEVICE_ID}}\nbogus: 1\n');
  const cases: [string, string[], number, RegExp][] = [
    ['no device id', ok.filter((a, i) => a !== '--device-id' && ok[i - 1] !== '--device-id'), 2, /--device-id is required/],
    ['a device id that is not one topic level', [...ok, '--device-id', 'Lobby/1'], 2, /--device-id "Lobby\/1" is not a kiosk id/],
    ['an unknown option', [...ok, '--colour'], 2, /unknown option --colour/],
    ['a password in the broker URL', [...ok, '--mqtt-url', 'mqtt://u:secret@b:1883'], 2, /must not carry a password/],
    ['a missing password file', [...ok, '--mqtt-password-file', join(dir, 'nope')], 2, /--mqtt-password-file .*nope: not a readable file/],
    ['a cert without its key', [...ok, '--mqtt-cert', secret('c.pem', 'x\n')], 2, /--mqtt-cert and --mqtt-key go together/],
    ['a root that is no root filesystem', [...ok, '--root', empty], 3, /is not a root filesystem: it has no \/etc\/os-release/],
    ['a missing release', [...ok, '--release', join(dir, 'kioskd-9.9.9.tar.gz')], 4, /--release .*kioskd-9\.9\.9\.tar\.gz: no such file/],
    ['a tarball that is no release', [...ok, '--release', notRelease], 4, /is not a kioskd release tarball/],
    ['a release without udev rules', [...ok, '--release', noRules], 4, /has no systemd\/99-kioskd\.rules/],
    ['an unknown template placeholder', [...ok, '--config-template', badTemplate], 6, /unknown placeholder \{\{MQTT_PORT\}\}/],
    ['a config that check-config rejects', [...ok, '--config-template', rejected], 6, /check-config rejects the config[^]*\/etc\/kioskd\/config\.yaml: 1 configuration error[^]*bogus: unknown key/],
    ['no --yes and no terminal to ask on', ok.filter((a) => a !== '--yes'), 2, /pass --yes/],
  ];
  const before = snapshot(root);
  for (const [what, args, code, message] of cases) {
    const r = provision(args);
    t.is(r.status, code, `${what}: ${r.out}`);
    t.regex(r.stderr, /^provision: error: /, what);
    t.regex(r.stderr, message, what);
    t.deepEqual(snapshot(root), before, `${what}: nothing changed`);
  }
});

test('a conflict in the last step stops the run before the first step changes anything', (t) => {
  const { dir, root } = setup(t);
  mkdirSync(join(root, 'etc/systemd/system/multi-user.target.wants/kioskd.service'), { recursive: true });
  const before = snapshot(root);
  const r = provision(['--root', root, '--release', makeRelease(dir, '1.0.0'), '--device-id', 'k', '--mqtt-url', 'mqtt://b:1883', '--yes']);
  t.is(r.status, 1, r.out);
  t.regex(r.stderr, /\/etc\/systemd\/system\/multi-user\.target\.wants\/kioskd\.service is a directory, not a symlink: move it away first/);
  t.deepEqual(stepLines(r.stdout), [], 'no step ran');
  t.deepEqual(snapshot(root), before);
});

test('node on the kiosk is checked: missing, or another major than the release was built with, stops provisioning', (t) => {
  const noNode = setup(t, { node: 'absent' });
  const args = (root: string, release: string) => ['--root', root, '--release', release, '--device-id', 'k', '--mqtt-url', 'mqtt://b:1883', '--yes'];
  const before = snapshot(noNode.root);
  const missing = provision(args(noNode.root, makeRelease(noNode.dir, '1.0.0')));
  t.is(missing.status, 5, missing.out);
  t.regex(missing.stderr, /has no \/usr\/bin\/node: install Node\.js \d+ on the kiosk first/);
  t.deepEqual(snapshot(noNode.root), before);
  const skipped = provision([...args(noNode.root, makeRelease(noNode.dir, '1.0.0')), '--skip-node-check']);
  t.is(skipped.status, 0, skipped.out);
  t.regex(skipped.stdout, /node on the kiosk not checked \(--skip-node-check\)/);

  const old = setup(t, { dpkgNode: '18.19.0+dfsg-6~deb12u2' });
  const wrong = provision(args(old.root, makeRelease(old.dir, '1.0.0')));
  t.is(wrong.status, 5, wrong.out);
  t.regex(wrong.stderr, /the kiosk's nodejs package is 18\.19\.0\+dfsg-6~deb12u2 but the release was built with Node v\d+/);
});

test('a release built for another CPU is installed, its config check is skipped with the reason', (t) => {
  const { dir, root } = setup(t);
  // Same Node major, another architecture: as when an arm64 card is provisioned from an x64 laptop.
  const release = makeRelease(dir, '1.0.0');
  const stageJson = join(dir, 'stage-1.0.0/kioskd-1.0.0/release.json');
  const other = process.arch === 'arm64' ? 'x64' : 'arm64';
  writeFileSync(stageJson, readFileSync(stageJson, 'utf8').replace(/"arch": "[^"]+"/, `"arch": "${other}"`).replace(/"target": "[^"]+"/, `"target": "linux-${other}"`));
  spawnSync('tar', ['-czf', release, '-C', join(dir, 'stage-1.0.0'), 'kioskd-1.0.0/release.json', 'kioskd-1.0.0']);
  const r = provision(['--root', root, '--release', release, '--device-id', 'k', '--mqtt-url', 'mqtt://b:1883', '--yes']);
  t.is(r.status, 0, r.out);
  t.regex(r.stdout, new RegExp(`config not checked here: the release is for linux-${other}`));
  t.is(readlinkSync(join(root, 'opt/kioskd/current')), 'releases/1.0.0');
});
