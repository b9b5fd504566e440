import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// scripts/flash/provision against directory trees standing in for an SD card's root
// filesystem, with small release tarballs made here (a real one takes a minute to build).

const PROVISION = resolve('scripts/flash/provision');
const UNIT = readFileSync('systemd/kioskd.service', 'utf8');
const SELFTEST_UNIT = readFileSync('systemd/kioskd-selftest.service', 'utf8');
// systemd/99-kioskd.rules is written by someone else; until it exists the fake release carries a stand-in.
const RULES = existsSync('systemd/99-kioskd.rules')
  ? readFileSync('systemd/99-kioskd.rules', 'utf8')
  : 'SUBSYSTEM=="tty", ENV{ID_SERIAL}=="test-scanner", SYMLINK+="kiosk-scanner", GROUP="dialout", MODE="0660"\n';
const TEMPLATE = readFileSync('scripts/flash/templates/config.yaml.tmpl', 'utf8');
const unitGroups = (UNIT.match(/^SupplementaryGroups=(.*)$/m)?.[1] ?? '').split(/\s+/).filter(Boolean);

if (process.getuid?.() !== 0)
  throw new Error(
    'test/integration/flash.test.ts runs the provisioning script, which needs root: run the tests as root (CI does), e.g. sudo npx ava test/integration/flash.test.ts',
  );

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
// As systemd presents them: $CREDENTIALS_DIRECTORY/<credential id>.
const creds = ['mqtt-password', 'bhyt-password'].filter((id) => existsSync(process.env.CREDENTIALS_DIRECTORY + '/' + id));
if (problems.length) { console.error(file + ': ' + problems.length + ' configuration error(s)\\n' + problems.join('\\n')); process.exit(78); }
console.log(file + ': configuration is valid (kiosk id "' + /id: "([^"]+)"/.exec(text)[1] + '", broker ' + (/url: "([^"]+)"/.exec(text)?.[1] ?? 'default') + ', credentials seen: ' + (creds.join(' ') || 'none') + ')');
`;

interface ReleaseOptions {
  readonly rules?: boolean;
  readonly unit?: string;
  /** Whether it carries systemd/kioskd-selftest.service (releases from before it did not). */
  readonly selftest?: boolean;
  readonly template?: string;
  readonly nodeVersion?: string;
  readonly commit?: string;
  readonly dirty?: boolean;
  readonly builtAt?: string;
  /** The CPU it was built for, in Node's names; this machine's by default. */
  readonly arch?: string;
}

const defaultCommit = (version: string) => `c0ffee${version.replace(/\D/g, '')}`;
/** The directory name under /opt/kioskd/releases/ of a clean build: <version>-<short commit>. */
const rel = (version: string, commit = defaultCommit(version)) => `${version}-${commit.slice(0, 12)}`;
/** Node's CPU names (process.arch) as dpkg says them, and as an ELF header's e_machine. */
const DPKG_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'armhf', ia32: 'i386' };
const ELF_MACHINE: Record<string, number> = { x64: 62, arm64: 183, arm: 40, ia32: 3 };
const hostDpkgArch = DPKG_ARCH[process.arch];
if (!hostDpkgArch) throw new Error(`test/integration/flash.test.ts knows no Debian name for this CPU (${process.arch}): add it to DPKG_ARCH`);
const otherArch = process.arch === 'arm64' ? 'x64' : 'arm64';

function makeRelease(dir: string, version: string, opts: ReleaseOptions = {}): string {
  const top = join(dir, `stage-${version}`, `kioskd-${version}`);
  mkdirSync(join(top, 'dist/src'), { recursive: true });
  mkdirSync(join(top, 'systemd'), { recursive: true });
  mkdirSync(join(top, 'scripts/flash/templates'), { recursive: true });
  writeFileSync(join(top, 'dist/src/main.js'), FAKE_MAIN);
  writeFileSync(join(top, 'package.json'), JSON.stringify({ name: 'kioskd', version, type: 'commonjs' }));
  writeFileSync(join(top, 'systemd/kioskd.service'), opts.unit ?? UNIT);
  if (opts.selftest !== false) writeFileSync(join(top, 'systemd/kioskd-selftest.service'), SELFTEST_UNIT);
  if (opts.rules !== false) writeFileSync(join(top, 'systemd/99-kioskd.rules'), RULES);
  writeFileSync(join(top, 'scripts/flash/templates/config.yaml.tmpl'), opts.template ?? TEMPLATE);
  const arch = opts.arch ?? process.arch;
  const info = {
    name: 'kioskd',
    version,
    commit: opts.commit ?? defaultCommit(version),
    dirty: opts.dirty ?? false,
    node: opts.nodeVersion ?? process.version,
    nodeAbi: Number(process.versions.modules),
    platform: process.platform,
    arch,
    libc: 'glibc',
    target: `${process.platform}-${arch}`,
    builtAt: opts.builtAt ?? '2026-01-01T00:00:00.000Z',
  };
  writeFileSync(join(top, 'release.json'), JSON.stringify(info, null, 2) + '\n');
  const build = createHash('sha256').update(JSON.stringify(info)).digest('hex').slice(0, 8);
  const tarball = join(dir, `kioskd-${version}-${build}.tar.gz`);
  const r = spawnSync('tar', ['-czf', tarball, '-C', join(dir, `stage-${version}`), `kioskd-${version}/release.json`, `kioskd-${version}`], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
  return tarball;
}

interface RootOptions {
  /** /usr/bin/node: a link to this machine's node (which the card cannot follow), none, or an ELF binary of this CPU reached through absolute links inside the card. */
  readonly node?: 'symlink' | 'absent' | { readonly elf: string };
  /** The Architecture: of nodejs in dpkg's database (this machine's by default); false: no nodejs package. */
  readonly dpkgNodeArch?: string | false;
  readonly dpkgNode?: string;
  /** The systemd package in dpkg's database (Bookworm's by default). */
  readonly dpkgSystemd?: string;
  readonly groups?: string;
  /** Where cmdline.txt is: Bookworm's boot partition mounted (default), older Pi OS, only Bookworm's stub (boot partition not mounted), none. */
  readonly boot?: 'firmware' | 'legacy' | 'stub' | 'none';
}

const CMDLINE = 'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait\n';
const CMDLINE_STUB = 'DO NOT EDIT THIS FILE\n\nThe file you are looking for has moved to /boot/firmware/cmdline.txt\n';

/** A Raspberry Pi OS-like root: root and pi, dialout/lp/video but no gpio, a machine-id, nodejs in dpkg's database, a kernel command line. */
function makeRoot(dir: string, opts: RootOptions = {}): string {
  const root = join(dir, 'root');
  for (const d of ['etc', 'usr/bin', 'var/lib/dbus', 'var/lib/dpkg', 'var/tmp', 'opt']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'etc/os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n');
  writeFileSync(
    join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/bash\nsystemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin\npi:x:1000:1000:,,,:/home/pi:/bin/bash\n',
  );
  writeFileSync(
    join(root, 'etc/group'),
    opts.groups ?? 'root:x:0:\nlp:x:7:\ndialout:x:20:pi\nvideo:x:44:pi\nsystemd-network:x:998:\nsystemd-journal:x:999:\npi:x:1000:\n',
  );
  writeFileSync(join(root, 'etc/shadow'), 'root:*:19700:0:99999:7:::\nsystemd-network:!*:19700::::::\npi:$y$j9T$salt$hash:19700:0:99999:7:::\n');
  writeFileSync(join(root, 'etc/gshadow'), 'root:*::\nlp:*::\ndialout:*::pi\nvideo:*::pi\nsystemd-network:!*::\nsystemd-journal:!*::\npi:!::\n');
  chmodSync(join(root, 'etc/shadow'), 0o640);
  chmodSync(join(root, 'etc/gshadow'), 0o640);
  writeFileSync(join(root, 'etc/machine-id'), '5f0e3c1d2b4a49d8a7c6e5f4d3c2b1a0\n');
  chmodSync(join(root, 'etc/machine-id'), 0o444);
  writeFileSync(join(root, 'var/lib/dbus/machine-id'), '5f0e3c1d2b4a49d8a7c6e5f4d3c2b1a0\n');
  const node = opts.node ?? 'symlink';
  if (node === 'symlink') symlinkSync(process.execPath, join(root, 'usr/bin/node'));
  if (typeof node === 'object') {
    // As Debian's alternatives lay it out: absolute links, to be read inside the card.
    mkdirSync(join(root, 'etc/alternatives'));
    symlinkSync('/etc/alternatives/node', join(root, 'usr/bin/node'));
    symlinkSync('/usr/bin/nodejs', join(root, 'etc/alternatives/node'));
    writeFileSync(join(root, 'usr/bin/nodejs'), elfHeader(node.elf), { mode: 0o755 });
  }
  const boot = opts.boot ?? 'firmware';
  if (boot !== 'none') mkdirSync(join(root, 'boot/firmware'), { recursive: true });
  if (boot === 'firmware' || boot === 'stub') writeFileSync(join(root, 'boot/cmdline.txt'), CMDLINE_STUB);
  if (boot === 'firmware') writeFileSync(join(root, 'boot/firmware/cmdline.txt'), CMDLINE);
  if (boot === 'legacy') writeFileSync(join(root, 'boot/cmdline.txt'), CMDLINE);
  const major = process.versions.node.split('.')[0];
  const nodejs =
    opts.dpkgNodeArch === false
      ? ''
      : `Package: nodejs\nStatus: install ok installed\nArchitecture: ${opts.dpkgNodeArch ?? hostDpkgArch}\nVersion: ${opts.dpkgNode ?? `${major}.19.2-1nodesource1`}\n\n`;
  writeFileSync(
    join(root, 'var/lib/dpkg/status'),
    `Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2\n\nPackage: systemd\nStatus: install ok installed\nVersion: ${opts.dpkgSystemd ?? '252.39-1~deb12u1'}\n\n${nodejs}`,
  );
  return root;
}

/** The first 64 bytes of a 64-bit little-endian ELF executable for a CPU (Node's name): all provisioning reads of a binary. */
function elfHeader(arch: string): Buffer {
  const machine = ELF_MACHINE[arch];
  if (machine === undefined) throw new Error(`no ELF machine number for ${arch}`);
  const b = Buffer.alloc(64);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  b.writeUInt16LE(2, 16);
  b.writeUInt16LE(machine, 18);
  return b;
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
const accountLine = (root: string, file: string, name: string) =>
  readFileSync(join(root, 'etc', file), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
const STEPS = 9;
const stepLines = (stdout: string) => stdout.split('\n').filter((l) => new RegExp(`^\\[\\d\\/${STEPS}\\] `).test(l));
const verdicts = (stdout: string) => stepLines(stdout).map((l) => l.split(' … ')[1]);
/** Every step's verdict: `changed` for the step numbers (1-based) given, `unchanged` for the rest. */
const only = (changed: readonly number[], word = 'changed') =>
  Array.from({ length: STEPS }, (_, i) => (changed.includes(i + 1) ? word : 'unchanged'));
const groupMembers = (root: string, file: string, name: string) => accountLine(root, file, name)?.split(':')[3]?.split(',').filter(Boolean) ?? [];

test('a dry run lists every file it would write, with mode and owner, and writes nothing', (t) => {
  const { dir, root, secret } = setup(t);
  const release = makeRelease(dir, '1.0.0');
  const before = snapshot(root);
  const r = provision([
    '--root',
    root,
    '--release',
    release,
    '--device-id',
    'lobby-1',
    '--mqtt-url',
    'mqtts://broker.hospital.vn:8883',
    '--mqtt-password-file',
    secret('pw', 'hunter2-secret\n'),
    '--dry-run',
  ]);
  t.is(r.status, 0, r.out);
  t.deepEqual(snapshot(root), before, 'a dry run changes nothing');
  t.deepEqual(verdicts(r.stdout), Array(STEPS).fill('would change'));
  for (const expected of [
    /update \/etc\/passwd \(0644 root:root\)/,
    /update \/etc\/group \(0644 root:root\)/,
    /update \/etc\/shadow \(0640 root:root\)/,
    /update \/etc\/gshadow \(0640 root:root\)/,
    /\+ user kioskd \(uid \d+, group \d+, home \/var\/lib\/kioskd, shell \/usr\/sbin\/nologin/,
    /\+ install kioskd 1\.0\.0 to \/opt\/kioskd\/releases\/1\.0\.0-c0ffee100\/ \(commit c0ffee100, built 2026-01-01T00:00:00\.000Z .*root:root/,
    /\+ link \/opt\/kioskd\/current → releases\/1\.0\.0-c0ffee100$/m,
    /\+ create \/etc\/kioskd\/config\.yaml \(0640 root:kioskd\)/,
    /\+ create \/etc\/credstore\/ \(0700 root:root\)/,
    /\+ create \/etc\/credstore\/kioskd\.mqtt-password \(0600 root:root\), content not shown/,
    /update \/etc\/machine-id \(0444 root:root\): content/,
    /replace the file \/var\/lib\/dbus\/machine-id by a symlink → \/etc\/machine-id/,
    /\+ create \/etc\/udev\/rules\.d\/99-kioskd\.rules \(0644 root:root\)/,
    /\+ create \/etc\/modules-load\.d\/kioskd\.conf \(0644 root:root\)/,
    /~ update \/boot\/firmware\/cmdline\.txt: append cgroup_enable=memory/,
    /^ +\| \+console=serial0,115200 .* rootwait cgroup_enable=memory$/m,
    /\+ create \/etc\/systemd\/system\/kioskd\.service \(0644 root:root\)/,
    /\+ link \/etc\/systemd\/system\/multi-user\.target\.wants\/kioskd\.service → \/etc\/systemd\/system\/kioskd\.service/,
    /\+ create \/etc\/systemd\/system\/kioskd-selftest\.service \(0644 root:root\)/,
    /· kioskd-selftest\.service is not enabled/,
    new RegExp(`· CPU: ${process.arch}, as the release \\(dpkg's nodejs:${hostDpkgArch}\\)`),
    /checked by the release's kioskd check-config: configuration is valid \(kiosk id "lobby-1", .*credentials seen: mqtt-password\)/,
  ]) {
    t.regex(r.stdout, expected);
  }
  t.notRegex(r.stdout, /secrets\/|credentials\.conf/, 'no more /etc/kioskd/secrets/ and drop-in');
  t.regex(r.stdout, new RegExp(`dry run: ${STEPS} of ${STEPS} steps would change; nothing was written\\n$`));
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
    '--root',
    root,
    '--release',
    release,
    '--device-id',
    'lobby-1',
    '--mqtt-url',
    'mqtts://broker.hospital.vn:8883',
    '--mqtt-password-file',
    mqttPw,
    '--bhyt-password-file',
    bhytPw,
    '--mqtt-ca',
    ca,
    '--mqtt-cert',
    cert,
    '--mqtt-key',
    key,
    '--yes',
  ];
  const first = provision(args);
  t.is(first.status, 0, first.out);
  t.deepEqual(verdicts(first.stdout), Array(STEPS).fill('changed'));
  t.regex(first.stdout, new RegExp(`done: ${STEPS} of ${STEPS} steps changed\\n$`));

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
  t.deepEqual(unitGroups, ['video', 'gpio'], 'scanner and printer come through group kioskd (udev rules), not dialout or lp');
  t.is(accountLine(root, 'group', 'video'), 'video:x:44:pi,kioskd', 'existing members stay');
  for (const g of ['dialout', 'lp']) t.false(groupMembers(root, 'group', g).includes('kioskd'), `kioskd is not in ${g}`);
  t.deepEqual(stat(join(root, 'etc/shadow')), { mode: '0640', owner: '0:0' }, 'account files keep their mode');
  t.is(readFileSync(join(root, 'etc/passwd-'), 'utf8').includes('kioskd'), false, 'the previous passwd is kept as passwd-');

  // The release, runnable where it was installed.
  t.is(readlinkSync(join(root, 'opt/kioskd/current')), `releases/${rel('1.0.0')}`);
  t.deepEqual(stat(join(root, `opt/kioskd/releases/${rel('1.0.0')}/dist/src/main.js`)), { mode: '0644', owner: '0:0' });
  t.is(spawnSync(process.execPath, [join(root, 'opt/kioskd/current/dist/src/main.js'), '--version'], { encoding: 'utf8' }).stdout, '1.0.0\n');
  t.deepEqual(readdirSync(join(root, 'var/tmp')), [], 'no unpacked leftovers');

  // Config, secrets and certificates.
  const config = readFileSync(join(root, 'etc/kioskd/config.yaml'), 'utf8');
  t.deepEqual(stat(join(root, 'etc/kioskd/config.yaml')), { mode: '0640', owner: `0:${gid}` });
  t.regex(config, /^ {2}id: "lobby-1"$/m);
  t.regex(config, /^ {2}url: "mqtts:\/\/broker\.hospital\.vn:8883"$/m);
  t.regex(config, /^ {2}username: "lobby-1"$/m, 'the broker user name is the device id');
  t.regex(
    config,
    /^ {2}tls: \{ caFile: "\/etc\/kioskd\/tls\/ca\.pem", certFile: "\/etc\/kioskd\/tls\/client\.pem", keyFile: "\/etc\/kioskd\/tls\/client\.key" \}$/m,
  );
  t.notRegex(config, /hunter2|gateway-secret/);
  // Secrets where the unit's LoadCredential=<id>:kioskd.<id> finds them.
  t.deepEqual(stat(join(root, 'etc/credstore')), { mode: '0700', owner: '0:0' });
  t.deepEqual(readdirSync(join(root, 'etc/credstore')).sort(), ['kioskd.bhyt-password', 'kioskd.mqtt-password']);
  for (const [name, text] of [
    ['mqtt-password', 'hunter2-secret\n'],
    ['bhyt-password', 'gateway-secret\n'],
  ] as const) {
    t.regex(UNIT, new RegExp(`^LoadCredential=${name}:kioskd\\.${name}$`, 'm'), `the unit loads ${name} from the credstore`);
    t.deepEqual(stat(join(root, `etc/credstore/kioskd.${name}`)), { mode: '0600', owner: '0:0' });
    t.is(readFileSync(join(root, `etc/credstore/kioskd.${name}`), 'utf8'), text);
  }
  t.false(existsSync(join(root, 'etc/kioskd/secrets')), 'no /etc/kioskd/secrets any more');
  t.regex(first.stdout, /credentials seen: mqtt-password bhyt-password\)/, 'check-config saw the credentials under the names systemd gives them');
  t.deepEqual(stat(join(root, 'etc/kioskd/tls/ca.pem')), { mode: '0644', owner: '0:0' });
  t.deepEqual(stat(join(root, 'etc/kioskd/tls/client.key')), { mode: '0640', owner: `0:${gid}` }, 'the daemon reads its key as kioskd');

  // A machine-id of its own for each clone.
  t.is(readFileSync(join(root, 'etc/machine-id'), 'utf8'), '');
  t.deepEqual(stat(join(root, 'etc/machine-id')), { mode: '0444', owner: '0:0' });
  t.is(readlinkSync(join(root, 'var/lib/dbus/machine-id')), '/etc/machine-id');

  // udev rules, drivers at boot, the memory cgroup, the unit as the release has it (no drop-in), enabled.
  t.is(readFileSync(join(root, 'etc/udev/rules.d/99-kioskd.rules'), 'utf8'), RULES);
  const modules = readFileSync(join(root, 'etc/modules-load.d/kioskd.conf'), 'utf8');
  t.deepEqual(
    modules.split('\n').filter((l) => l && !l.startsWith('#')),
    ['cdc_acm', 'usblp'],
  );
  t.regex(modules, /^# .*DeviceAllow=/m, 'the file says why');
  t.deepEqual(stat(join(root, 'etc/modules-load.d/kioskd.conf')), { mode: '0644', owner: '0:0' });
  t.is(readFileSync(join(root, 'boot/firmware/cmdline.txt'), 'utf8'), CMDLINE.replace(/\n$/, ' cgroup_enable=memory\n'));
  t.is(readFileSync(join(root, 'boot/cmdline.txt'), 'utf8'), CMDLINE_STUB, "Bookworm's stub is left alone");
  t.is(readFileSync(join(root, 'etc/systemd/system/kioskd.service'), 'utf8'), UNIT);
  t.deepEqual(stat(join(root, 'etc/systemd/system/kioskd.service')), { mode: '0644', owner: '0:0' });
  t.false(existsSync(join(root, 'etc/systemd/system/kioskd.service.d')), 'no credentials drop-in: the unit loads its credentials itself');
  t.is(readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants/kioskd.service')), '/etc/systemd/system/kioskd.service');
  // The self-test unit beside it, started by hand only: not enabled anywhere.
  t.is(readFileSync(join(root, 'etc/systemd/system/kioskd-selftest.service'), 'utf8'), SELFTEST_UNIT);
  t.deepEqual(stat(join(root, 'etc/systemd/system/kioskd-selftest.service')), { mode: '0644', owner: '0:0' });
  const wants = readdirSync(join(root, 'etc/systemd/system')).filter((n) => n.endsWith('.wants'));
  t.deepEqual(
    wants.flatMap((w) => readdirSync(join(root, 'etc/systemd/system', w))),
    ['kioskd.service'],
    'kioskd-selftest.service is not enabled',
  );

  const after = snapshot(root);
  const second = provision(args);
  t.is(second.status, 0, second.out);
  t.deepEqual(verdicts(second.stdout), Array(STEPS).fill('unchanged'));
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
  t.deepEqual(verdicts(upgrade.stdout), only([2]));
  t.regex(upgrade.stdout, /~ point \/opt\/kioskd\/current → releases\/1\.1\.0-c0ffee110 \(was releases\/1\.0\.0-c0ffee100\)/);
  t.is(readlinkSync(join(root, 'opt/kioskd/current')), `releases/${rel('1.1.0')}`);
  t.is(readlinkSync(join(root, 'opt/kioskd/previous')), `releases/${rel('1.0.0')}`);
  t.deepEqual(readdirSync(join(root, 'opt/kioskd/releases')).sort(), [rel('1.0.0'), rel('1.1.0')]);

  const back = provision([...base, '--release', makeRelease(dir, '1.0.0')]);
  t.is(back.status, 0, back.out);
  t.notRegex(back.stdout, /unpacking/);
  t.is(readlinkSync(join(root, 'opt/kioskd/current')), `releases/${rel('1.0.0')}`);
  t.is(readlinkSync(join(root, 'opt/kioskd/previous')), `releases/${rel('1.1.0')}`);
});

test('another build of the installed version goes beside it: the running files are never replaced', (t) => {
  const { dir, root } = setup(t);
  const base = ['--root', root, '--device-id', 'ward-2', '--mqtt-url', 'mqtt://10.0.0.5:1883', '--yes'];
  const releases = join(root, 'opt/kioskd/releases');
  t.is(provision([...base, '--release', makeRelease(dir, '1.0.0')]).status, 0);
  const running = snapshot(join(releases, rel('1.0.0')));

  // Another commit, same version: a directory of its own; the one running stays as it was and becomes previous.
  const rebuilt = provision([...base, '--release', makeRelease(dir, '1.0.0', { commit: 'feedbeef0123456789' })]);
  t.is(rebuilt.status, 0, rebuilt.out);
  t.deepEqual(verdicts(rebuilt.stdout), only([2]));
  t.regex(rebuilt.stdout, /\+ install kioskd 1\.0\.0 to \/opt\/kioskd\/releases\/1\.0\.0-feedbeef0123\/ \(commit feedbeef0123,/);
  t.is(readlinkSync(join(root, 'opt/kioskd/current')), 'releases/1.0.0-feedbeef0123');
  t.is(readlinkSync(join(root, 'opt/kioskd/previous')), `releases/${rel('1.0.0')}`);
  t.deepEqual(snapshot(join(releases, rel('1.0.0'))), running, 'the first build is left intact');

  // Built from uncommitted changes: the build time tells such builds apart.
  const dirty = provision([
    ...base,
    '--release',
    makeRelease(dir, '1.0.0', { commit: 'feedbeef0123456789', dirty: true, builtAt: '2026-03-04T05:06:07.890Z' }),
  ]);
  t.is(dirty.status, 0, dirty.out);
  t.regex(dirty.stdout, /\(commit feedbeef0123 with uncommitted changes, built 2026-03-04T05:06:07\.890Z/);
  t.is(readlinkSync(join(root, 'opt/kioskd/current')), 'releases/1.0.0-feedbeef0123-dirty-20260304T050607Z');
  t.is(readlinkSync(join(root, 'opt/kioskd/previous')), 'releases/1.0.0-feedbeef0123');

  // The same commit built again (another day, another Node patch): its name is taken, so the build time goes in it.
  const again = makeRelease(dir, '1.0.0', { commit: 'feedbeef0123456789', builtAt: '2026-05-06T07:08:09.000Z' });
  const rebuiltAgain = provision([...base, '--release', again]);
  t.is(rebuiltAgain.status, 0, rebuiltAgain.out);
  t.is(readlinkSync(join(root, 'opt/kioskd/current')), 'releases/1.0.0-feedbeef0123-20260506T070809Z');
  t.regex(
    readFileSync(join(releases, '1.0.0-feedbeef0123/release.json'), 'utf8'),
    /"builtAt": "2026-01-01T00:00:00\.000Z"/,
    'the first build of that commit is still there',
  );
  const same = provision([...base, '--release', again]);
  t.is(same.status, 0, same.out);
  t.regex(same.stdout, /\nno changes\n$/, 'the same build is recognised under its longer name');
  t.deepEqual(readdirSync(releases).sort(), [
    rel('1.0.0'),
    '1.0.0-feedbeef0123',
    '1.0.0-feedbeef0123-20260506T070809Z',
    '1.0.0-feedbeef0123-dirty-20260304T050607Z',
  ]);
  t.deepEqual(snapshot(join(releases, rel('1.0.0'))), running);
});

test('a release installed by an earlier version of this script as releases/<version> is recognised, not unpacked again', (t) => {
  const { dir, root } = setup(t);
  const release = makeRelease(dir, '1.0.0');
  const base = ['--root', root, '--release', release, '--device-id', 'ward-2', '--mqtt-url', 'mqtt://10.0.0.5:1883', '--yes'];
  t.is(provision(base).status, 0);
  // What the earlier layout looked like: the version alone names the directory.
  renameSync(join(root, 'opt/kioskd/releases', rel('1.0.0')), join(root, 'opt/kioskd/releases/1.0.0'));
  rmSync(join(root, 'opt/kioskd/current'));
  symlinkSync('releases/1.0.0', join(root, 'opt/kioskd/current'));
  const r = provision(base);
  t.is(r.status, 0, r.out);
  t.regex(r.stdout, /\nno changes\n$/);
  t.notRegex(r.stdout, /unpacking/);
  // A new build then goes beside it under the new naming, and the old directory becomes previous.
  const up = provision([...base, '--release', makeRelease(dir, '1.0.1')]);
  t.is(up.status, 0, up.out);
  t.is(readlinkSync(join(root, 'opt/kioskd/current')), `releases/${rel('1.0.1')}`);
  t.is(readlinkSync(join(root, 'opt/kioskd/previous')), 'releases/1.0.0');
});

test('the self-test unit is installed when the release has one; an older release without it says so', (t) => {
  const { dir, root } = setup(t);
  const base = ['--root', root, '--device-id', 'ward-2', '--mqtt-url', 'mqtt://10.0.0.5:1883', '--yes'];
  const older = provision([...base, '--release', makeRelease(dir, '0.9.0', { selftest: false })]);
  t.is(older.status, 0, older.out);
  t.regex(older.stdout, /· the release has no systemd\/kioskd-selftest\.service \(it is older than the self-test unit\): not installed/);
  t.false(existsSync(join(root, 'etc/systemd/system/kioskd-selftest.service')));

  const newer = provision([...base, '--release', makeRelease(dir, '1.0.0')]);
  t.is(newer.status, 0, newer.out);
  t.deepEqual(verdicts(newer.stdout), only([2, 9]));
  t.regex(newer.stdout, /\+ create \/etc\/systemd\/system\/kioskd-selftest\.service \(0644 root:root\)/);
  t.is(readFileSync(join(root, 'etc/systemd/system/kioskd-selftest.service'), 'utf8'), SELFTEST_UNIT);
  t.deepEqual(stat(join(root, 'etc/systemd/system/kioskd-selftest.service')), { mode: '0644', owner: '0:0' });
  const after = snapshot(root);
  const again = provision([...base, '--release', makeRelease(dir, '1.0.0')]);
  t.regex(again.stdout, /\nno changes\n$/);
  t.notRegex(again.stdout, /kioskd-selftest\.service is not enabled/, 'said once, when it is installed');
  t.deepEqual(snapshot(root), after);

  // Rolling back to the older release leaves the newer unit, and says so.
  const back = provision([...base, '--release', makeRelease(dir, '0.9.0', { selftest: false }), '--dry-run']);
  t.is(back.status, 0, back.out);
  t.regex(back.stdout, /kioskd-selftest\.service, from a newer release, is left as it is/);
});

test('a changed option rewrites only the config, shows the difference and keeps the old file', (t) => {
  const { dir, root } = setup(t);
  const release = makeRelease(dir, '1.0.0');
  const base = ['--root', root, '--release', release, '--device-id', 'ward-2', '--yes'];
  t.is(provision([...base, '--mqtt-url', 'mqtt://10.0.0.5:1883']).status, 0);
  const r = provision([...base, '--mqtt-url', 'mqtt://10.0.0.9:1883']);
  t.is(r.status, 0, r.out);
  t.deepEqual(verdicts(r.stdout), only([3]));
  t.regex(r.stdout, /^ +\| - {2}url: "mqtt:\/\/10\.0\.0\.5:1883"$/m);
  t.regex(r.stdout, /^ +\| \+ {2}url: "mqtt:\/\/10\.0\.0\.9:1883"$/m);
  t.regex(readFileSync(join(root, 'etc/kioskd/config.yaml.previous'), 'utf8'), /10\.0\.0\.5/);
});

test('TLS files given once stay named in the config when a later run does not repeat them', (t) => {
  const { dir, root, secret } = setup(t);
  const base = ['--root', root, '--release', makeRelease(dir, '1.0.0'), '--device-id', 'ward-2', '--mqtt-url', 'mqtts://b:8883', '--yes'];
  const ca = secret('ca.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const first = provision([...base, '--mqtt-ca', ca, '--mqtt-cert', secret('c.pem', 'cert\n'), '--mqtt-key', secret('c.key', 'key\n')]);
  t.is(first.status, 0, first.out);
  const tlsLine =
    /^ {2}tls: \{ caFile: "\/etc\/kioskd\/tls\/ca\.pem", certFile: "\/etc\/kioskd\/tls\/client\.pem", keyFile: "\/etc\/kioskd\/tls\/client\.key" \}$/m;
  t.regex(readFileSync(join(root, 'etc/kioskd/config.yaml'), 'utf8'), tlsLine);
  const again = provision(base);
  t.is(again.status, 0, again.out);
  t.deepEqual(verdicts(again.stdout), only([]));
  t.regex(readFileSync(join(root, 'etc/kioskd/config.yaml'), 'utf8'), tlsLine, 'the config still names the installed files');
  // A key deleted by hand: the pair is left out of the config, and the run says why.
  rmSync(join(root, 'etc/kioskd/tls/client.key'));
  const halfPair = provision(base);
  t.is(halfPair.status, 0, halfPair.out);
  t.regex(readFileSync(join(root, 'etc/kioskd/config.yaml'), 'utf8'), /^ {2}tls: \{ caFile: "\/etc\/kioskd\/tls\/ca\.pem" \}$/m);
  t.regex(halfPair.stdout, /only one of \/etc\/kioskd\/tls\/client\.pem and \/etc\/kioskd\/tls\/client\.key exists/);
});

test('a kiosk provisioned the earlier way is migrated: secrets move to /etc/credstore, the drop-in and the old groups go', (t) => {
  const { dir, root, secret } = setup(t);
  const release = makeRelease(dir, '1.0.0');
  const base = ['--root', root, '--release', release, '--device-id', 'lobby-1', '--mqtt-url', 'mqtts://b:8883', '--yes'];
  const mqttPw = secret('mqtt-pw', 'hunter2-secret\n');
  t.is(provision([...base, '--mqtt-password-file', mqttPw, '--bhyt-password-file', secret('bhyt-pw', 'gateway-secret\n')]).status, 0);
  // What the earlier script left: secrets in /etc/kioskd/secrets, a drop-in loading them, kioskd in dialout and lp.
  const legacy = join(root, 'etc/kioskd/secrets');
  mkdirSync(legacy, { mode: 0o700 });
  for (const id of ['mqtt-password', 'bhyt-password']) {
    writeFileSync(join(legacy, id), readFileSync(join(root, `etc/credstore/kioskd.${id}`)), { mode: 0o600 });
  }
  rmSync(join(root, 'etc/credstore'), { recursive: true });
  mkdirSync(join(root, 'etc/systemd/system/kioskd.service.d'));
  writeFileSync(
    join(root, 'etc/systemd/system/kioskd.service.d/credentials.conf'),
    '# Written by scripts/flash/provision: one line per file in /etc/kioskd/secrets/.\n[Service]\nLoadCredential=mqtt-password:/etc/kioskd/secrets/mqtt-password\nLoadCredential=bhyt-password:/etc/kioskd/secrets/bhyt-password\n',
  );
  for (const file of ['group', 'gshadow']) {
    const p = join(root, 'etc', file);
    writeFileSync(
      p,
      readFileSync(p, 'utf8')
        .replace(/^(dialout:[^:]*:[^:]*:pi)$/m, '$1,kioskd')
        .replace(/^(lp:[^:]*:[^:]*:)$/m, '$1kioskd'),
    );
  }
  t.true(groupMembers(root, 'group', 'dialout').includes('kioskd') && groupMembers(root, 'gshadow', 'lp').includes('kioskd'));

  // The credstore and the old copy disagree: the run refuses to guess.
  mkdirSync(join(root, 'etc/credstore'), { mode: 0o700 });
  writeFileSync(join(root, 'etc/credstore/kioskd.mqtt-password'), 'another\n', { mode: 0o600 });
  let before = snapshot(root);
  const conflict = provision(base);
  t.is(conflict.status, 2, conflict.out);
  t.regex(conflict.stderr, /\/etc\/credstore\/kioskd\.mqtt-password and \/etc\/kioskd\/secrets\/mqtt-password .* differ: pass --mqtt-password-file/);
  t.deepEqual(snapshot(root), before);
  rmSync(join(root, 'etc/credstore'), { recursive: true });

  before = snapshot(root);
  const dry = provision([...base, '--dry-run']);
  t.is(dry.status, 0, dry.out);
  t.deepEqual(snapshot(root), before, 'a dry run changes nothing');
  t.deepEqual(verdicts(dry.stdout), only([1, 4, 9], 'would change'));
  for (const expected of [
    /~ kioskd leaves dialout lp: the unit no longer asks for them/,
    /\/etc\/kioskd\/secrets\/mqtt-password moves to \/etc\/credstore\/kioskd\.mqtt-password/,
    /\+ create \/etc\/credstore\/kioskd\.bhyt-password \(0600 root:root\), content not shown/,
    /- remove \/etc\/kioskd\/secrets\/bhyt-password/,
    /- remove \/etc\/kioskd\/secrets\/ \(empty/,
    /- remove \/etc\/systemd\/system\/kioskd\.service\.d\/credentials\.conf/,
    /- remove \/etc\/systemd\/system\/kioskd\.service\.d\/ \(empty\)/,
    /credentials seen: mqtt-password bhyt-password\)/,
  ]) {
    t.regex(dry.stdout, expected);
  }

  // No password options: the old copies are what the kiosk has, so they move.
  const r = provision(base);
  t.is(r.status, 0, r.out);
  t.deepEqual(verdicts(r.stdout), only([1, 4, 9]));
  t.is(readFileSync(join(root, 'etc/credstore/kioskd.mqtt-password'), 'utf8'), 'hunter2-secret\n');
  t.is(readFileSync(join(root, 'etc/credstore/kioskd.bhyt-password'), 'utf8'), 'gateway-secret\n');
  t.deepEqual(stat(join(root, 'etc/credstore/kioskd.bhyt-password')), { mode: '0600', owner: '0:0' });
  t.false(existsSync(legacy));
  t.false(existsSync(join(root, 'etc/systemd/system/kioskd.service.d')));
  t.is(accountLine(root, 'group', 'dialout'), 'dialout:x:20:pi');
  t.is(accountLine(root, 'group', 'lp'), 'lp:x:7:');
  t.is(accountLine(root, 'gshadow', 'dialout'), 'dialout:*::pi');
  for (const g of unitGroups) t.true(groupMembers(root, 'group', g).includes('kioskd'), `kioskd stays in ${g}`);

  const after = snapshot(root);
  const again = provision(base);
  t.is(again.status, 0, again.out);
  t.regex(again.stdout, /\nno changes\n$/);
  t.deepEqual(snapshot(root), after);

  // Going back to a release whose unit predates the credstore: the secrets it would not load are pointed out.
  const oldUnit = makeRelease(join(dir, 'old'), '0.9.0', { unit: UNIT.replace(/^LoadCredential=.*\n/gm, '') });
  const back = provision(['--root', root, '--release', oldUnit, '--device-id', 'lobby-1', '--mqtt-url', 'mqtts://b:8883', '--dry-run']);
  t.is(back.status, 0, back.out);
  t.regex(back.stdout, /warning: this release's unit does not load \/etc\/credstore\/kioskd\.mqtt-password/);
});

test('cgroup_enable=memory goes on the kernel command line once, wherever this Pi OS keeps it, and never into the Bookworm stub', (t) => {
  const run = (root: string, dir: string, extra: string[] = []) =>
    provision(['--root', root, '--release', makeRelease(dir, '1.0.0'), '--device-id', 'k', '--mqtt-url', 'mqtt://b:1883', '--yes', ...extra]);
  const step8 = (stdout: string) => stepLines(stdout)[7] ?? '';

  // Older Pi OS: /boot/cmdline.txt, here without a final newline and with trailing blanks.
  const older = setup(t, { boot: 'legacy' });
  writeFileSync(join(older.root, 'boot/cmdline.txt'), CMDLINE.replace(/\n$/, '  '));
  const first = run(older.root, older.dir);
  t.is(first.status, 0, first.out);
  t.regex(step8(first.stdout), /… changed$/);
  t.regex(first.stdout, /~ update \/boot\/cmdline\.txt: append cgroup_enable=memory/);
  t.is(readFileSync(join(older.root, 'boot/cmdline.txt'), 'utf8'), CMDLINE.replace(/\n$/, ' cgroup_enable=memory\n'));
  const second = run(older.root, older.dir);
  t.regex(step8(second.stdout), /… unchanged$/);
  t.regex(second.stdout, /· \/boot\/cmdline\.txt has cgroup_enable=memory/);
  t.is(readFileSync(join(older.root, 'boot/cmdline.txt'), 'utf8'), CMDLINE.replace(/\n$/, ' cgroup_enable=memory\n'));

  // Already there (k3s guides add it): not added twice.
  const present = setup(t);
  writeFileSync(join(present.root, 'boot/firmware/cmdline.txt'), CMDLINE.replace('rootwait', 'cgroup_enable=memory rootwait'));
  const p = run(present.root, present.dir, ['--dry-run']);
  t.is(p.status, 0, p.out);
  t.regex(step8(p.stdout), /… unchanged$/);

  // A card with only its root partition mounted shows Bookworm's stub: a note, not an edit, not an error.
  const stub = setup(t, { boot: 'stub' });
  const s = run(stub.root, stub.dir);
  t.is(s.status, 0, s.out);
  t.regex(step8(s.stdout), /… unchanged$/);
  t.regex(
    s.stdout,
    /no kernel command line: .*\/boot\/firmware\/cmdline\.txt is missing \(\/boot\/cmdline\.txt is Bookworm's "has moved" stub\); left alone\. Mount the card's boot partition/,
  );
  t.is(readFileSync(join(stub.root, 'boot/cmdline.txt'), 'utf8'), CMDLINE_STUB);

  const none = setup(t, { boot: 'none' });
  const n = run(none.root, none.dir, ['--dry-run']);
  t.is(n.status, 0, n.out);
  t.regex(step8(n.stdout), /… unchanged$/);
  t.regex(n.stdout, /no kernel command line: .*cmdline\.txt is missing; left alone/);
  t.false(existsSync(join(none.root, 'boot')));
});

test('a card whose systemd cannot load credentials by name (before 250, e.g. Bullseye) is warned, and only then', (t) => {
  for (const [version, warned] of [
    ['247.3-7+deb11u6', true],
    ['252.39-1~deb12u1', false],
  ] as const) {
    const { dir, root, secret } = setup(t, { dpkgSystemd: version, boot: 'legacy' });
    const r = provision([
      '--root',
      root,
      '--release',
      makeRelease(dir, '1.0.0'),
      '--device-id',
      'k',
      '--mqtt-url',
      'mqtt://b:1883',
      '--mqtt-password-file',
      secret('pw', 'x\n'),
      '--dry-run',
    ]);
    t.is(r.status, 0, r.out);
    t.is(
      /warning: the kiosk has systemd 247, which does not look up credentials by name in \/etc\/credstore\/ .*kioskd would start without mqtt-password/.test(
        r.stdout,
      ),
      warned,
      `systemd ${version}: ${r.stdout}`,
    );
  }
});

test('groups the card already has are used, not created again', (t) => {
  const { dir, root } = setup(t, {
    groups: `root:x:0:\nlp:x:7:\ndialout:x:20:pi\nvideo:x:44:pi\n${unitGroups
      .filter((g) => !['lp', 'dialout', 'video'].includes(g))
      .map((g, i) => `${g}:x:${990 + i}:pi\n`)
      .join('')}pi:x:1000:\n`,
  });
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
  const noCredentials = makeRelease(join(dir, 'nocreds'), '1.0.0', { unit: UNIT.replace(/^LoadCredential=.*\n/gm, '') });
  const otherCpu = makeRelease(join(dir, 'other'), '1.0.0', { arch: otherArch });
  const cases: [string, string[], number, RegExp][] = [
    [
      'no --root',
      ok.filter((a, i) => a !== '--root' && ok[i - 1] !== '--root'),
      2,
      /--root DIR is required; use --root \/ to provision this machine/,
    ],
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
    [
      "a release for another CPU than the card's nodejs package",
      [...ok, '--release', otherCpu],
      4,
      new RegExp(
        `the release is linux-${otherArch} but this root is ${process.arch} \\(dpkg's nodejs:${hostDpkgArch}\\): its native modules would not load there`,
      ),
    ],
    // The laptop itself, named on purpose: a dry run, and refused before it would look any further.
    [
      'a release for another CPU than this machine, with --root /',
      [...ok, '--root', '/', '--release', otherCpu, '--dry-run'],
      4,
      new RegExp(
        `the release is linux-${otherArch} but this root is ${process.arch} \\(.*\\): .* Is this the machine you meant\\? To provision a card, mount it and pass --root /mnt/sdroot`,
      ),
    ],
    [
      'a password for a credential the unit does not load',
      [...ok, '--release', noCredentials, '--mqtt-password-file', secret('pw', 'x\n')],
      4,
      /--mqtt-password-file: the release's systemd\/kioskd\.service loads no credential mqtt-password/,
    ],
    ['an unknown template placeholder', [...ok, '--config-template', badTemplate], 6, /unknown placeholder \{\{MQTT_PORT\}\}/],
    [
      'a config that check-config rejects',
      [...ok, '--config-template', rejected],
      6,
      /check-config rejects the config[^]*\/etc\/kioskd\/config\.yaml: 1 configuration error[^]*bogus: unknown key/,
    ],
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

test("the card's CPU is told by its node binary when dpkg does not know node, and a card that cannot tell is provisioned with a note", (t) => {
  const args = (root: string, release: string) => ['--root', root, '--release', release, '--device-id', 'k', '--mqtt-url', 'mqtt://b:1883', '--yes'];
  // Node from a tarball, say: /usr/bin/node, through absolute links that mean the card's files, not this machine's.
  const wrong = setup(t, { dpkgNodeArch: false, node: { elf: otherArch } });
  const before = snapshot(wrong.root);
  const r = provision(args(wrong.root, makeRelease(wrong.dir, '1.0.0')));
  t.is(r.status, 4, r.out);
  t.regex(
    r.stderr,
    new RegExp(`the release is linux-${process.arch} but this root is ${otherArch} \\(/usr/bin/node is an ${otherArch} ELF binary\\)`),
  );
  t.deepEqual(snapshot(wrong.root), before);

  const right = setup(t, { dpkgNodeArch: false, node: { elf: otherArch } });
  const ok = provision(args(right.root, makeRelease(right.dir, '1.0.0', { arch: otherArch })));
  t.is(ok.status, 0, ok.out);
  t.regex(ok.stdout, new RegExp(`· CPU: ${otherArch}, as the release \\(/usr/bin/node is an ${otherArch} ELF binary\\)`));
  // Same Node major, another CPU, as when an arm64 card is provisioned from an x64 laptop: the config cannot be checked here.
  t.regex(ok.stdout, new RegExp(`config not checked here: the release is for linux-${otherArch}`));
  t.is(readlinkSync(join(right.root, 'opt/kioskd/current')), `releases/${rel('1.0.0')}`);

  // No nodejs package, and /usr/bin/node a link to a path the card does not have: said, not refused.
  const unknown = setup(t, { dpkgNodeArch: false });
  const u = provision(args(unknown.root, makeRelease(unknown.dir, '1.0.0', { arch: otherArch })));
  t.is(u.status, 0, u.out);
  t.regex(u.stdout, new RegExp(`· CPU: cannot tell this root's CPU .*: make sure it is ${otherArch}, as the release`));
});

// The broker's ACL (broker/mosquitto/kioskd.acl) gives user X the topics kiosk/X/... only, so a
// kiosk's broker user name is its device id; test/contract/mqtt-acl.test.ts runs that ACL in mosquitto.
const ACL_PATTERNS = readFileSync('broker/mosquitto/kioskd.acl', 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('pattern '));

/**
 * provision() without blocking: ava hears of the tests that finished meanwhile. Its timeout
 * counts from the last result it heard, and the synchronous tests above give it none until
 * they are all done.
 */
function provisionAsync(args: readonly string[]): Promise<ReturnType<typeof provision>> {
  return new Promise((resolve, reject) => {
    const p = spawn('bash', [PROVISION, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmpdir() } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('error', reject);
    p.once('close', (status) => resolve({ status, stdout, stderr, out: `${stdout}${stderr}` }));
  });
}

test('the broker user name is the device id: the default, accepted when given, and another one is refused before anything is written', async (t) => {
  const { dir, root } = setup(t);
  const release = makeRelease(dir, '1.0.0');
  const base = ['--root', root, '--release', release, '--device-id', 'ward-3', '--mqtt-url', 'mqtt://10.0.0.5:1883', '--yes'];
  const first = await provisionAsync(base);
  t.is(first.status, 0, first.out);
  t.regex(readFileSync(join(root, 'etc/kioskd/config.yaml'), 'utf8'), /^ {2}username: "ward-3"$/m);
  const same = await provisionAsync([...base, '--mqtt-user', 'ward-3']);
  t.is(same.status, 0, same.out);
  t.regex(same.stdout, /\nno changes\n$/, '--mqtt-user with the device id is the default spelt out');

  const before = snapshot(root);
  const other = await provisionAsync([...base, '--mqtt-user', 'kiosk-ward-3']);
  t.is(other.status, 2, other.out);
  t.regex(
    other.stderr,
    /^provision: error: --mqtt-user "kiosk-ward-3" is not the device id "ward-3": a kiosk logs in to the broker with its device id as user name, because the broker's ACL \(broker\/mosquitto\/kioskd\.acl\) lets user X publish only to kiosk\/X\/\.\.\. .*Leave --mqtt-user out/,
  );
  t.is(other.stdout, '', 'refused before the header');
  t.deepEqual(snapshot(root), before);

  // A hospital template that writes a user name of its own (one for the whole fleet, say).
  const shared = join(dir, 'shared.tmpl');
  writeFileSync(shared, TEMPLATE.replace('username: {{MQTT_USER}}', 'username: "kiosks"  # one for all'));
  const fromTemplate = await provisionAsync([...base, '--config-template', shared]);
  t.is(fromTemplate.status, 6, fromTemplate.out);
  t.regex(
    fromTemplate.stderr,
    /shared\.tmpl sets mqtt\.username "kiosks", not the device id "ward-3": .*Write "username: \{\{MQTT_USER\}\}" in the template/,
  );
  t.deepEqual(snapshot(root), before);
});

test('every run prints the broker side: the mosquitto_passwd line for the device id (never the password) and the ACL pattern lines that already cover it', async (t) => {
  const { dir, root, secret } = setup(t);
  const release = makeRelease(dir, '1.0.0');
  const pw = secret('mqtt-pw', 'hunter2-secret\n');
  const base = ['--root', root, '--release', release, '--device-id', 'lobby-1', '--mqtt-url', 'mqtts://b:8883'];
  t.true(ACL_PATTERNS.length >= 7, 'the shipped ACL has its pattern lines');
  /** The lines from "broker:" up to the summary, which stays the last line. */
  const brokerBlock = (stdout: string) => {
    const m = /^broker: [^]*?(?=^(?:dry run: |done: |no changes$))/m.exec(stdout);
    return m ? m[0].trimEnd().split('\n') : [];
  };

  const dry = await provisionAsync([...base, '--mqtt-password-file', pw, '--dry-run']);
  t.is(dry.status, 0, dry.out);
  const block = brokerBlock(dry.stdout);
  t.log(block.join('\n'));
  t.regex(block[0] ?? '', /^broker: this kiosk logs in as user "lobby-1", its device id/);
  t.true(block.includes('        sudo mosquitto_passwd /etc/mosquitto/kioskd.passwd lobby-1'), 'the command that adds the user');
  t.regex(dry.stdout, /it asks for the password in .*mqtt-pw/, 'says which password to type, by file');
  t.notRegex(dry.out, /hunter2/, 'never the password itself');
  t.deepEqual(
    block.slice(-ACL_PATTERNS.length).map((l) => l.trim()),
    ACL_PATTERNS,
    "the pattern lines printed are the shipped ACL's",
  );
  t.regex(dry.stdout, /dry run: \d+ of \d+ steps would change; nothing was written\n$/, 'the summary is still the last line');
  t.notRegex(dry.stdout, /warning/);

  // Provisioned, then again: unchanged, and the broker side said again.
  t.is((await provisionAsync([...base, '--mqtt-password-file', pw, '--yes'])).status, 0);
  const again = await provisionAsync([...base, '--yes']);
  t.is(again.status, 0, again.out);
  t.regex(again.stdout, /\nno changes\n$/);
  t.regex(again.stdout, /it asks for the password the kiosk has \(\/etc\/credstore\/kioskd\.mqtt-password\)/);
  t.true(brokerBlock(again.stdout).includes('        sudo mosquitto_passwd /etc/mosquitto/kioskd.passwd lobby-1'));

  // A kiosk provisioned under another user name before: the switch is pointed out.
  const config = join(root, 'etc/kioskd/config.yaml');
  writeFileSync(config, readFileSync(config, 'utf8').replace('username: "lobby-1"', 'username: "kiosk-lobby-1"'));
  const renamed = await provisionAsync([...base, '--dry-run']);
  t.is(renamed.status, 0, renamed.out);
  t.regex(
    renamed.stdout,
    /· the kiosk logged in as "kiosk-lobby-1" until now: add "lobby-1" on the broker before kioskd restarts, then remove "kiosk-lobby-1"/,
  );
  t.regex(renamed.stdout, /^ +\| \+ {2}username: "lobby-1"$/m, 'the config step shows the change');

  // Another topic prefix, from the hospital's template: the lines to put in its ACL instead.
  const other = setup(t);
  const prefixed = join(other.dir, 'prefix.tmpl');
  writeFileSync(prefixed, TEMPLATE.replace('  username: {{MQTT_USER}}\n', '  username: {{MQTT_USER}}\n  topicPrefix: "benhvien-a"\n'));
  const p = await provisionAsync([
    '--root',
    other.root,
    '--release',
    makeRelease(other.dir, '1.0.0'),
    '--device-id',
    'lobby-1',
    '--mqtt-url',
    'mqtt://b:1883',
    '--config-template',
    prefixed,
    '--dry-run',
  ]);
  t.is(p.status, 0, p.out);
  t.regex(p.stdout, /mqtt\.topicPrefix is "benhvien-a": the pattern lines of the broker's kioskd\.acl must name it instead of kiosk/);
  t.deepEqual(
    brokerBlock(p.stdout)
      .slice(-ACL_PATTERNS.length)
      .map((l) => l.trim()),
    ACL_PATTERNS.map((l) => l.replace(' kiosk/', ' benhvien-a/')),
  );
  // No password at all: the broker set up as shipped would refuse the kiosk, and the run says so.
  t.regex(p.stdout, /warning: the kiosk has no MQTT password .*refuses it/);
});
