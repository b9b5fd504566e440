/**
 * `hw-sim run` as a technician meets it: a scenario file written from the README alone runs
 * and is judged correctly, a wrong expectation fails saying what was seen instead, and a file
 * that breaks the schema is refused with its file, line and field before anything runs. The
 * kiosk runs without face models (faces do not matter here), so each run takes a few seconds.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPersonalData } from '../hw-sim/scenario/privacy.js';
import { SAMPLE_IDENTITIES } from '../hw-sim/identities.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function hwSimRun(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'hw-sim/main.ts', 'run', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
}

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'hw-sim-run-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A patient on a kiosk without face models: with noPortrait "unverified" a queue ticket prints. */
const GOOD = `name: A patient without the face check gets a queue ticket
faceid: false
config:
  kiosk: { resultHoldMs: 300 }
  checkin: { noPortrait: unverified, consentTimeoutSec: 5 }
steps:
  - command: { name: ping, status: ok, data: { pong: true } }
  - scan: 2
  - expect:
      mqtt: { topic: event/checkin.started, data: { card: '********0002' } }
      save: { session: data.session_id }
  - expect: { leds: { ready: blink }, within: 5s }
  - press: consent-yes
  - expect:
      mqtt: { topic: event/checkin.completed, data: { session_id: '\${session}', outcome: printed, face_verified: false, number: '/^AU\\d{3}$/' } }
      within: 15s
      save: { number: data.number }
  - expect: { mqtt: { topic: event/ticket.printed, data: { number: '\${number}' } } }
  - expect: { ticket: { complete: true } }
  - expect: { state: { mode: idle } }
  - broker: stop
  - mark: broker_back
  - broker: start
  - expect: { mqtt: { topic: status, payload: online }, since: broker_back, within: 15s }
  - expect: { no_personal_data: mqtt }
`;

/** The same visit, but the file expects the counter: wrong on purpose. */
const WRONG = GOOD.replace('name: A patient without the face check gets a queue ticket', 'name: wrong on purpose')
  .replace('outcome: printed', 'outcome: counter')
  .replace('within: 15s\n      save', 'within: 4s\n      save');

test('a good scenario file passes: exit 0, every step ✔ with its time, the summary line', async (t) => {
  t.timeout(90_000);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'good.yaml'), GOOD);
  const r = await hwSimRun([join(dir, 'good.yaml')]);
  t.is(r.code, 0, r.out + r.err);
  t.regex(r.out, /✔ expect event\/checkin\.completed .* → number="AU\d{3}" \(\d+ ms\)/);
  t.regex(r.out, /✔ stop the MQTT broker \(\d+ ms\)/);
  t.regex(r.out, new RegExp(`✔ ${join(dir, 'good.yaml')} passed`));
  t.true(r.out.trimEnd().endsWith('1 scenario: 1 passed, 0 failed'));
  t.false(existsSync(join(ROOT, 'report.txt')), 'nothing is written without --artifacts');
});

test('a wrong expectation fails the run (exit 1) and says what was seen instead; the good file beside it still passes on the same kiosk', async (t) => {
  t.timeout(90_000);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'good.yaml'), GOOD);
  writeFileSync(join(dir, 'wrong.yaml'), WRONG);
  const r = await hwSimRun([join(dir, 'good.yaml'), join(dir, 'wrong.yaml'), '--artifacts', join(dir, 'art')]);
  t.is(r.code, 1, r.out + r.err);
  t.is(r.out.match(/starting a virtual kiosk/g)?.length, 1, 'files with the same config share one kiosk');
  t.regex(r.out, new RegExp(`✔ ${join(dir, 'good.yaml')} passed`));
  t.regex(r.out, new RegExp(`✘ ${join(dir, 'wrong.yaml')} failed`));
  t.regex(r.out, /✘ expect event\/checkin\.completed .*outcome: counter.* \(\d+ ms\)\n +expected a message on kiosk\/sim-kiosk-1\/event\/checkin\.completed with .*outcome: counter/);
  t.regex(r.out, /saw 1 on kiosk\/sim-kiosk-1\/event\/checkin\.completed, none matching/);
  t.regex(r.out, /data\.outcome: expected "counter", saw "printed"/);
  t.regex(r.out, /· \d+ more steps not run/);
  t.true(r.out.includes('2 scenarios: 1 passed, 1 failed'));
  t.is(readFileSync(join(dir, 'art', 'report.txt'), 'utf8'), r.out.slice(0, readFileSync(join(dir, 'art', 'report.txt'), 'utf8').length));
  t.regex(readFileSync(join(dir, 'art', 'mqtt.log'), 'utf8'), / kiosk\/sim-kiosk-1\/event\/checkin\.completed /);
  t.true(existsSync(join(dir, 'art', 'tickets', 'good', 'ticket-001.png')));
  t.true(existsSync(join(dir, 'art', 'tickets', 'wrong', 'ticket-002.txt')));
});

test('an invalid scenario file: exit 65, every problem named by file, line and field, and nothing runs', async (t) => {
  const dir = tempDir(t);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(
    bad,
    `name: typos
steps:
  - scan: 1
  - press: yess
  - expect:
      mqtt: { topic: event/checkin.completed, data: { number: '\${number}' } }
      within: 5
  - printer: { paper_out: 3000 }
  - expect: { state: { mode: idle }, since: nowhere }
`,
  );
  writeFileSync(join(dir, 'good.yaml'), GOOD);
  const r = await hwSimRun([join(dir, 'good.yaml'), bad]);
  t.is(r.code, 65, r.out + r.err);
  t.false(r.out.includes('starting a virtual kiosk'), 'nothing was run');
  t.true(r.err.includes(`${bad}:4:12: steps[1].press: `), r.err);
  t.regex(r.err, /got "yess"/);
  t.true(r.err.includes(`${bad}:6:63: steps[2].expect.mqtt.data.number: \${number} is not saved by an earlier step`), r.err);
  t.true(r.err.includes(`${bad}:7:15: steps[2].expect.within: a duration with a unit`), r.err);
  t.true(r.err.includes(`${bad}:8:16: steps[3].printer.paper_out: unknown key "paper_out"`), r.err);
  t.true(r.err.includes(`${bad}:9:45: steps[4].expect.since: no mark "nowhere"`), r.err);
  t.regex(r.err, /5 problems in 1 scenario file; nothing was run/);
});

test('usage errors exit 64: no file, an unknown option', async (t) => {
  const none = await hwSimRun([]);
  t.is(none.code, 64);
  t.regex(none.err, /name at least one scenario file/);
  const unknown = await hwSimRun(['--frobnicate', 'x.yaml']);
  t.is(unknown.code, 64);
  t.regex(unknown.err, /usage: hw-sim run FILE… \[--artifacts DIR\]/);
});

test('the personal-data check catches ID numbers, names and birth dates, but not ids that merely end in 12 digits', (t) => {
  const p = SAMPLE_IDENTITIES[0]!;
  t.deepEqual(findPersonalData('{"session_id":"3dadd8f3-571f-440b-91c7-123456786208","card":"********0001"}'), []);
  t.truthy(findPersonalData(`card ${p.idNumber}`).find((l) => /ID number/.test(l.what)));
  t.truthy(findPersonalData('maThe 079123456789').find((l) => /12-digit/.test(l.what)));
  t.truthy(findPersonalData(`hoTen ${p.fullName.toUpperCase()}`).find((l) => /name/.test(l.what)));
});
