// The `chip` config section: off by default, strict, every field described and bounded, and a bad
// value is a config error like any other (kioskd exits 78).
import test from 'ava';
import { problemsOf } from '../helpers/config-problems.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { configJsonSchema } from '../../src/config/schema.js';
import { chipBudgetMs } from '../../src/config/sections/chip.js';
import { DEFAULT_HN212_CONFIG } from '../../src/hal/chip/hn212-config.js';
import { checkinPolicy } from '../../src/daemon/build.js';

const noEnv = { env: {}, hostname: () => 'kiosk-1' };

test('chip reading is off by default, with the spec defaults', (t) => {
  const { config } = parseConfig('', 'empty.yaml', noEnv);
  t.deepEqual(config.chip, {
    enabled: false,
    driver: 'pcsc',
    reader: { readerPattern: '', connectTimeoutMs: 5000 },
    hn212: DEFAULT_HN212_CONFIG,
    placeTimeoutMs: 10_000,
    readTimeoutMs: 20_000,
    retries: 2,
    trustAnchorsDir: '',
    portraitSources: ['chip', 'identity'],
  });
});

test('the keys hw-sim writes are accepted, also through the environment', (t) => {
  const { config } = parseConfig(
    `chip:
  enabled: true
  reader: { readerPattern: '^Kiosk Test PCD 00 00$', connectTimeoutMs: 3000 }
  placeTimeoutMs: 15000
  readTimeoutMs: 30000
  retries: 1
  trustAnchorsDir: /tmp/sim/trust-anchors
  portraitSources: [chip]
`,
    't.yaml',
    { env: { KIOSKD__CHIP__RETRIES: '0' }, hostname: () => 'h' },
  );
  t.like(config.chip, { enabled: true, placeTimeoutMs: 15_000, readTimeoutMs: 30_000, retries: 0, trustAnchorsDir: '/tmp/sim/trust-anchors' });
  t.deepEqual(config.chip.reader, { readerPattern: '^Kiosk Test PCD 00 00$', connectTimeoutMs: 3000 });
  t.deepEqual(config.chip.portraitSources, ['chip']);
});

test('the HN-212 reader instead of PC/SC: driver hn212 and its service, checked like every field', (t) => {
  const { config } = parseConfig('chip:\n  enabled: true\n  driver: hn212\n  hn212: { url: "http://192.168.5.1:8000" }\n', 't.yaml', noEnv);
  t.is(config.chip.driver, 'hn212');
  t.deepEqual(config.chip.hn212, { ...DEFAULT_HN212_CONFIG, url: 'http://192.168.5.1:8000' });
  t.is(
    parseConfig('chip: { enabled: true }\n', 't.yaml', { env: { KIOSKD__CHIP__DRIVER: 'hn212' }, hostname: () => 'h' }).config.chip.driver,
    'hn212',
  );
  const byPath = Object.fromEntries(
    problemsOf('chip: { driver: acr, hn212: { url: "ws://reader:8000/x", freshForMs: 5, port: 1 } }\n').map((p) => [p.path, p.message]),
  );
  t.deepEqual(Object.keys(byPath).sort(), ['chip.driver', 'chip.hn212.freshForMs', 'chip.hn212.port', 'chip.hn212.url']);
  t.regex(byPath['chip.hn212.url']!, /http:\/\/ or https:\/\/ URL/);
});

test('every bad value is reported with its path: bounds, unknown keys, a relative directory, a source twice, a bad pattern', (t) => {
  const problems = problemsOf(`chip:
  enabled: yes-please
  placeTimeoutMs: 10
  readTimeoutMs: 999999
  retries: 9
  trustAnchorsDir: anchors
  portraitSources: [chip, chip]
  readr: {}
  reader: { readerPattern: '(ACS', speed: 1 }
`);
  const byPath = Object.fromEntries(problems.map((p) => [p.path, p.message]));
  t.deepEqual(Object.keys(byPath).sort(), [
    'chip.enabled',
    'chip.placeTimeoutMs',
    'chip.portraitSources',
    'chip.readTimeoutMs',
    'chip.reader.readerPattern',
    'chip.reader.speed',
    'chip.readr',
    'chip.retries',
    'chip.trustAnchorsDir',
  ]);
  t.regex(byPath['chip.trustAnchorsDir']!, /absolute path/);
  t.regex(byPath['chip.portraitSources']!, /twice/);
  t.regex(byPath['chip.reader.readerPattern']!, /regular expression/);
  t.regex(byPath['chip.readr']!, /^unknown key/);
  t.deepEqual(
    problemsOf('chip: { portraitSources: [camera] }\n').map((p) => p.path),
    ['chip.portraitSources.0'],
  );
  t.deepEqual(
    problemsOf('chip: { portraitSources: [] }\n').map((p) => p.path),
    ['chip.portraitSources'],
  );
});

test('the JSON Schema describes every chip field and is strict', (t) => {
  type Node = { description?: string; additionalProperties?: boolean; properties?: Record<string, Node> };
  const chip = (configJsonSchema() as Node).properties!['chip']!;
  t.false(chip.additionalProperties);
  const undescribed: string[] = [];
  const walk = (n: Node, path: string): void => {
    for (const [k, v] of Object.entries(n.properties ?? {})) {
      if (!v.description) undescribed.push(`${path}.${k}`);
      walk(v, `${path}.${k}`);
    }
  };
  walk(chip, 'chip');
  t.deepEqual(undescribed, []);
});

test('with the chip as a portrait source, the portrait step may last a whole chip read longer', (t) => {
  const { config } = parseConfig('chip: { enabled: true, placeTimeoutMs: 5000, readTimeoutMs: 8000, retries: 1 }\n', 't.yaml', noEnv);
  t.is(chipBudgetMs(config.chip), 26_000);
  t.is(checkinPolicy(config.checkin, config.chip).timeouts.portraitMs, config.checkin.timeouts.portraitMs + 26_000);
  const off = parseConfig('chip: { enabled: false }\n', 't.yaml', noEnv).config;
  t.is(checkinPolicy(off.checkin, off.chip).timeouts.portraitMs, off.checkin.timeouts.portraitMs);
  const notASource = parseConfig('chip: { enabled: true, portraitSources: [identity] }\n', 't.yaml', noEnv).config;
  t.is(checkinPolicy(notASource.checkin, notASource.chip).timeouts.portraitMs, notASource.checkin.timeouts.portraitMs);
});

test('kioskd check-config exits 78 on a bad chip value, naming it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, 'chip: { enabled: true, retries: 50 }\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'check-config', file], {
    encoding: 'utf8',
    env: { ...process.env, NOTIFY_SOCKET: '' },
    timeout: 60_000,
  });
  t.is(r.status, 78, r.stderr);
  t.regex(r.stderr, /chip\.retries/);
});
