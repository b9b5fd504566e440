import test from 'ava';
import { problemsOf } from '../helpers/config-problems.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile, parseConfig, envOverrides } from '../../src/config/load.js';
import { configJsonSchema } from '../../src/config/schema.js';

const noEnv = { env: {}, hostname: () => 'kiosk-host-7' };

test('an empty config gets working defaults and the hostname as kiosk id', (t) => {
  const { config, deviceId } = parseConfig('', 'empty.yaml', noEnv);
  t.is(deviceId, 'kiosk-host-7');
  t.is(config.mqtt.url, 'mqtt://127.0.0.1:1883');
  t.is(config.mqtt.protocol, 'auto');
  t.is(config.hal.card.driver, 'none');
  t.deepEqual(config.kiosk.requiredPorts, ['card', 'camera', 'printer']);
});

test('three independent mistakes are all reported, each with its path', (t) => {
  const problems = problemsOf(`
device: { id: "lobby/1" }
mqtt:
  url: http://broker.local
  keepaliveSec: 2
`);
  const paths = problems.map((p) => p.path).sort();
  t.deepEqual(paths, ['device.id', 'mqtt.keepaliveSec', 'mqtt.url']);
  t.true(problems.find((p) => p.path === 'device.id')!.message.includes('+ # /'));
});

test('unknown keys are errors, named with their full path', (t) => {
  const problems = problemsOf('mqtt:\n  urll: mqtt://x\nhal:\n  card: { driver: none, baud: 9600 }\n');
  t.deepEqual(problems.map((p) => p.path).sort(), ['hal.card.baud', 'mqtt.urll']);
  t.true(problems.every((p) => p.message.startsWith('unknown key')));
});

test('a password in the YAML is refused with a pointer to the right place', (t) => {
  const [p] = problemsOf('mqtt: { password: hunter2 }\n');
  t.is(p?.path, 'mqtt.password');
  t.regex(p!.message, /passwordFile or a systemd credential/);
});

test('YAML syntax errors are reported with a line number', (t) => {
  const problems = problemsOf('mqtt:\n  url: [unclosed\n');
  t.is(problems.length >= 1, true);
  t.regex(problems[0]!.path, /^line \d+/);
});

test('a config that is not a mapping is refused', (t) => {
  t.deepEqual(
    problemsOf('- a\n- b\n').map((p) => p.message),
    ['the config must be a YAML mapping'],
  );
});

test('environment variables override the file, with types read as YAML', (t) => {
  const { config, deviceId } = parseConfig('mqtt: { url: mqtt://file:1883 }\n', 't.yaml', {
    env: {
      KIOSKD__MQTT__URL: 'mqtt://env:1884',
      KIOSKD__MQTT__RECONNECT_BASE_MS: '5000',
      KIOSKD__DEVICE__ID: 'from-env',
      KIOSKD__KIOSK__REQUIRED_PORTS: '[card]',
    },
  });
  t.is(config.mqtt.url, 'mqtt://env:1884');
  t.is(config.mqtt.reconnectBaseMs, 5000);
  t.is(deviceId, 'from-env');
  t.deepEqual(config.kiosk.requiredPorts, ['card']);
});

test('a misspelt environment override is an error, not ignored', (t) => {
  const problems = problemsOf('', { KIOSKD__MQTT__URLL: 'mqtt://x' });
  t.deepEqual(
    problems.map((p) => p.path),
    ['mqtt.urll'],
  );
  t.deepEqual(envOverrides({ OTHER: '1' }).overrides, {});
});

test('the MQTT password comes from a file or a systemd credential, and never sits in the config', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-secret-'));
  writeFileSync(join(dir, 'pw'), 's3cret\n');
  const fromFile = parseConfig(`mqtt: { passwordFile: ${join(dir, 'pw')} }\n`, 't.yaml', noEnv);
  t.is(fromFile.secrets.mqttPassword, 's3cret');
  t.false(JSON.stringify(fromFile.config).includes('s3cret'));

  writeFileSync(join(dir, 'mqtt-password'), 'from-credential');
  const fromCred = parseConfig('', 't.yaml', { env: { CREDENTIALS_DIRECTORY: dir }, hostname: () => 'h' });
  t.is(fromCred.secrets.mqttPassword, 'from-credential');

  // Run by hand outside the service (sudo kioskd selftest): the credstore file the unit loads.
  writeFileSync(join(dir, 'kioskd.mqtt-password'), 'from-credstore');
  const fromStore = parseConfig('', 't.yaml', { env: { KIOSKD_CREDSTORE: dir }, hostname: () => 'h' });
  t.is(fromStore.secrets.mqttPassword, 'from-credstore');

  const missing = problemsOf(`mqtt: { passwordFile: ${join(dir, 'nope')} }\n`);
  t.deepEqual(
    missing.map((p) => p.path),
    ['mqtt.passwordFile'],
  );
});

test('a hostname that cannot be a topic level asks for device.id', (t) => {
  const err = t.throws(() => parseConfig('', 't.yaml', { env: {}, hostname: () => 'bad host' }), { instanceOf: ConfigError });
  t.is(err?.problems[0]?.path, 'device.id');
});

test('the exported JSON Schema is strict and documents defaults', (t) => {
  const schema = configJsonSchema() as {
    additionalProperties: boolean;
    properties: Record<string, { additionalProperties?: boolean; properties?: Record<string, { default?: unknown }> }>;
  };
  t.false(schema.additionalProperties);
  t.false(schema.properties['mqtt']!.additionalProperties);
  t.is(schema.properties['mqtt']!.properties!['url']!.default, 'mqtt://127.0.0.1:1883');
});

test('a password inside the broker URL is refused', (t) => {
  const [p] = problemsOf('mqtt: { url: "mqtt://kiosk:hunter2@broker:1883" }\n');
  t.is(p?.path, 'mqtt.url');
  t.regex(p!.message, /must not carry a password/);
});

test('an environment value that looks like a number stays text where the schema wants text', (t) => {
  const { deviceId, config } = parseConfig('', 't.yaml', { env: { KIOSKD__DEVICE__ID: '1234', KIOSKD__MQTT__EVENT_RING_SIZE: '50' } });
  t.is(deviceId, '1234');
  t.is(config.mqtt.eventRingSize, 50);
});

test('TLS files are read when the config is loaded, so a missing one is a config error', (t) => {
  const problems = problemsOf('mqtt: { url: "mqtts://broker:8883", tls: { caFile: /nonexistent/ca.pem } }\n');
  t.deepEqual(
    problems.map((p) => p.path),
    ['mqtt.tls.caFile'],
  );
  t.regex(problems[0]!.message, /ENOENT/);
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-tls-'));
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  writeFileSync(join(dir, 'ca.pem'), pem);
  const ok = parseConfig(`mqtt: { tls: { caFile: ${join(dir, 'ca.pem')} } }\n`, 't.yaml', noEnv);
  t.is(ok.secrets.tls?.ca?.toString(), pem);
  // A DER file (a Windows CA's usual .cer export) would trust nothing at connect time.
  writeFileSync(join(dir, 'ca.der'), Buffer.from([0x30, 0x82, 0x01, 0x0a]));
  t.deepEqual(
    problemsOf(`mqtt: { tls: { caFile: ${join(dir, 'ca.der')} } }\n`).map((p) => p.path),
    ['mqtt.tls.caFile'],
  );
});

test('a card scanner config names what is missing and what is unknown', (t) => {
  const problems = problemsOf('hal:\n  card: { driver: serial, baud: 9600 }\n');
  t.deepEqual(problems, [
    { path: 'hal.card.path', message: 'required (expected string)' },
    { path: 'hal.card.baud', message: 'unknown key' },
  ]);
});

test('printer config: drivers, defaults, and a code-page mode the model cannot print is refused', (t) => {
  const { config } = parseConfig('hal:\n  printer: { driver: tcp, host: 10.0.0.5 }\n', 'p.yaml', noEnv);
  t.like(config.hal.printer, { driver: 'tcp', host: '10.0.0.5', port: 9100, model: 'epson-tm-t20iii', paperMm: 80, text: 'raster' });
  t.is(config.ticket.timeZone, 'Asia/Ho_Chi_Minh');
  const [p] = problemsOf('hal:\n  printer: { driver: device, path: /dev/usb/lp0, model: xprinter-xp-t80q, text: cp1258 }\n');
  t.is(p?.path, 'hal.printer.text');
  t.regex(p!.message, /no WPC1258 code page; use text: raster/);
  t.deepEqual(
    problemsOf('hal:\n  printer: { driver: usb, vendorId: 70000, productId: 1, paperMm: 57 }\nticket: { timeZone: Mars/Olympus }\n')
      .map((x) => x.path)
      .sort(),
    ['hal.printer.paperMm', 'hal.printer.vendorId', 'ticket.timeZone'],
  );
});

/** Nine levels of nine aliases: 9^9 (387 million) strings once expanded. */
const ALIAS_BOMB =
  ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    .concat('bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`))
    .join('\n') + '\n';

const kioskd = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, NOTIFY_SOCKET: '' },
    timeout: 60_000,
  });

function configFile(write: (path: string) => void): string {
  const p = join(mkdtempSync(join(tmpdir(), 'kioskd-config-')), 'config.yaml');
  write(p);
  return p;
}

test('a YAML alias bomb ("billion laughs") is a config error naming the aliases, not a crash', (t) => {
  const err = t.throws(() => parseConfig(ALIAS_BOMB, 'bomb.yaml', noEnv), { instanceOf: ConfigError });
  t.is(err?.problems.length, 1);
  t.regex(err!.problems[0]!.message, /too many YAML aliases/);
  // A few aliases, as a technician may use them, are fine.
  const { config } = parseConfig('device: { id: &id k1 }\nticket: { hospital: *id }\n', 't.yaml', noEnv);
  t.is(config.ticket.hospital, 'k1');
});

test('kioskd check-config and run: an alias bomb exits 78 (no systemd restart loop) with one clear line, no stack trace', (t) => {
  const file = configFile((p) => writeFileSync(p, ALIAS_BOMB));
  for (const args of [
    ['check-config', file],
    ['--config', file],
    ['run', '--config', file],
  ]) {
    const r = kioskd(...args);
    t.is(r.status, 78, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, /: 1 configuration error\n {2}- \(root\): too many YAML aliases/);
    t.notRegex(r.stderr, /\bat \w+ \(|ReferenceError/, 'no stack trace');
  }
});

test('a config file over 1 MB is refused by its size before it is read (exit 78), quickly', (t) => {
  // Sparse: 50 MB by its size, no disk used. Reading and parsing it once took 11 s and 1.8 GB.
  const big = configFile((p) => {
    writeFileSync(p, 'mqtt: { url: mqtt://broker:1883 }\n');
    truncateSync(p, 50 * 1024 * 1024);
  });
  const started = Date.now();
  const err = t.throws(() => loadConfigFile(big, noEnv), { instanceOf: ConfigError });
  t.true(Date.now() - started < 5000, `refused in ${Date.now() - started} ms`);
  t.regex(err!.problems[0]!.message, /the file is 50\.0 MB; a kiosk config is at most 1 MB/);
  const r = kioskd('check-config', big);
  t.is(r.status, 78, r.stderr);
  t.regex(r.stderr, /at most 1 MB/);
  // Just under the limit still loads (a long comment is no reason to refuse a config).
  const fine = configFile((p) => writeFileSync(p, `# ${'x'.repeat(1024 * 1024 - 100)}\ndevice: { id: k1 }\n`));
  t.is(loadConfigFile(fine, noEnv).deviceId, 'k1');
});
