/**
 * The broker ACL that ships in broker/mosquitto/: a real mosquitto runs the shipped kioskd.conf
 * (its listener moved to a free loopback port, its certificate paths to a throwaway PKI, its
 * password file to one made here by mosquitto_passwd) with the shipped kioskd.acl, read from
 * the repository as it is. Kiosks, a monitor and an operator then try what each role may and
 * may not do, and the real daemon, logged in as its device id, proves the ACL lets a kiosk do
 * everything it does, its last will included.
 *
 * A refused publish is silent in MQTT 3.1.1. So each check is made twice: over MQTT 5, where
 * the PUBACK says 0x87 (not authorized), and over MQTT 3.1.1, where a subscriber that may read
 * everything must not see it. Absence is judged by a marker: the forbidden message is published
 * (and acknowledged) first, a permitted one after it; once the marker has arrived, the
 * forbidden one would have arrived before it.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { startSim } from '../../hw-sim/sim.js';
import { killQuietly, runDaemon, type DaemonProc } from '../helpers/daemon.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { freePort, waitForListen } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';

const ACL = resolve('broker/mosquitto/kioskd.acl');
const CONF = resolve('broker/mosquitto/kioskd.conf');
/** Arrivals may take a while on a loaded machine; absences are judged by markers, not by waiting. */
const ARRIVAL_MS = 10_000;

/** A program on the PATH or at a Debian path; a missing one fails every test, saying what to install. */
function program(name: string, debianPath: string, why: string): string {
  const which = spawnSync('sh', ['-c', `command -v ${name} || ls ${debianPath}`], { encoding: 'utf8' });
  const bin = which.stdout.trim().split('\n')[0];
  if (!bin)
    throw new Error(`${name} is not installed: run \`sudo apt-get install -y ${why}\` (the ACL tests run a real mosquitto with the shipped ACL)`);
  return bin;
}

// ---------------------------------------------------------------------------------------------
// Who is who: kiosks log in as their device ids; the operator and the monitor are the example
// user sections of the shipped ACL, found by what they may do.

interface Creds {
  readonly username: string;
  readonly password: string;
}
const secret = (): string => randomBytes(12).toString('hex');
const kiosk = (id: string): Creds => ({ username: id, password: secret() });

const KIOSKS = {
  pubA: kiosk('pub-a'),
  pubB: kiosk('pub-b'),
  subA: kiosk('sub-a'),
  subB: kiosk('sub-b'),
  monA: kiosk('mon-a'),
  opA: kiosk('op-a'),
  spoofA: kiosk('spoof-a'),
  spoofB: kiosk('spoof-b'),
  e2e: kiosk('acl-e2e'),
};

/** The shipped ACL's user sections: user name → its topic lines. */
function userSections(acl: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const raw of acl.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const user = /^user (\S+)$/.exec(line);
    if (user) sections.set(user[1]!, (current = []));
    else if (line.startsWith('topic ') && current) current.push(line);
  }
  return sections;
}
const sections = userSections(readFileSync(ACL, 'utf8'));
const roleOf = (lines: string[]): 'operator' | 'monitor' | 'other' =>
  lines.includes('topic write kiosk/+/cmd/+')
    ? 'operator'
    : lines.includes('topic read kiosk/+/#') && !lines.some((l) => / (write|readwrite) /.test(l))
      ? 'monitor'
      : 'other';
const exampleUser = (role: 'operator' | 'monitor'): Creds => {
  const name = [...sections].find(([, lines]) => roleOf(lines) === role)?.[0];
  if (!name) throw new Error(`broker/mosquitto/kioskd.acl has no example ${role} section: the tests log in as it`);
  return { username: name, password: secret() };
};
const OPERATOR = exampleUser('operator');
const MONITOR = exampleUser('monitor');

// ---------------------------------------------------------------------------------------------
// The broker.

/**
 * The shipped kioskd.conf with only what must differ here replaced: the listener's port and
 * address, the certificate paths, the password file and the ACL's path. Everything else
 * (per_listener_settings, allow_anonymous, max_packet_size, the queue limits, tls_version) is
 * used as shipped. Debian's mosquitto.conf sets persistence and logging; here the log goes to
 * stderr with every type, "Denied PUBLISH" being a debug line.
 */
function testConf(shipped: string, at: { port: number; pki: Pki; passwords: string; acl: string }): string {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const raw of shipped.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const key = line.split(/\s+/)[0]!;
    seen.add(key);
    const replaced: Record<string, string> = {
      listener: `listener ${at.port} 127.0.0.1`,
      cafile: `cafile ${at.pki.ca}`,
      certfile: `certfile ${at.pki.serverCert}`,
      keyfile: `keyfile ${at.pki.serverKey}`,
      password_file: `password_file ${at.passwords}`,
      acl_file: `acl_file ${at.acl}`,
    };
    out.push(replaced[key] ?? line);
  }
  for (const key of [
    'per_listener_settings',
    'allow_anonymous',
    'password_file',
    'acl_file',
    'listener',
    'cafile',
    'certfile',
    'keyfile',
    'max_packet_size',
  ]) {
    if (!seen.has(key)) throw new Error(`broker/mosquitto/kioskd.conf has no ${key} line`);
  }
  return [...out, 'persistence false', 'log_dest stderr', 'log_type all', ''].join('\n');
}

interface Broker {
  readonly url: string;
  readonly ca: Buffer;
  /** The CA file, for a daemon's mqtt.tls.caFile. */
  readonly caFile: string;
  readonly log: () => string;
  stop(): Promise<void>;
}

async function startBroker(dir: string, users: readonly Creds[]): Promise<Broker> {
  const mosquitto = program('mosquitto', '/usr/sbin/mosquitto', 'mosquitto');
  const mosquittoPasswd = program('mosquitto_passwd', '/usr/bin/mosquitto_passwd', 'mosquitto');
  const pki = makePki(mkdtempSync(join(dir, 'pki-')));
  // user:password lines, hashed in place by mosquitto_passwd -U, as an operator would add them one by one.
  const passwords = join(dir, 'kioskd.passwd');
  writeFileSync(passwords, users.map((u) => `${u.username}:${u.password}\n`).join(''), { mode: 0o600 });
  const hashed = spawnSync(mosquittoPasswd, ['-U', passwords], { encoding: 'utf8' });
  if (hashed.status !== 0) throw new Error(`mosquitto_passwd -U failed: ${hashed.stderr}`);
  let acl = ACL;
  // As root mosquitto reads its files as user mosquitto, after dropping privileges.
  if (process.getuid?.() === 0) {
    const uid = spawnSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'mosquitto'], { encoding: 'utf8' });
    if (uid.status === 0) {
      // The repository's own file, unless this checkout is closed to other users: then the same bytes, beside the password file.
      if (spawnSync('runuser', ['-u', 'mosquitto', '--', 'test', '-r', ACL]).status !== 0) {
        acl = join(dir, 'kioskd.acl');
        copyFileSync(ACL, acl);
      }
      for (const f of [dir, passwords, acl, pki.dir, pki.ca, pki.serverCert, pki.serverKey])
        if (f.startsWith(dir)) chownSync(f, Number(uid.stdout), Number(gid.stdout));
    }
  }
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, testConf(readFileSync(CONF, 'utf8'), { port, pki, passwords, acl }));
  const proc: ChildProcess = spawn(mosquitto, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  try {
    await waitForListen(port, 10_000);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`mosquitto did not start: ${(err as Error).message}\n${log}`);
  }
  return {
    url: `mqtts://127.0.0.1:${port}`,
    ca: readFileSync(pki.ca),
    caFile: pki.ca,
    log: () => log,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      await new Promise<void>((r) => {
        proc.once('exit', () => r());
        proc.kill('SIGKILL');
      });
    },
  };
}

let dir: string;
let broker: Broker;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kioskd-acl-'));
  broker = await startBroker(dir, [...Object.values(KIOSKS), OPERATOR, MONITOR]);
});

test.after.always(async () => {
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Clients.

interface Seen {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
}

interface Client {
  readonly mqtt: MqttClient;
  readonly clientId: string;
  readonly seen: Seen[];
  /** The first message matching, waiting up to ARRIVAL_MS for it. */
  waitFor(pred: (m: Seen) => boolean, what: string): Promise<Seen>;
}

async function connect(t: ExecutionContext, who: Creds | null, protocolVersion: 4 | 5 = 4, extra: IClientOptions = {}): Promise<Client> {
  const clientId = `acl-test-${who?.username ?? 'anonymous'}-v${protocolVersion}-${randomBytes(4).toString('hex')}`;
  const client = await mqtt.connectAsync(broker.url, {
    protocolVersion,
    clientId,
    reconnectPeriod: 0,
    connectTimeout: ARRIVAL_MS,
    ca: [broker.ca],
    ...(who ? { username: who.username, password: who.password } : {}),
    ...extra,
  });
  t.teardown(() => client.endAsync(true));
  const seen: Seen[] = [];
  client.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain }));
  return {
    mqtt: client,
    clientId,
    seen,
    async waitFor(pred, what) {
      await until(() => seen.some(pred), ARRIVAL_MS, `${who?.username ?? 'anonymous'} to receive ${what}`).catch((err: Error) => {
        throw new Error(`${err.message}; it received:\n${seen.map((m) => `  ${m.topic} ${m.payload}`).join('\n')}`);
      });
      return seen.find(pred)!;
    },
  };
}

/** A user over both protocols: MQTT 5 to read the PUBACK's reason code, MQTT 3.1.1 as the kiosks and most tools speak. */
async function both(t: ExecutionContext, who: Creds): Promise<{ v5: Client; v4: Client }> {
  const [v5, v4] = await Promise.all([connect(t, who, 5), connect(t, who, 4)]);
  return { v5, v4 };
}

/**
 * Publishes what `who` must not, QoS 1, over both protocols: MQTT 5 must be told 0x87 (not
 * authorized); the MQTT 3.1.1 one is acknowledged and dropped, and the broker logs it as denied.
 * Resolves once the broker has handled both (their PUBACKs have come back).
 */
async function refused(t: ExecutionContext, who: { v5: Client; v4: Client }, topic: string, payload: string, retain = false): Promise<void> {
  const err = await who.v5.mqtt.publishAsync(topic, payload, { qos: 1, retain }).then(
    () => null,
    (e: Error & { code?: number }) => e,
  );
  t.is(err?.code, 0x87, `${topic}: MQTT 5 PUBACK "not authorized" (${err?.message ?? 'accepted'})`);
  await who.v4.mqtt.publishAsync(topic, payload, { qos: 1, retain });
  const denied = `Denied PUBLISH from ${who.v4.clientId} (d0, q1, r${retain ? 1 : 0}, m`;
  await until(
    () =>
      broker
        .log()
        .split('\n')
        .some((l) => l.includes(denied) && l.includes(`'${topic}'`)),
    ARRIVAL_MS,
    `the broker's "${denied}… '${topic}'" line`,
  );
}

/** Publishes what `who` may: accepted over MQTT 5 (no error reason code). */
async function allowed(t: ExecutionContext, who: Client, topic: string, payload: string, retain = false): Promise<void> {
  const err = await who.mqtt.publishAsync(topic, payload, { qos: 1, retain }).then(
    () => null,
    (e: Error) => e,
  );
  t.is(err, null, `${topic}: accepted`);
}

const deniedFrom = (clientId: string): string[] =>
  broker
    .log()
    .split('\n')
    .filter((l) => l.includes(`Denied PUBLISH from ${clientId} `));

// ---------------------------------------------------------------------------------------------

test('the shipped kioskd.conf loads in mosquitto as it is: no warning, no note, no error', async (t) => {
  // The port can be open before mosquitto's start-up lines have come through its stderr pipe.
  await until(() => /mosquitto version .* running/.test(broker.log()), 10_000, "mosquitto's start-up lines");
  const startup = broker
    .log()
    .split('\n')
    .filter((l) => /mosquitto version|Config loaded|Opening|Warning|Note|Error/i.test(l));
  t.log(startup.join('\n'));
  t.true(startup.some((l) => /mosquitto version .* running/.test(l)));
  t.deepEqual(
    startup.filter((l) => /warning|note|error/i.test(l)),
    [],
  );
});

test('a client without a user name, or with a wrong password, is refused', async (t) => {
  for (const protocolVersion of [4, 5] as const) {
    const anonymous = await mqtt.connectAsync(broker.url, { protocolVersion, reconnectPeriod: 0, connectTimeout: ARRIVAL_MS, ca: [broker.ca] }).then(
      (c) => (void c.end(true), null),
      (e: Error & { code?: number }) => e,
    );
    t.is(
      anonymous?.code,
      protocolVersion === 5 ? 0x87 : 5,
      `MQTT ${protocolVersion}, anonymous: not authorized (${anonymous?.message ?? 'connected'})`,
    );
    const wrong = await mqtt
      .connectAsync(broker.url, {
        protocolVersion,
        reconnectPeriod: 0,
        connectTimeout: ARRIVAL_MS,
        ca: [broker.ca],
        username: OPERATOR.username,
        password: 'not-the-password',
      })
      .then(
        (c) => (void c.end(true), null),
        (e: Error & { code?: number }) => e,
      );
    t.truthy(wrong, `MQTT ${protocolVersion}, wrong password: refused`);
  }
});

test("a kiosk publishes its own status, info, state, health, events and answers, and nothing of another kiosk's, nor a command", async (t) => {
  const observer = await connect(t, OPERATOR);
  await observer.mqtt.subscribeAsync(['kiosk/pub-a/#', 'kiosk/pub-b/#', 'kiosk/pub-a', 'elsewhere/#'], { qos: 1 });
  const a = await both(t, KIOSKS.pubA);

  const own: Array<[string, string, boolean]> = [
    ['kiosk/pub-a/status', 'online', true],
    ['kiosk/pub-a/info', '{"who":"pub-a"}', true],
    ['kiosk/pub-a/state', '{"mode":"idle"}', true],
    ['kiosk/pub-a/health', '{"rss_mb":1}', true],
    ['kiosk/pub-a/event/alert', '{"id":"e1"}', false],
    ['kiosk/pub-a/event/checkin.completed', '{"id":"e2"}', false],
    ['kiosk/pub-a/cmd/ping/response', '{"transaction":"t1","status":"ok"}', false],
  ];
  for (const [topic, payload, retain] of own) await allowed(t, a.v5, topic, payload, retain);
  for (const [topic, payload] of own) await observer.waitFor((m) => m.topic === topic && m.payload === payload, topic);

  const forbidden: Array<[string, boolean]> = [
    // Another kiosk's retained topics, events and answers, and a command to it.
    ['kiosk/pub-b/status', true],
    ['kiosk/pub-b/info', true],
    ['kiosk/pub-b/state', true],
    ['kiosk/pub-b/health', true],
    ['kiosk/pub-b/event/alert', false],
    ['kiosk/pub-b/cmd/ping/response', false],
    ['kiosk/pub-b/cmd/ping', false],
    // A command to itself: commands come from operators only.
    ['kiosk/pub-a/cmd/ping', false],
    ['kiosk/pub-a/cmd/maintenance', false],
    // Anything else under its own name, or elsewhere.
    ['kiosk/pub-a', false],
    ['kiosk/pub-a/other', true],
    ['kiosk/pub-a/event/alert/extra', false],
    ['elsewhere/pub-a', false],
  ];
  for (const [topic, retain] of forbidden) await refused(t, a, topic, `forged by pub-a: ${topic}`, retain);
  // The marker, published after every forbidden message was handled.
  await allowed(t, a.v4, 'kiosk/pub-a/event/marker', 'marker');
  await observer.waitFor((m) => m.payload === 'marker', 'the marker');
  t.deepEqual(
    observer.seen.filter((m) => m.payload.startsWith('forged')).map((m) => m.topic),
    [],
    'none of the forbidden messages reached a subscriber',
  );
});

test("a kiosk receives its own commands only: subscribed to another kiosk's commands, or to everything, it gets none of them", async (t) => {
  const b = await connect(t, KIOSKS.subB);
  await b.mqtt.subscribeAsync('kiosk/sub-b/cmd/+', { qos: 1 });
  await allowed(t, b, 'kiosk/sub-b/state', '{"b":"retained state"}', true);
  const a = await connect(t, KIOSKS.subA);
  // mosquitto grants the subscriptions; what A may not read is simply never delivered.
  await a.mqtt.subscribeAsync(['kiosk/sub-b/cmd/+', 'kiosk/sub-b/#', 'kiosk/#', '#', 'kiosk/sub-a/cmd/+'], { qos: 1 });
  const operator = await connect(t, OPERATOR);
  await operator.mqtt.publishAsync('kiosk/sub-b/cmd/ping', '{"transaction":"for-b"}', { qos: 1 });
  await operator.mqtt.publishAsync('kiosk/sub-b/cmd/maintenance', '{"transaction":"for-b","enabled":true}', { qos: 1 });
  await operator.mqtt.publishAsync('kiosk/sub-a/cmd/ping', '{"transaction":"for-a"}', { qos: 1 });
  await b.waitFor((m) => m.topic === 'kiosk/sub-b/cmd/maintenance', "B's own command (the control)");
  await a.waitFor((m) => m.topic === 'kiosk/sub-a/cmd/ping' && m.payload.includes('for-a'), 'its own command (the marker)');
  t.deepEqual(
    a.seen.filter((m) => !m.topic.startsWith('kiosk/sub-a/')).map((m) => m.topic),
    [],
    "nothing of kiosk B's: neither its commands nor its retained state",
  );
});

test('a monitor receives every kiosk topic but cannot command a kiosk, answer for one or publish as one', async (t) => {
  const monitor = await connect(t, MONITOR);
  await monitor.mqtt.subscribeAsync('kiosk/+/#', { qos: 1 });
  const kioskA = await connect(t, KIOSKS.monA);
  await kioskA.mqtt.subscribeAsync('kiosk/mon-a/cmd/+', { qos: 1 });
  await allowed(t, kioskA, 'kiosk/mon-a/status', 'online', true);
  await allowed(t, kioskA, 'kiosk/mon-a/event/alert', '{"id":"m1"}');
  await monitor.waitFor((m) => m.topic === 'kiosk/mon-a/status' && m.payload === 'online', 'the status');
  await monitor.waitFor((m) => m.topic === 'kiosk/mon-a/event/alert', 'the event');
  // A monitor that connects later gets the retained status at once.
  const late = await connect(t, MONITOR, 5);
  await late.mqtt.subscribeAsync('kiosk/mon-a/status', { qos: 1 });
  await late.waitFor((m) => m.topic === 'kiosk/mon-a/status' && m.payload === 'online' && m.retain, 'the retained status');

  const observer = await connect(t, OPERATOR);
  await observer.mqtt.subscribeAsync('kiosk/mon-a/#', { qos: 1 });
  const mon = await both(t, MONITOR);
  await refused(t, mon, 'kiosk/mon-a/cmd/ping', '{"transaction":"from-monitor"}');
  await refused(t, mon, 'kiosk/mon-a/cmd/maintenance', '{"transaction":"from-monitor","enabled":true}');
  await refused(t, mon, 'kiosk/mon-a/cmd/ping/response', '{"transaction":"from-monitor","status":"ok"}');
  await refused(t, mon, 'kiosk/mon-a/state', '{"transaction":"from-monitor"}', true);
  // The pattern lines would let it publish as a kiosk named like itself, but for its deny line.
  await refused(t, mon, `kiosk/${MONITOR.username}/status`, 'from-monitor', true);
  await observer.mqtt.publishAsync('kiosk/mon-a/cmd/ping', '{"transaction":"from-operator"}', { qos: 1 });
  await kioskA.waitFor((m) => m.payload.includes('from-operator'), "the operator's command (the marker)");
  await observer.waitFor((m) => m.payload.includes('from-operator'), "the operator's command (the marker)");
  t.deepEqual(
    [...kioskA.seen, ...observer.seen].filter((m) => m.payload.includes('from-monitor')),
    [],
    'nothing the monitor sent arrived',
  );
});

test('an operator commands a kiosk and reads its answer, but cannot answer for it or publish its status', async (t) => {
  const kioskA = await connect(t, KIOSKS.opA);
  await kioskA.mqtt.subscribeAsync('kiosk/op-a/cmd/+', { qos: 1 });
  const operator = await both(t, OPERATOR);
  await operator.v4.mqtt.subscribeAsync('kiosk/op-a/#', { qos: 1 });
  await allowed(t, operator.v5, 'kiosk/op-a/cmd/ping', '{"transaction":"op-1"}');
  const command = await kioskA.waitFor((m) => m.topic === 'kiosk/op-a/cmd/ping', 'the command');
  t.is(command.payload, '{"transaction":"op-1"}');
  await allowed(t, kioskA, 'kiosk/op-a/cmd/ping/response', '{"transaction":"op-1","status":"ok"}');
  await operator.v4.waitFor((m) => m.topic === 'kiosk/op-a/cmd/ping/response', 'the answer');

  await refused(t, operator, 'kiosk/op-a/cmd/ping/response', '{"transaction":"forged","status":"ok"}');
  await refused(t, operator, 'kiosk/op-a/status', 'forged', true);
  await refused(t, operator, 'kiosk/op-a/event/alert', 'forged');
  await refused(t, operator, `kiosk/${OPERATOR.username}/status`, 'forged', true);
  await refused(t, operator, 'kiosk/op-a/cmd/ping/extra', 'forged');
  await allowed(t, kioskA, 'kiosk/op-a/event/marker', 'marker');
  await operator.v4.waitFor((m) => m.payload === 'marker', 'the marker');
  t.deepEqual(
    operator.v4.seen.filter((m) => m.payload.includes('forged')),
    [],
  );
});

test("a retained state or status forged for kiosk A by anyone else, or by another kiosk's last will, never replaces A's own", async (t) => {
  const a = await connect(t, KIOSKS.spoofA);
  await allowed(t, a, 'kiosk/spoof-a/state', '{"mode":"idle","by":"spoof-a"}', true);
  await allowed(t, a, 'kiosk/spoof-a/status', 'online', true);
  for (const who of [KIOSKS.spoofB, MONITOR, OPERATOR]) {
    const forger = await both(t, who);
    await refused(t, forger, 'kiosk/spoof-a/state', `{"mode":"out-of-service","by":"${who.username}"}`, true);
    await refused(t, forger, 'kiosk/spoof-a/status', 'offline', true);
  }
  // Kiosk B's last will names A's status; B then vanishes without a DISCONNECT.
  const b = await connect(t, KIOSKS.spoofB, 4, { will: { topic: 'kiosk/spoof-a/status', payload: Buffer.from('offline'), qos: 1, retain: true } });
  b.mqtt.stream.destroy();
  await until(
    () => new RegExp(`(Client ${b.clientId} closed its connection|Socket error on client ${b.clientId})`).test(broker.log()),
    ARRIVAL_MS,
    'the broker to see kiosk B gone',
  );

  // A monitor connecting now gets the retained values: A's own.
  const monitor = await connect(t, MONITOR);
  await monitor.mqtt.subscribeAsync(['kiosk/spoof-a/state', 'kiosk/spoof-a/status'], { qos: 1 });
  const state = await monitor.waitFor((m) => m.topic === 'kiosk/spoof-a/state', 'the retained state');
  const status = await monitor.waitFor((m) => m.topic === 'kiosk/spoof-a/status', 'the retained status');
  t.deepEqual(
    [state, status].map((m) => [m.payload, m.retain]),
    [
      ['{"mode":"idle","by":"spoof-a"}', true],
      ['online', true],
    ],
  );
});

// ---------------------------------------------------------------------------------------------

test('end to end: the real daemon, logged in as its device id, comes online, answers an operator, leaves its last will, and the broker denies it nothing', async (t) => {
  const id = KIOSKS.e2e.username;
  const base = `kiosk/${id}`;
  const passwordFile = join(dir, 'e2e-mqtt-password');
  writeFileSync(passwordFile, `${KIOSKS.e2e.password}\n`, { mode: 0o600 });
  const caFile = broker.caFile;
  const sim = await startSim({
    brokerPort: 0,
    deviceId: id,
    scanner: 'tcp',
    // The broker as a hospital runs it: mqtts://, its CA, the kiosk's device id and password. MQTT 5 first, as on a kiosk.
    configOverrides: { mqtt: { url: broker.url, protocol: 'auto', username: id, passwordFile, tls: { caFile }, healthIntervalSec: 2 } },
  });
  t.teardown(() => sim.stop());
  const monitor = await connect(t, MONITOR);
  await monitor.mqtt.subscribeAsync(`${base}/#`, { qos: 1 });
  let d: DaemonProc | undefined = runDaemon(sim.config, sim.daemonEnv);
  t.teardown(() => d && killQuietly(d));
  const failWith = (err: Error): never => {
    throw new Error(`${err.message}\ndaemon:\n${d?.output() ?? ''}\nbroker:\n${broker.log().split('\n').slice(-60).join('\n')}`);
  };

  // Online, with everything a monitor reads.
  await monitor.waitFor((m) => m.topic === `${base}/status` && m.payload === 'online', 'status "online"').catch(failWith);
  for (const kind of ['info', 'state', 'health']) await monitor.waitFor((m) => m.topic === `${base}/${kind}`, kind).catch(failWith);
  await monitor.waitFor((m) => m.topic === `${base}/event/lifecycle`, 'the lifecycle event').catch(failWith);

  // An operator's command, and its answer.
  const operator = await connect(t, OPERATOR);
  await operator.mqtt.subscribeAsync(`${base}/cmd/+/response`, { qos: 1 });
  await operator.mqtt.publishAsync(`${base}/cmd/ping`, JSON.stringify({ transaction: 'acl-ping' }), { qos: 1 });
  const pong = await operator
    .waitFor((m) => m.topic === `${base}/cmd/ping/response` && m.payload.includes('acl-ping'), 'the answer to ping')
    .catch(failWith);
  t.like(JSON.parse(pong.payload), { transaction: 'acl-ping', status: 'ok' });
  await operator.mqtt.publishAsync(`${base}/cmd/state`, JSON.stringify({ transaction: 'acl-state' }), { qos: 1 });
  t.like(JSON.parse((await operator.waitFor((m) => m.payload.includes('acl-state'), 'the answer to state').catch(failWith)).payload), {
    status: 'ok',
  });
  await monitor.waitFor((m) => m.topic === `${base}/cmd/ping/response`, 'the answer, at the monitor too').catch(failWith);

  // Gone without a goodbye: the broker publishes its last will, which the ACL must allow too.
  const mark = monitor.seen.length;
  d.proc.kill('SIGKILL');
  await d.exited;
  await until(
    () => monitor.seen.slice(mark).some((m) => m.topic === `${base}/status` && m.payload === 'offline'),
    ARRIVAL_MS,
    'the last will "offline"',
  ).catch(failWith);
  d = undefined;

  // Every connection the kiosk made (MQTT 5 first, so maybe two), and not one publish denied.
  const kioskClients = [...broker.log().matchAll(new RegExp(`New client connected from \\S+ as (\\S+) \\(p\\d, c\\d, k\\d+, u'${id}'\\)`, 'g'))].map(
    (m) => m[1]!,
  );
  t.log(`kiosk client ids: ${[...new Set(kioskClients)].join(', ')}`);
  t.true(kioskClients.length > 0, 'the broker logged the kiosk logging in as its device id');
  t.deepEqual(kioskClients.flatMap(deniedFrom), [], 'no "Denied PUBLISH" for the kiosk');
});
