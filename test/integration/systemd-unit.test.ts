import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { DAEMON_MALLOC_ENV } from '../../hw-sim/daemon.js';

const UNIT = 'systemd/kioskd.service';
const RULES = 'systemd/99-kioskd.rules';
/** The device classes kioskd may open (systemd/README.md, "Adding a device"): scanner, printer, camera. */
const ALLOWED_DEVICE_CLASSES = ['char-ttyACM', 'char-hidraw', 'char-usb', 'char-usb_device', 'char-video4linux', 'char-media', 'char-dma_heap'];
/** udev SUBSYSTEM of a node the rules hand to kioskd → the device class the unit must allow for it. */
const CLASS_OF_SUBSYSTEM: Record<string, string> = {
  tty: 'char-ttyACM',
  hidraw: 'char-hidraw',
  usbmisc: 'char-usb',
  usb: 'char-usb_device',
  dma_heap: 'char-dma_heap',
};

function analyze(args: string[]): string {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8' });
  if (r.error) throw new Error('systemd-analyze is not installed: run `sudo apt-get install -y systemd`');
  return `${r.stdout}${r.stderr}`;
}

/** Every value of each key in [Service], in order (keys may repeat: DeviceAllow=, SystemCallFilter=). */
function serviceSection(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let inService = false;
  for (const line of text.split('\n')) {
    if (/^\[.*\]$/.test(line)) inService = line === '[Service]';
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (inService && m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}

const unitText = (): string => readFileSync(UNIT, 'utf8');
const service = (): Map<string, string[]> => serviceSection(unitText());
const one = (s: Map<string, string[]>, key: string): string | undefined => s.get(key)?.at(-1);
const bytes = (v: string | undefined): number => {
  const m = /^(\d+)([KMG]?)$/.exec(v ?? '');
  if (!m) throw new Error(`not a size: ${v}`);
  return Number(m[1]) * { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m[2] as '' | 'K' | 'M' | 'G'];
};

test('systemd-analyze verify finds nothing wrong with the unit beyond node missing on a build machine', (t) => {
  const complaints = analyze(['verify', UNIT])
    .split('\n')
    .filter((l) => l.trim() !== '')
    // CI images have node elsewhere than a kiosk's /usr/bin/node; nothing else is excused.
    .filter((l) => l !== 'kioskd.service: Command /usr/bin/node is not executable: No such file or directory');
  t.deepEqual(complaints, []);
});

test('systemd-analyze security rates the unit 2.0 or lower (a plain unit rates 9.6)', (t) => {
  const out = analyze(['security', '--offline=yes', UNIT]);
  const m = /Overall exposure level for kioskd\.service: (\d+\.\d+)/.exec(out);
  if (!m) return t.fail(`no "Overall exposure level" line in:\n${out}`);
  const score = Number(m[1]);
  t.true(
    score <= 2.0,
    `exposure ${score} is above 2.0:\n${out
      .split('\n')
      .filter((l) => l.startsWith('✗'))
      .join('\n')}`,
  );
});

test('the unit runs node directly as a notify service with a health-gated watchdog and never restart-loops on bad config', (t) => {
  const s = service();
  t.is(one(s, 'Type'), 'notify');
  t.is(one(s, 'NotifyAccess'), 'main', 'only node itself may report readiness and watchdog pings');
  t.regex(one(s, 'ExecStart') ?? '', /^\/usr\/bin\/node .*\/dist\/src\/main\.js --config \/etc\/kioskd\/config\.yaml$/);
  t.notRegex(one(s, 'ExecStart') ?? '', /\bnpm\b/);
  t.true(existsSync('src/main.ts'), 'ExecStart points at the build of src/main.ts');
  t.regex(one(s, 'WatchdogSec') ?? '', /^\d+s$/);
  t.is(one(s, 'Restart'), 'on-failure');
  t.is(one(s, 'RestartPreventExitStatus'), '64 78');
  // Never given up on: no start limit (kioskd slows a crash loop itself, lifecycle/restarts.ts).
  t.is(/^\[Unit\][^[]*^StartLimitIntervalSec=(.*)$/m.exec(unitText())?.[1], '0');
  t.notRegex(unitText(), /^StartLimitBurst=/m);
  t.is(one(s, 'KillMode'), 'mixed', 'camera child processes must not outlive a stop');
  // Face models take up to ~90 s on a Pi 4 before READY=1.
  t.true(Number(/^(\d+)s$/.exec(one(s, 'TimeoutStartSec') ?? '')?.[1]) >= 120);
  t.true(bytes(one(s, 'MemoryHigh')) < bytes(one(s, 'MemoryMax')), 'reclaim before the kill');
  t.true(bytes(one(s, 'MemoryHigh')) > 470 * 2 ** 20, 'above the ~470 MB the daemon holds with its models, or it is throttled all the time');
});

test('the unit runs as the fixed user kioskd with no capabilities, and its state directory is where the daemon keeps its state', (t) => {
  const s = service();
  t.is(one(s, 'User'), 'kioskd');
  t.is(one(s, 'Group'), 'kioskd');
  t.is(s.get('DynamicUser'), undefined);
  t.is(one(s, 'CapabilityBoundingSet'), '');
  t.is(one(s, 'AmbientCapabilities'), '');
  t.is(one(s, 'NoNewPrivileges'), 'yes');
  t.is(one(s, 'ProtectSystem'), 'strict');
  for (const g of (one(s, 'SupplementaryGroups') ?? '').split(/\s+/).filter(Boolean))
    t.true(['video', 'gpio'].includes(g), `group ${g}: scanner and printer go through group kioskd`);
  const loaded = parseConfig('', 'empty.yaml', { env: {}, hostname: () => 'kiosk-1' });
  t.is(loaded.config.kiosk.stateDir, `/var/lib/${one(s, 'StateDirectory')}`);
  // Writable paths beyond the state directory: GPIO sysfs only.
  for (const p of (s.get('ReadWritePaths') ?? []).join(' ').split(/\s+/).filter(Boolean))
    t.true(['-/sys/class/gpio', '-/sys/devices/platform'].includes(p), `ReadWritePaths ${p}`);
});

test('the credentials the unit loads are the ones the daemon reads, and a kiosk without them still starts', (t) => {
  const creds = (service().get('LoadCredential') ?? []).map((v) => v.split(':'));
  t.deepEqual(creds.map(([id]) => id).sort(), ['bhyt-password', 'mqtt-password']);
  for (const [id, source] of creds) {
    // An absolute path makes systemd refuse to start when the file is missing; a bare name is
    // looked up in /etc/credstore/ and skipped when absent.
    t.truthy(source, `${id} names its credstore entry`);
    t.notRegex(source!, /\//, `${id} is a credstore name, not a path`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-creds-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bhyt = 'bhyt: { enabled: true, username: 79001_BV, officerName: Officer, officerId: "000000000001" }\n';
  // What systemd puts in $CREDENTIALS_DIRECTORY is named by the credential id.
  for (const [id] of creds) writeFileSync(join(dir, id!), `secret-${id}\n`);
  const withCreds = parseConfig(bhyt, 'kiosk.yaml', { env: { CREDENTIALS_DIRECTORY: dir }, hostname: () => 'kiosk-1' });
  t.is(withCreds.secrets.mqttPassword, 'secret-mqtt-password');
  t.is(withCreds.secrets.bhytPassword, 'secret-bhyt-password');
  const empty = mkdtempSync(join(tmpdir(), 'kioskd-nocreds-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  const without = parseConfig('', 'kiosk.yaml', { env: { CREDENTIALS_DIRECTORY: empty }, hostname: () => 'kiosk-1' });
  t.deepEqual(without.secrets, {});
});

test('devices: closed policy, and only the scanner, printer and camera classes', (t) => {
  const s = service();
  t.is(one(s, 'DevicePolicy'), 'closed');
  t.not(one(s, 'PrivateDevices'), 'yes', 'PrivateDevices=yes would hide the real devices');
  const allowed = (s.get('DeviceAllow') ?? []).map((v) => {
    const [cls, rights] = v.split(/\s+/);
    t.is(rights, 'rw', v);
    return cls!;
  });
  t.deepEqual([...allowed].sort(), [...ALLOWED_DEVICE_CLASSES].sort());
  t.deepEqual((one(s, 'RestrictAddressFamilies') ?? '').split(/\s+/).sort(), ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX']);
  t.deepEqual(s.get('SystemCallFilter'), ['@system-service', '~@privileged @resources']);
  t.is(one(s, 'SystemCallErrorNumber'), 'EPERM');
  // V8 needs writable-then-executable memory for its JIT and WebAssembly: node dies at start-up with it.
  t.is(s.get('MemoryDenyWriteExecute'), undefined);
  t.is(one(s, 'LimitCORE'), '0', 'a core dump would hold ID-card data and face images');
});

// --- udev rules ---------------------------------------------------------------------------------
// systemd 252 has no `udevadm verify` (it came in 254), so the rules are checked here: every line
// is a comment, blank, or comma-separated KEY op "value" pairs with keys udev knows and operators
// that fit them.

type Pair = { key: string; attr?: string; op: string; value: string };
const MATCH_ONLY = new Set([
  'ACTION',
  'DEVPATH',
  'KERNEL',
  'KERNELS',
  'SUBSYSTEM',
  'SUBSYSTEMS',
  'DRIVER',
  'DRIVERS',
  'ATTRS',
  'TAGS',
  'RESULT',
  'TEST',
  'CONST',
  'PROGRAM',
]);
const MATCH_OR_ASSIGN = new Set(['NAME', 'SYMLINK', 'ENV', 'TAG', 'ATTR', 'SYSCTL']);
const ASSIGN_ONLY = new Set(['OWNER', 'GROUP', 'MODE', 'RUN', 'LABEL', 'GOTO', 'IMPORT', 'OPTIONS', 'SECLABEL']);
const WITH_ATTR = new Set(['ATTR', 'ATTRS', 'ENV', 'SYSCTL', 'TEST', 'CONST', 'IMPORT', 'RUN', 'SECLABEL']);
const PAIR = /^([A-Z_]+)(?:\{([^}]+)\})?\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,\s*|$)/;

/** Parses udev rules text; returns the rules (one per line) or throws naming the first bad line. */
function parseUdevRules(text: string): Pair[][] {
  const rules: Pair[][] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `line ${i + 1}: ${raw}`;
    if (line.endsWith('\\')) throw new Error(`${where}: continuation lines are not used here`);
    const pairs: Pair[] = [];
    let rest = line;
    while (rest !== '') {
      const m = PAIR.exec(rest);
      if (!m) throw new Error(`${where}: cannot read "${rest}"`);
      const [, key, attr, op, value] = m as unknown as [string, string, string | undefined, string, string];
      if (!MATCH_ONLY.has(key) && !MATCH_OR_ASSIGN.has(key) && !ASSIGN_ONLY.has(key)) throw new Error(`${where}: unknown key ${key}`);
      if (WITH_ATTR.has(key) !== (attr !== undefined) && key !== 'RUN' && key !== 'TEST')
        throw new Error(`${where}: ${key} ${attr === undefined ? 'needs' : 'takes no'} {…}`);
      const isMatch = op === '==' || op === '!=';
      if (isMatch && ASSIGN_ONLY.has(key)) throw new Error(`${where}: ${key} is assigned (=), not matched (${op})`);
      if (!isMatch && MATCH_ONLY.has(key) && key !== 'PROGRAM') throw new Error(`${where}: ${key} is matched (==), not assigned (${op})`);
      if ((key === 'LABEL' || key === 'GOTO') && op !== '=') throw new Error(`${where}: ${key} takes =`);
      if (key === 'MODE' && !/^0[0-7]{3}$/.test(value)) throw new Error(`${where}: MODE "${value}" is not four octal digits`);
      pairs.push({ key, ...(attr !== undefined ? { attr } : {}), op, value });
      rest = rest.slice(m[0].length);
    }
    rules.push(pairs);
  });
  const labels = new Set(
    rules
      .flat()
      .filter((p) => p.key === 'LABEL')
      .map((p) => p.value),
  );
  for (const p of rules.flat()) if (p.key === 'GOTO' && !labels.has(p.value)) throw new Error(`GOTO "${p.value}" has no LABEL`);
  return rules;
}

const get = (rule: Pair[], key: string, op?: string): string | undefined =>
  rule.find((p) => p.key === key && (op === undefined || p.op === op))?.value;

test('the udev rules checker rejects what udev would reject or misread', (t) => {
  t.notThrows(() =>
    parseUdevRules(
      '# c\n\nSUBSYSTEM=="tty", KERNEL=="ttyACM[0-9]*", GROUP="kioskd", MODE="0660", SYMLINK+="x"\nACTION=="remove", GOTO="e"\nLABEL="e"\n',
    ),
  );
  const bad: Array<[string, RegExp]> = [
    ['KERNEL="ttyACM*", GROUP="kioskd"', /matched \(==\), not assigned/],
    ['SUBSYSTEM=="tty", GROUP=="kioskd"', /assigned \(=\), not matched/],
    ['SUBSYSTEM=="tty", MODE="660"', /four octal digits/],
    ['SUBSYTEM=="tty", GROUP="kioskd"', /unknown key SUBSYTEM/],
    ['SUBSYSTEM=="tty" GROUP="kioskd"', /cannot read/],
    ['SUBSYSTEM=="tty, GROUP="kioskd"', /cannot read/],
    ['ATTRS=="da23"', /needs \{…\}/],
    ['ACTION=="remove", GOTO="nowhere"', /no LABEL/],
  ];
  for (const [rules, message] of bad) t.throws(() => parseUdevRules(rules), { message }, rules);
});

test('the udev rules parse, name /dev/kiosk-scanner and /dev/kiosk-printer, and give them to group kioskd only', (t) => {
  const rules = parseUdevRules(readFileSync(RULES, 'utf8'));
  const named = (link: string): Pair[] | undefined =>
    rules.find((r) => r.some((p) => p.key === 'SYMLINK' && p.op === '+=' && p.value.split(/\s+/).includes(link)));
  const scanner = named('kiosk-scanner');
  const printer = named('kiosk-printer');
  if (!scanner || !printer) return t.fail('a rule for kiosk-scanner and one for kiosk-printer');
  t.is(get(scanner, 'SUBSYSTEM', '=='), 'tty');
  t.is(get(scanner, 'KERNEL', '=='), 'ttyACM[0-9]*');
  t.is(get(printer, 'SUBSYSTEM', '=='), 'usbmisc');
  t.is(get(printer, 'KERNEL', '=='), 'lp[0-9]*');
  for (const r of [scanner, printer]) {
    t.is(get(r, 'GROUP', '='), 'kioskd');
    t.is(get(r, 'MODE', '='), '0660');
  }
  for (const r of rules.filter((r) => get(r, 'GROUP') !== undefined || get(r, 'MODE') !== undefined)) {
    const mode = get(r, 'MODE') ?? '';
    t.regex(mode, /^0[0-7][0-7]0$/, `no access for other users: ${JSON.stringify(r)}`);
    t.true(['kioskd', 'video'].includes(get(r, 'GROUP') ?? ''), `group kioskd, or video for the camera: ${JSON.stringify(r)}`);
    t.is(get(r, 'OWNER'), undefined);
    t.is(get(r, 'RUN'), undefined);
    // Every node handed over here must also pass the unit's device cgroup, or kioskd gets EPERM.
    const cls = CLASS_OF_SUBSYSTEM[get(r, 'SUBSYSTEM', '==') ?? ''];
    t.truthy(cls, `a known device class for ${JSON.stringify(r)}`);
    t.true(
      (service().get('DeviceAllow') ?? []).some((v) => v.startsWith(`${cls} `)),
      `DeviceAllow=${cls}`,
    );
  }
  // A HID scanner rule must name its model: hidraw also carries keyboards.
  for (const r of rules.filter((r) => get(r, 'SUBSYSTEM', '==') === 'hidraw')) {
    t.regex(r.find((p) => p.key === 'ATTRS' && p.attr === 'idVendor')?.value ?? '', /^[0-9a-f]{4}$/);
    t.regex(r.find((p) => p.key === 'ATTRS' && p.attr === 'idProduct')?.value ?? '', /^[0-9a-f]{4}$/);
  }
});

test('the self-test unit runs kioskd selftest under exactly the service sandbox, rates 2.0 or lower, and hands the devices back', (t) => {
  const SELFTEST = 'systemd/kioskd-selftest.service';
  const complaints = analyze(['verify', SELFTEST])
    .split('\n')
    .filter((l) => l.trim() !== '' && l !== 'kioskd-selftest.service: Command /usr/bin/node is not executable: No such file or directory');
  t.deepEqual(complaints, []);
  const score = Number(/Overall exposure level for kioskd-selftest\.service: (\d+\.\d+)/.exec(analyze(['security', '--offline=yes', SELFTEST]))?.[1]);
  t.true(score <= 2.0, `exposure ${score}`);
  const text = readFileSync(SELFTEST, 'utf8');
  const st = serviceSection(text);
  t.is(one(st, 'Type'), 'oneshot');
  t.regex(one(st, 'ExecStart') ?? '', /\/dist\/src\/main\.js selftest --config \/etc\/kioskd\/config\.yaml$/);
  // Starting it stops the kiosk (it takes the devices), and the kiosk comes back either way.
  for (const k of ['Conflicts', 'OnSuccess', 'OnFailure']) t.regex(text, new RegExp(`^${k}=kioskd\\.service$`, 'm'), k);
  // Every sandbox line of the service, the same here (only the daemon's lifecycle lines differ).
  const lifecycle = new Set([
    'Type',
    'NotifyAccess',
    'ExecStart',
    'WatchdogSec',
    'TimeoutStartSec',
    'TimeoutStopSec',
    'Restart',
    'RestartSec',
    'RestartPreventExitStatus',
    'KillMode',
    'StandardOutput',
    'StandardError',
  ]);
  const sandbox = (s: Map<string, string[]>) => [...s].filter(([k]) => !lifecycle.has(k)).sort(([a], [b]) => a.localeCompare(b));
  t.deepEqual(sandbox(st), sandbox(service()));
});

test('the unit runs kioskd with the malloc settings hw-sim and the benchmarks measured it with', (t) => {
  const env = (service().get('Environment') ?? []).flatMap((line) => line.split(/\s+/)).filter(Boolean);
  for (const [key, value] of Object.entries(DAEMON_MALLOC_ENV)) t.true(env.includes(`${key}=${value}`), `Environment=${key}=${value} missing`);
});
