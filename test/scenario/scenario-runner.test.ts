/**
 * `hw-sim run` as a technician meets it: a scenario file written from the README alone runs
 * and is judged correctly, a wrong expectation fails saying what was seen instead, a file that
 * failed mid-check-in does not spoil the next, a file that breaks the schema (or needs OCR that
 * is not installed) is refused before anything runs, and the report never repeats a sample
 * patient's personal data. The kiosk runs without face models (faces do not matter here), so
 * each run takes a few seconds.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPersonalData, leaksInLog, leaksInMessages, maskPersonalData, maskTicketText } from '../../hw-sim/scenario/privacy.js';
import { Report } from '../../hw-sim/scenario/report.js';
import { SAMPLE_IDENTITIES } from '../../hw-sim/identities.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function hwSimRun(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'hw-sim/main.ts', 'run', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
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

/**
 * Shared by every file here, so they run on one kiosk. The consent question waits a minute: a
 * session left at it would outlast the runner's 30 s wait for an idle kiosk, unless cancelled.
 */
const HEADER = `faceid: false
config:
  kiosk: { resultHoldMs: 300 }
  hal: { card: { duplicateWindowSec: 1 } }
  checkin: { noPortrait: unverified, consentTimeoutSec: 60 }
`;

/** A patient on a kiosk without face models: with noPortrait "unverified" a queue ticket prints. */
const GOOD = `name: A patient without the face check gets a queue ticket
${HEADER}steps:
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
  - expect: { ticket: { count: 1, complete: true } }
  - expect: { ticket: { count: 0, complete: false } }
  - expect: { state: { mode: idle } }
  - broker: stop
  - mark: broker_back
  - broker: start
  - expect: { mqtt: { topic: status, payload: online }, since: broker_back, within: 15s }
  - expect: { no_personal_data: mqtt }
`;

/** The same visit, but the file expects the counter: wrong on purpose. */
const WRONG = GOOD.replace('name: A patient without the face check gets a queue ticket', 'name: wrong on purpose').replace(
  'outcome: printed',
  'outcome: counter',
);

/** Fails while the patient is at the consent question: the kiosk is left mid-check-in. */
const STUCK = `name: fails mid-check-in on purpose
${HEADER}steps:
  - scan: 1
  - expect: { leds: { ready: blink }, within: 5s }
  - expect: { state: { mode: maintenance }, within: 1s }
`;

test('a good scenario file passes: exit 0, every step ✔ with its time, the summary line', async (t) => {
  t.timeout(90_000);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'good.yaml'), GOOD);
  const r = await hwSimRun([join(dir, 'good.yaml')]);
  t.is(r.code, 0, r.out + r.err);
  t.regex(r.out, /✔ expect event\/checkin\.completed .* → number="AU\d{3}" \(\d+ ms\)/);
  // A count with complete: counts only such tickets (the queue ticket is complete, none was torn off).
  t.regex(r.out, /✔ expect 1 ticket complete → 1 of 1 printed \(\d+ ms\)/);
  t.regex(r.out, /✔ expect 0 tickets torn off → 0 of 1 printed \(\d+ ms\)/);
  t.regex(r.out, /✔ stop the MQTT broker \(\d+ ms\)/);
  t.regex(r.out, new RegExp(`✔ ${join(dir, 'good.yaml')} passed`));
  t.true(r.out.trimEnd().endsWith('1 scenario: 1 passed, 0 failed'));
  t.false(existsSync(join(ROOT, 'report.txt')), 'nothing is written without --artifacts');
});

test('a wrong expectation fails the run (exit 1) and says what was seen instead; a file failing mid-check-in is cleaned up after; the good file beside them still passes on the same kiosk', async (t) => {
  t.timeout(90_000);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'good.yaml'), GOOD);
  writeFileSync(join(dir, 'stuck.yaml'), STUCK);
  writeFileSync(join(dir, 'wrong.yaml'), WRONG);
  const r = await hwSimRun([join(dir, 'good.yaml'), join(dir, 'stuck.yaml'), join(dir, 'wrong.yaml'), '--artifacts', join(dir, 'art')]);
  t.is(r.code, 1, r.out + r.err);
  t.is(r.out.match(/starting a virtual kiosk/g)?.length, 1, 'files with the same config share one kiosk');
  t.regex(r.out, new RegExp(`✔ ${join(dir, 'good.yaml')} passed`));
  t.regex(r.out, new RegExp(`✘ ${join(dir, 'stuck.yaml')} failed`));
  t.regex(r.out, new RegExp(`✘ ${join(dir, 'wrong.yaml')} failed`));
  // The stuck file left the patient at the consent question (a minute): the runner cancelled that check-in, and the next file ran its own.
  t.regex(r.out, /wrong\.yaml — wrong on purpose\n +· kioskd was still in a check-in \(step consent\): sent cmd\/cancel\n/);
  t.false(r.out.includes('the kiosk is ready (idle) before the scenario'), r.out);
  const failedStep =
    /✘ expect event\/checkin\.completed .*outcome: counter.* \((\d+) ms\)\n +expected a message on kiosk\/sim-kiosk-1\/event\/checkin\.completed with .*outcome: counter/.exec(
      r.out,
    );
  t.truthy(failedStep, r.out);
  // The check-in's one checkin.completed was the wrong one: no use waiting out the 15 s.
  t.true(Number(failedStep?.[1]) < 15_000, `failed after ${failedStep?.[1]} ms`);
  t.regex(r.out, /saw 1 on kiosk\/sim-kiosk-1\/event\/checkin\.completed, none matching/);
  t.regex(r.out, /data\.outcome: expected "counter", saw "printed"/);
  t.regex(r.out, /sends event\/checkin\.completed once: this was it/);
  t.regex(r.out, /· \d+ more steps not run/);
  t.true(r.out.includes('3 scenarios: 1 passed, 2 failed'));
  const report = readFileSync(join(dir, 'art', 'report.txt'), 'utf8');
  t.is(report, r.out.slice(0, report.length), 'report.txt is the report that was printed');
  // An empty (or cut-short) report.txt would equal an empty prefix: it must hold the run's summary.
  t.regex(report, /^3 scenarios: 1 passed, 2 failed$/m, "report.txt holds the run's summary line");
  t.regex(readFileSync(join(dir, 'art', 'mqtt.log'), 'utf8'), / kiosk\/sim-kiosk-1\/event\/checkin\.completed /);
  t.true(existsSync(join(dir, 'art', 'tickets', 'good', 'ticket-001.png')));
  t.true(existsSync(join(dir, 'art', 'tickets', 'wrong', 'ticket-002.txt')));
  t.regex(readFileSync(join(dir, 'art', 'mqtt.log'), 'utf8'), / kiosk\/sim-kiosk-1\/cmd\/cancel\/response \{.*"status":"ok"/);
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
  - expect: { mqtt: { topic: status }, since: nowhere }
  - expect: { leds: { ready: blink }, since: start }
  - expect: { mqtt: { topic: event/card.read, count: 1 }, save: { card: data.card } }
  - advance: 2y
  - advance: { to: '25:00' }
  - advance: 400d
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
  t.true(r.err.includes(`${bad}:9:47: steps[4].expect.since: no mark "nowhere"`), r.err);
  // The lamps and the state are the kiosk as it is: a window on them would be silently ignored.
  t.true(r.err.includes(`${bad}:10:46: steps[5].expect.since: since: applies to mqtt, ticket, calls, no_personal_data`), r.err);
  // A count matches no one message: nothing would ever be saved.
  t.true(r.err.includes(`${bad}:11:65: steps[6].expect.save: save needs one message to pick from`), r.err);
  // Time only moves forward, by a duration or to a local time; never decades by a slip of the unit.
  t.true(r.err.includes(`${bad}:12:14: steps[7].advance: a duration with a unit: 500ms, 5s, 1.5s, 2m, 1h or 1d (got "2y")`), r.err);
  t.true(r.err.includes(`${bad}:13:20: steps[8].advance.to: a local time HH:MM such as "06:00" (quote it) (got "25:00")`), r.err);
  t.true(r.err.includes(`${bad}:14:14: steps[9].advance: advance by at most 366d (got "400d")`), r.err);
  t.regex(r.err, /10 problems in 1 scenario file; nothing was run/);
});

test('a scenario file with a YAML alias bomb ("billion laughs") is an invalid file: exit 65, one line, nothing runs', async (t) => {
  const dir = tempDir(t);
  const bomb = join(dir, 'bomb.yaml');
  const levels = 'abcdefghi'.split('');
  writeFileSync(
    bomb,
    `name: lol\nx: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n` +
      levels
        .slice(1)
        .map((k, i) => `${k}: &${k} [${Array(9).fill(`*${levels[i]}`).join(',')}]`)
        .join('\n') +
      '\nsteps:\n  - scan: 1\n',
  );
  writeFileSync(join(dir, 'good.yaml'), GOOD);
  const r = await hwSimRun([join(dir, 'good.yaml'), bomb]);
  t.is(r.code, 65, r.out + r.err);
  t.true(r.err.includes(`${bomb}:1:1: too many YAML aliases`), r.err);
  t.notRegex(r.err, /ReferenceError|\bat \w+ \(/, 'no stack trace');
  t.false(r.out.includes('starting a virtual kiosk'), 'nothing was run');
});

test('ticket text without tesseract: refused before a kiosk starts (exit 69), saying what to install', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'text.yaml');
  writeFileSync(
    file,
    GOOD.replace('- expect: { ticket: { count: 1, complete: true } }', '- expect: { ticket: { complete: true, text: /Khám bệnh/ } }'),
  );
  // An empty PATH: no tesseract (node itself is started by its full path).
  const r = await hwSimRun([file], { ...process.env, PATH: tempDir(t) });
  t.is(r.code, 69, r.out + r.err);
  t.regex(r.err, /ticket text needs OCR: apt-get install tesseract-ocr tesseract-ocr-vie/);
  t.true(r.err.includes(`${file} step 8`), r.err);
  t.false(r.out.includes('starting a virtual kiosk'), 'nothing was run');
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

test("the report never repeats a sample patient's personal data: quoted payloads and ticket text are masked, privacy findings say what and where without the value", (t) => {
  const p = SAMPLE_IDENTITIES[0]!;
  const dob = `${p.dob.slice(0, 2)}/${p.dob.slice(2, 4)}/${p.dob.slice(4)}`;
  const personal = [p.fullName, p.idNumber, dob, p.fullName.split(' ')[0]!];
  const leaksNothing = (text: string, what: string): void => {
    for (const v of personal) t.false(text.includes(v), `${what} shows ${v}: ${text}`);
  };

  const masked = maskPersonalData(`saw: {"hoTen":"${p.fullName}","soCccd":"${p.idNumber}","ngaySinh":"${dob}"}`);
  leaksNothing(masked, 'a masked payload');
  t.regex(masked, /\[personal data: sample 1's full name\]/);
  t.regex(masked, /\[personal data: sample 1's ID number\]/);
  t.regex(masked, /\[personal data: sample 1's date of birth\]/);

  // OCR rarely reads a name letter for letter: the ticket's name line goes whatever it says.
  const ticket = maskTicketText('SỐ THỨ TỰ\nA001\nHo tén: Ngyuen Thj Anh Tuvet\nCCCD: ********0001');
  t.false(ticket.includes('Ngyuen'), ticket);
  t.regex(ticket, /^Ho tén: \[personal data: the patient's name\]$/m);
  t.regex(ticket, /^A001$/m);

  // Everything the report prints (stdout and report.txt) is masked.
  const printed: string[] = [];
  const report = new Report((s) => printed.push(s));
  report.line(`  ticket-001.png complete, text: "Họ tên: ${p.fullName} ⏎ CCCD ${p.idNumber}"`);
  leaksNothing(printed.join(''), 'the printed report');
  leaksNothing(report.text(), 'report.txt');

  const onMqtt = leaksInMessages(
    [
      { topic: 'kiosk/k1/event/card.read', payload: '{"data":{"card":"********0001"}}', at: Date.UTC(2026, 0, 2, 3, 4, 5, 678) },
      {
        topic: 'kiosk/k1/event/checkin.started',
        payload: JSON.stringify({ data: { patient: { name: p.fullName } } }),
        at: Date.UTC(2026, 0, 2, 3, 4, 6, 0),
      },
    ],
    'the scenario began',
  );
  t.deepEqual(onMqtt, [
    {
      what: "sample 1's full name",
      where: 'on kiosk/k1/event/checkin.started (message 2 since the scenario began, at 03:04:06.000), in data.patient.name',
    },
  ]);

  const inLog = leaksInLog(
    `{"level":30,"time":1767323045678,"msg":"ok"}\n{"level":40,"time":1767323046000,"msg":"lookup for ${p.idNumber} failed"}\n`,
    'mark second',
  );
  t.is(inLog.length, 1);
  t.is(inLog[0]!.what, "sample 1's ID number");
  t.regex(
    inLog[0]!.where,
    /^in kioskd's log, line 2 since mark second \(at [\d:.]+, msg "lookup for \[personal data: sample 1's ID number\] failed"\), in msg$/,
  );
  leaksNothing(JSON.stringify([onMqtt, inLog]), 'a finding');
});
