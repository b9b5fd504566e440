import test from 'ava';
import { spawnSync } from 'node:child_process';
import { writeConfig } from '../helpers/daemon.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kioskdArgv } from '../../hw-sim/daemon.js';

/** kioskd as the tests run it: the build when up to date, else the source (hw-sim/daemon.ts). */
const KIOSKD = kioskdArgv();

const kioskd = (...args: string[]) =>
  spawnSync(process.execPath, [...KIOSKD, ...args], { encoding: 'utf8', env: { ...process.env, NOTIFY_SOCKET: '' } });

function file(text: string): string {
  const p = join(mkdtempSync(join(tmpdir(), 'kioskd-cli-')), 'config.yaml');
  writeFileSync(p, text);
  return p;
}

test('check-config: a config with three mistakes lists all three with their paths and exits 78', (t) => {
  const r = kioskd('check-config', file('device: { id: "a#b" }\nmqtt: { url: "broker:1883", eventRingSize: 0 }\n'));
  t.is(r.status, 78);
  t.regex(r.stderr, /3 configuration errors/);
  t.regex(r.stderr, /- device\.id: /);
  t.regex(r.stderr, /- mqtt\.url: /);
  t.regex(r.stderr, /- mqtt\.eventRingSize: /);
});

test('check-config: a valid config says so and names the kiosk and its broker', (t) => {
  const r = kioskd('check-config', writeConfig({ device: { id: 'lobby-2' }, mqtt: { url: 'mqtts://broker.hospital.vn:8883' } }));
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /configuration is valid \(kiosk id "lobby-2", broker mqtts:\/\/broker\.hospital\.vn:8883\)/);
});

test('the daemon refuses to start on a bad or missing config with exit 78, before touching anything', (t) => {
  const bad = kioskd('--config', file('mqtt: { nope: 1 }\n'));
  t.is(bad.status, 78);
  t.regex(bad.stderr, /mqtt\.nope: unknown key/);
  const missing = kioskd('--config', '/nonexistent/kioskd.yaml');
  t.is(missing.status, 78);
  t.regex(missing.stderr, /cannot read the file: ENOENT/);
});

test('config-schema prints the JSON Schema', (t) => {
  const r = kioskd('config-schema');
  t.is(r.status, 0);
  const schema = JSON.parse(r.stdout);
  t.is(schema.type, 'object');
  t.truthy(schema.properties.mqtt);
});

test('unknown commands and --help are answered with usage', (t) => {
  const r = kioskd('frobnicate');
  t.is(r.status, 64);
  t.regex(r.stderr, /Usage:/);
  t.regex(kioskd('--help').stdout, /kioskd check-config FILE/);
  t.regex(kioskd('--version').stdout, /^\d+\.\d+\.\d+/);
});

test('--sim-clock is refused on a kiosk in service: only a hw-sim config (hal.mode: sim) started by hw-sim may have its time moved', (t) => {
  const real = kioskd('--config', writeConfig({ device: { id: 'lobby-2' } }), '--sim-clock', '0');
  t.is(real.status, 64);
  t.regex(real.stderr, /--sim-clock is for hw-sim only: the config must say hal\.mode: sim/);
  const noIpc = kioskd('--config', writeConfig({ device: { id: 'lobby-2' }, hal: { mode: 'sim' } }), '--sim-clock', '0');
  t.is(noIpc.status, 64);
  t.regex(noIpc.stderr, /needs the IPC channel of hw-sim/);
  const bad = kioskd('--config', writeConfig({ device: { id: 'lobby-2' }, hal: { mode: 'sim' } }), '--sim-clock=-5');
  t.is(bad.status, 64);
  t.regex(bad.stderr, /whole milliseconds.*"-5"/);
});

test('a mistyped option is a usage error (64) in one line, not a crash', (t) => {
  const r = kioskd('--confg', '/etc/kioskd/config.yaml');
  t.is(r.status, 64);
  t.regex(r.stderr, /^kioskd: Unknown option '--confg'/);
  t.regex(r.stderr, /kioskd --help lists the commands/);
  t.notRegex(r.stderr, /\bat \w+ \(/, 'no stack trace');
});
