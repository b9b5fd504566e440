import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { SimulatedClock } from 'xstate';
import { z } from 'zod';
import { gatewayBirthDate } from '../../src/bhyt/answer.js';
import { createBhytClient, type BhytClient, type BhytClientOptions, type BhytLookup, type BhytQuery } from '../../src/bhyt/client.js';
import { MAX_ANSWER_BYTES } from '../../src/bhyt/http.js';
import { tokenLifeMs } from '../../src/bhyt/token.js';
import { NOT_CHECKED_WORDS, routeOf } from '../../src/bhyt/codes.js';
import { bhytConfigSchema } from '../../src/bhyt/config.js';
import { systemClock } from '../../src/util/clock.js';
import { BhytGatewaySim } from '../../hw-sim/devices/bhyt-gateway.js';
import { RequestRecorder } from '../../hw-sim/devices/recorder.js';
import { createCheckinSteps, type StepDeps } from '../../src/checkin/device-steps.js';
import { insuranceWords, UNCHECKED_WORDS } from '../../src/printing/ticket/wording.js';
import { createSessions } from '../../src/checkin/sessions.js';
import type { CitizenIdentity } from '../../src/hal/card/types.js';

const PASSWORD = 'mat-khau-bi-mat';
const patient: BhytQuery = { cardId: '079190001234', fullName: 'Nguyễn Thị Ánh Tuyết', dateOfBirth: '1990-05-17' };
const YEAR = new Date().getFullYear();
const never = new AbortController().signal;

const OFFICER_ID = '079085000111';
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
/** Personal data and secrets that must never appear in a log line or a reason (the password's MD5 in both cases the gateway may want). */
const SECRETS = [
  patient.cardId,
  patient.fullName,
  patient.fullName.toUpperCase(),
  '17/05/1990',
  '1990-05-17',
  PASSWORD,
  md5(PASSWORD),
  md5(PASSWORD).toUpperCase(),
  OFFICER_ID,
];

async function rig(t: ExecutionContext, o: Partial<BhytClientOptions> & { ttlSec?: number } = {}) {
  const sim = await BhytGatewaySim.start({ username: '79024_BV', password: PASSWORD, ...(o.ttlSec ? { tokenTtlSec: o.ttlSec } : {}) });
  t.teardown(() => sim.stop());
  const lines: string[] = [];
  // A bare pino, without the daemon's redaction nets: the client itself must log nothing personal.
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
  const client = createBhytClient({
    url: sim.url,
    username: '79024_BV',
    password: PASSWORD,
    officerName: 'Trần Văn Bình',
    officerId: OFFICER_ID,
    timeoutMs: 2000,
    breaker: { failures: 3, openSec: 30 },
    clock: systemClock(),
    wallClock: () => new Date(),
    log,
    ...o,
  });
  const logs = (): string => lines.join('');
  return { sim, client, logs };
}

function clean(t: ExecutionContext, text: string, more: readonly string[] = []): void {
  for (const s of [...SECRETS, ...more]) t.false(text.includes(s), `leaked: ${s.slice(0, 3)}…`);
}

function unavailable(t: ExecutionContext, r: BhytLookup, pattern: RegExp): void {
  if (r.kind !== 'unavailable') return void t.fail(`expected unavailable, got ${r.kind} ${r.code}`);
  t.regex(r.reason, pattern);
  clean(t, r.reason);
}

// ---- the maKetQua table ----

test('routeOf: 000, 003, 004 proceed; 001/002 send to the counter to check papers', (t) => {
  t.like(routeOf('000'), { route: 'proceed', words: 'Có BHYT – thông tin thẻ đúng' });
  for (const c of ['003', '004']) {
    t.is(routeOf(c).route, 'proceed');
    t.regex(routeOf(c).words, /thẻ mới/);
    t.is(routeOf(c).fault, undefined);
  }
  for (const c of ['001', '002']) {
    t.is(routeOf(c).route, 'counter');
    t.regex(routeOf(c).words, /kiểm tra thẻ và giấy tờ/);
    t.is(routeOf(c).fault, undefined);
  }
});

test("routeOf: the patient's card problems go to the counter, with Vietnamese words and an English reason, no fault", (t) => {
  t.like(routeOf('010'), { route: 'counter', words: 'Thẻ BHYT hết hạn', reason: 'card expired' });
  t.like(routeOf('070'), { route: 'counter', reason: 'wrong date of birth' });
  t.like(routeOf('110'), { route: 'counter', words: 'Thẻ BHYT đã bị thu hồi' });
  for (const c of ['010', '050', '051', '052', '053', '060', '061', '070', '110', '120', '121', '122', '123', '124', '130']) {
    const r = routeOf(c);
    t.is(r.route, 'counter', c);
    t.is(r.fault, undefined, c);
    t.regex(r.words, /[ếạôủẻ]/u, `${c} words are Vietnamese`);
    t.regex(r.reason, /^[\x20-\x7e]+$/, `${c} reason is plain English`);
    t.notRegex(r.words, /lạ/, `${c} is known`);
  }
});

test("routeOf: the kiosk's and the gateway's own failures go to the counter marked with whose fault", (t) => {
  for (const c of ['054', '055', '205', '401']) t.like(routeOf(c), { route: 'counter', fault: 'kiosk', words: NOT_CHECKED_WORDS }, c);
  for (const c of ['100', '101', '500']) t.like(routeOf(c), { route: 'counter', fault: 'gateway', words: NOT_CHECKED_WORDS }, c);
  t.regex(routeOf('054').reason, /cccdCb/);
  t.regex(routeOf('055').reason, /hoTenCb/);
});

test('routeOf: unknown codes go to the counter as "mã kết quả lạ", never through', (t) => {
  t.like(routeOf('777'), { route: 'counter', words: 'Mã kết quả lạ 777' });
  t.is(routeOf('777').fault, undefined);
  t.is(routeOf('__proto__').route, 'counter');
  t.is(routeOf('constructor').route, 'counter');
  t.is(routeOf('<b>x\n1234567890</b>').words, 'Mã kết quả lạ bx123456');
});

// ---- config ----

test('config: defaults when absent; enabling demands the account and the officer', (t) => {
  t.deepEqual(bhytConfigSchema.parse(undefined), {
    enabled: false,
    url: 'https://egw.baohiemxahoi.gov.vn',
    timeoutMs: 4000,
    breaker: { failures: 3, openSec: 30 },
    reconcileEverySec: 120,
  });
  const r = bhytConfigSchema.safeParse({ enabled: true });
  t.false(r.success);
  const messages = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  t.deepEqual(messages, [
    'username: required when bhyt.enabled is true: the gateway account',
    'officerName: required when bhyt.enabled is true: the name of the registered officer (hoTenCb)',
    'officerId: required when bhyt.enabled is true: the CCCD of the registered officer (cccdCb)',
  ]);
  const ok = bhytConfigSchema.parse({
    enabled: true,
    username: '79024_BV',
    officerName: 'Trần Văn Bình',
    officerId: '079085000111',
    breaker: { openSec: 5 },
  });
  t.like(ok, { enabled: true, breaker: { failures: 3, openSec: 5 } });
});

test('config: refuses bad values and unknown keys; every field is described', (t) => {
  t.false(bhytConfigSchema.safeParse({ officerId: '12345' }).success);
  t.false(bhytConfigSchema.safeParse({ url: 'ftp://egw.baohiemxahoi.gov.vn' }).success);
  t.false(bhytConfigSchema.safeParse({ url: 'https://u:p@egw.baohiemxahoi.gov.vn' }).success);
  t.false(bhytConfigSchema.safeParse({ password: 'x' }).success, 'strict: a password in the file is refused');
  t.false(bhytConfigSchema.safeParse({ breaker: { failure: 3 } }).success);
  const schema = z.toJSONSchema(bhytConfigSchema, { io: 'input' }) as {
    properties: Record<string, { description?: string; properties?: Record<string, { description?: string }> }>;
  };
  for (const [k, p] of Object.entries(schema.properties)) {
    t.truthy(p.description, k);
    for (const [k2, p2] of Object.entries(p.properties ?? {})) t.truthy(p2.description, `${k}.${k2}`);
  }
});

// ---- pure helpers ----

test('dates: ISO → dd/MM/yyyy, a year alone stays a year; token life from seconds or an ISO time', (t) => {
  t.is(gatewayBirthDate('1990-05-17'), '17/05/1990');
  t.is(gatewayBirthDate('1958'), '1958');
  t.is(gatewayBirthDate('17/05/1990'), null);
  const now = Date.parse('2024-08-29T07:33:08Z');
  t.is(tokenLifeMs(1200, now), 1_200_000);
  t.is(tokenLifeMs('1200', now), 1_200_000);
  t.is(tokenLifeMs('2024-08-29T08:33:08.5454145Z', now), 3_600_545);
  t.is(tokenLifeMs(undefined, now), 50 * 60_000);
  t.is(tokenLifeMs('2020-01-01T00:00:00Z', now), 50 * 60_000, 'a time already past (wrong kiosk clock) → the default');
  t.is(tokenLifeMs(10 * 86_400, now), 24 * 3600_000, 'capped at a day');
});

// ---- client ↔ simulator ----

test('000: proceeds, with the card validity and registered facility', async (t) => {
  const { client, logs } = await rig(t);
  const r = await client.lookup(patient, never);
  t.like(r, {
    kind: 'checked',
    code: '000',
    route: 'proceed',
    words: 'Có BHYT – thông tin thẻ đúng',
    card: { validTo: `${YEAR + 1}-12-31`, registeredFacility: '79024' },
  });
  t.false('fault' in r);
  t.regex(logs(), /"card":"\*{8}1234".*"code":"000"/);
  clean(t, logs());
});

test('010: counter with the Vietnamese words; 003: proceeds on the new card', async (t) => {
  const { sim, client } = await rig(t);
  sim.setResult(patient.cardId, '010');
  t.like(await client.lookup(patient, never), {
    kind: 'checked',
    code: '010',
    route: 'counter',
    words: 'Thẻ BHYT hết hạn',
    card: { validTo: `${YEAR - 1}-12-31` },
  });
  sim.setResult(patient.cardId, '003');
  t.like(await client.lookup(patient, never), {
    kind: 'checked',
    code: '003',
    route: 'proceed',
    card: { validTo: `${YEAR + 1}-12-31`, registeredFacility: '79025' },
  });
  sim.setResult(patient.cardId, '054');
  t.like(await client.lookup(patient, never), {
    kind: 'checked',
    code: '054',
    route: 'counter',
    fault: 'kiosk',
    card: { validTo: null, registeredFacility: null },
  });
});

test('the token is taken once for three lookups (and once for three at the same time), and renewed after the gateway expires it', async (t) => {
  const { sim, client } = await rig(t);
  for (let i = 0; i < 3; i++) t.like(await client.lookup(patient, never), { kind: 'checked', code: '000' });
  t.like(sim.stats(), { tokenRequests: 1, lookups: 3 });
  await sim.setFault('expire-token');
  t.like(await client.lookup(patient, never), { kind: 'checked', code: '000' });
  t.like(sim.stats(), { tokenRequests: 2, lookups: 5 }, 'one 401, a new token, one retry');

  const fresh = await rig(t);
  const all = await Promise.all([1, 2, 3].map((i) => fresh.client.lookup({ ...patient, cardId: `07919000123${i}` }, never)));
  t.true(all.every((r) => r.kind === 'checked'));
  t.like(fresh.sim.stats(), { tokenRequests: 1, lookups: 3, byCard: { '079190001231': 1, '079190001232': 1, '079190001233': 1 } });
});

test('the token is kept until its expiry (by the injected clock) minus a margin', async (t) => {
  // A one-hour token is renewed in its last minute (the margin: a tenth of its life, at most 60 s),
  // while the gateway would still take it, so it never expires between our check and the gateway's.
  const clock = new SimulatedClock();
  const { sim, client } = await rig(t, { clock, ttlSec: 3600 });
  await client.lookup(patient, never);
  clock.increment(3_000_000);
  await client.lookup(patient, never);
  t.is(sim.stats().tokenRequests, 1);
  clock.increment(530_000); // 58:50, ten seconds before the margin
  await client.lookup(patient, never);
  t.is(sim.stats().tokenRequests, 1, 'kept until the margin');
  clock.increment(30_000); // 59:20, inside the last minute
  await client.lookup(patient, never);
  t.is(sim.stats().tokenRequests, 2, 'renewed inside the margin, before the gateway expires it');
  t.is(sim.stats().lookups, 4, 'no lookup was refused for an expired token');
});

test('the body carries dd/MM/yyyy (or the year alone) and the officer fields; upper-case MD5 works too; a wrong password is the kiosk’s fault', async (t) => {
  const { sim, client, logs } = await rig(t, { passwordHash: 'md5-upper' });
  await client.lookup(patient, never);
  t.deepEqual(sim.lastLookup(), {
    maThe: patient.cardId,
    hoTen: patient.fullName,
    ngaySinh: '17/05/1990',
    hoTenCb: 'Trần Văn Bình',
    cccdCb: OFFICER_ID,
  });
  t.like(await client.lookup({ ...patient, dateOfBirth: '1958' }, never), { kind: 'checked', code: '000' });
  t.like(sim.lastLookup(), { ngaySinh: '1958' });
  clean(t, logs());
  const bad = await rig(t, { password: 'sai' });
  const r = await bad.client.lookup(patient, never);
  t.like(r, { kind: 'checked', code: '401', route: 'counter', fault: 'kiosk', words: NOT_CHECKED_WORDS });
  t.is(bad.sim.stats().lookups, 0);
  clean(t, bad.logs() + JSON.stringify(r), [md5('sai'), md5('sai').toUpperCase()]);
});

test('HTTP 500, malformed JSON and a slow gateway → unavailable, reasons without personal data', async (t) => {
  const { sim, client, logs } = await rig(t, { timeoutMs: 300 });
  t.like(await client.lookup(patient, never), { kind: 'checked' });
  await sim.setFault('http-500');
  unavailable(t, await client.lookup(patient, never), /^gateway answered HTTP 500$/);
  await sim.setFault('malformed-json');
  unavailable(t, await client.lookup(patient, never), /^malformed JSON in the gateway's lookup answer/);
  const slowMs = 5000;
  await sim.setFault('slow', { delayMs: slowMs });
  const started = Date.now();
  unavailable(t, await client.lookup(patient, never), /^gateway did not answer within 300 ms$/);
  t.true(Date.now() - started < slowMs, 'gave up without waiting for the slow answer');
  clean(t, logs());
});

test('three failures open the breaker: the fourth is refused without reaching the gateway; after openSec one trial closes it', async (t) => {
  const clock = new SimulatedClock();
  const { sim, client } = await rig(t, { clock, breaker: { failures: 3, openSec: 30 } });
  await client.lookup(patient, never); // holds a token now
  await sim.setFault('http-500');
  for (let i = 0; i < 3; i++) t.is((await client.lookup(patient, never)).kind, 'unavailable');
  t.is(client.breakerState(), 'open');
  const before = sim.stats();
  unavailable(t, await client.lookup(patient, never), /^gateway circuit open after 3 failures in a row; next try in 30 s$/);
  t.deepEqual(sim.stats(), before, 'the gateway was not reached');

  clock.increment(30_000);
  t.is(client.breakerState(), 'half-open');
  // A failed trial reopens at once.
  t.is((await client.lookup(patient, never)).kind, 'unavailable');
  t.is(client.breakerState(), 'open');
  clock.increment(30_000);
  await sim.setFault('none');
  t.like(await client.lookup(patient, never), { kind: 'checked', code: '000' });
  t.is(client.breakerState(), 'closed');
  t.is(sim.stats().lookups, before.lookups + 2);
});

test("'down' → unavailable (connection refused), and lookups recover when it is back", async (t) => {
  const { sim, client } = await rig(t);
  t.like(await client.lookup(patient, never), { kind: 'checked' });
  await sim.setFault('down');
  unavailable(t, await client.lookup(patient, never), /^cannot reach the gateway \((ECONNREFUSED|UND_ERR_SOCKET|ECONNRESET)\)$/);
  await sim.setFault('none');
  t.like(await client.lookup(patient, never), { kind: 'checked', code: '000' });
  t.is(client.breakerState(), 'closed');
});

test('a caller abort rejects with an AbortError at once (waiting for the lookup or for the token), and does not count against the gateway', async (t) => {
  const opts = { timeoutMs: 20_000, breaker: { failures: 1, openSec: 30 } };
  const slowMs = 10_000;
  const abortsQuickly = async (client: BhytClient, phase: string): Promise<void> => {
    const ac = new AbortController();
    const started = Date.now();
    const p = client.lookup(patient, ac.signal);
    setTimeout(() => ac.abort(), 100);
    // A DOMException, as fetch and Node reject with (ava's throwsAsync wants a plain Error).
    const e: unknown = await p.then(
      () => null,
      (err: unknown) => err,
    );
    t.true(e instanceof Error && e.name === 'AbortError', phase);
    t.true(Date.now() - started < slowMs, `${phase}: did not wait for the slow answer`);
    t.is(client.breakerState(), 'closed', phase);
  };
  const holding = await rig(t, opts);
  await holding.client.lookup(patient, never); // holds a token: the next one waits on the lookup itself
  await holding.sim.setFault('slow', { delayMs: slowMs });
  await abortsQuickly(holding.client, 'lookup');
  const fresh = await rig(t, opts);
  await fresh.sim.setFault('slow', { delayMs: slowMs });
  await abortsQuickly(fresh.client, 'token');
  const ac = new AbortController();
  ac.abort();
  t.is(
    await fresh.client.lookup(patient, ac.signal).then(
      () => null,
      (err: unknown) => (err as Error).name,
    ),
    'AbortError',
  );
});

test('logs of every outcome carry the masked card, the code and the time, never the card number, name, birth date or secrets', async (t) => {
  const { sim, client, logs } = await rig(t, { timeoutMs: 300 });
  const bhytCard: BhytQuery = { ...patient, cardId: 'DN4797912345678' };
  for (const code of ['000', '010', '060', '054', '500', '888']) {
    sim.setResult(patient.cardId, code);
    sim.setResult(bhytCard.cardId, code);
    await client.lookup(patient, never);
    await client.lookup(bhytCard, never);
  }
  await sim.setFault('malformed-json');
  await client.lookup(bhytCard, never);
  await sim.setFault('down');
  await client.lookup(bhytCard, never);
  const text = logs();
  clean(t, text);
  t.false(text.includes(bhytCard.cardId));
  t.false(text.includes('token='), 'no URL with the token');
  t.regex(text, /\*{11}5678/);
  t.regex(text, /"ms":\d+/);
  for (const code of ['000', '010', '060', '054', '500', '888']) t.true(text.includes(`"code":"${code}"`), code);
});

// ---- a gateway (or what stands in front of it) answering in ways the kiosk must not act on ----

/** Log lines at error level (pino: 50) about one problem kind. */
const errorLines = (logs: string, problem: string): number =>
  logs.split('\n').filter((l) => l.includes('"level":50') && l.includes(`"problem":"${problem}"`)).length;

test('a 307/308 is never followed, for the lookup or the token: the other server receives nothing, and it is logged once', async (t) => {
  // What a redirect target could answer: a 000 the kiosk would print, had it followed.
  const elsewhere = await RequestRecorder.start();
  t.teardown(() => elsewhere.stop());
  const { sim, client, logs } = await rig(t, { breaker: { failures: 100, openSec: 30 } });
  t.like(await client.lookup(patient, never), { kind: 'checked', code: '000' }); // holds a token now
  for (const status of [307, 308]) {
    await sim.setFault('redirect', { location: elsewhere.url, status });
    for (let i = 0; i < 3; i++) {
      const r = await client.lookup(patient, never);
      unavailable(
        t,
        r,
        new RegExp(`^gateway answered HTTP ${status}, a redirect to another host; redirects are not followed: the request carries personal data$`),
      );
      t.like(r, { problem: 'redirect' });
    }
  }
  // The token request too (it carries the account and its password hash).
  const fresh = await rig(t);
  await fresh.sim.setFault('redirect', { location: elsewhere.url });
  t.like(await fresh.client.lookup(patient, never), { kind: 'unavailable', problem: 'redirect' });
  t.like(await fresh.client.login(never), {
    ok: false,
    reason: 'gateway answered HTTP 307, a redirect to another host; redirects are not followed: the request carries personal data',
  });
  t.deepEqual(elsewhere.received(), { connections: 0, requests: [] });
  t.is(sim.stats().lookups, 7, 'each lookup reached the gateway once and went no further');
  // Logged once per kind (not once per patient) until the gateway answers properly again.
  t.is(errorLines(logs(), 'redirect'), 1);
  await sim.setFault('none');
  t.like(await client.lookup(patient, never), { kind: 'checked', code: '000' });
  await sim.setFault('redirect', { location: elsewhere.url });
  await client.lookup(patient, never);
  t.is(errorLines(logs(), 'redirect'), 2, 'a new episode is logged again');
  clean(t, logs() + fresh.logs());
});

test('a redirect from http to https on the same host says what to change; no Location is quoted', async (t) => {
  const { sim, client, logs } = await rig(t);
  await sim.setFault('redirect', { location: sim.url.replace('http:', 'https:') + '/?maThe=079190001234' });
  const r = await client.lookup(patient, never);
  unavailable(t, r, /^gateway answered HTTP 307, a redirect to https on the same host \(set bhyt.url to https:\/\/…\); redirects are not followed/);
  clean(t, logs());
});

test('a 200 MB answer is abandoned after 1 MiB, counted as it streams in (no Content-Length); the breaker counts it', async (t) => {
  const { sim, client, logs } = await rig(t, { timeoutMs: 20_000, breaker: { failures: 2, openSec: 30 } });
  t.like(await client.lookup(patient, never), { kind: 'checked' });
  await sim.setFault('huge-body', { bytes: 200 * 1024 * 1024 });
  const started = Date.now();
  const r = await client.lookup(patient, never);
  unavailable(t, r, new RegExp(`^gateway answer larger than ${MAX_ANSWER_BYTES} bytes \\(HTTP 200\\); not read$`));
  t.like(r, { problem: 'too-large' });
  const ms = Date.now() - started;
  // The gateway could push 200 MB; the kiosk hung up after ~1 MiB (plus what sat in socket buffers).
  const sent = sim.stats().hugeBytesSent;
  t.true(sent < 16 * 1024 * 1024, `the gateway got to send ${sent} bytes`);
  t.true(ms < 10_000, `took ${ms} ms`);
  t.log(`abandoned after ${ms} ms; the gateway had written ${(sent / 1048576).toFixed(1)} MiB`);
  await client.lookup(patient, never);
  t.is(client.breakerState(), 'open');
  t.is(errorLines(logs(), 'too-large'), 1);
  clean(t, logs());
});

test('an answer that is not JSON by its content type is not read, even when its body would parse as a 000', async (t) => {
  const { sim, client, logs } = await rig(t);
  t.like(await client.lookup(patient, never), { kind: 'checked' });
  await sim.setFault('wrong-content-type');
  const r = await client.lookup(patient, never);
  unavailable(t, r, /^gateway answered HTTP 200 with text\/html, not JSON$/);
  t.like(r, { problem: 'not-json' });
  // A missing or odd content type is refused the same way; it is named only when it is a plain media type.
  const answering = (headers: Record<string, string>) =>
    createBhytClient({
      url: 'http://127.0.0.1:9',
      username: 'u',
      password: 'p',
      officerName: 'o',
      officerId: OFFICER_ID,
      timeoutMs: 1000,
      breaker: { failures: 3, openSec: 30 },
      clock: systemClock(),
      wallClock: () => new Date(),
      log: pino({ level: 'silent' }),
      fetch: () => Promise.resolve(new Response('{"maKetQua":"000"}', { status: 200, headers })),
    });
  t.like(await answering({}).login(never), { ok: false, reason: 'gateway answered HTTP 200 with text/plain, not JSON' }); // a string body's default type
  t.like(await answering({ 'content-type': 'text/html; <script>079190001234' }).login(never), {
    ok: false,
    reason: 'gateway answered HTTP 200 with text/html, not JSON',
  });
  t.like(await answering({ 'content-type': '<b>079190001234</b>' }).login(never), {
    ok: false,
    reason: 'gateway answered HTTP 200 with an unrecognised content type, not JSON',
  });
  // …+json is JSON: read, and judged on what it says (here a maKetQua without a token).
  const plusJson = await answering({ 'content-type': 'application/problem+json' }).login(never);
  t.false(plusJson.ok);
  t.notRegex(plusJson.ok ? '' : plusJson.reason, /not JSON/);
  clean(t, logs());
});

test('the check-in alerts staff once per kind of gateway problem, not at every patient, and prints "BHYT chưa kiểm tra"', async (t) => {
  const elsewhere = await RequestRecorder.start();
  t.teardown(() => elsewhere.stop());
  const { sim, client } = await rig(t, { breaker: { failures: 100, openSec: 30 } });
  const alerts: string[] = [];
  const sessions = createSessions();
  const identity = { idNumber: patient.cardId, fullName: patient.fullName, dateOfBirth: patient.dateOfBirth } as unknown as CitizenIdentity;
  const steps = createCheckinSteps({
    sessions,
    bhyt: client,
    alert: (code: string, message: string) => void alerts.push(`${code}: ${message}`),
    log: pino({ level: 'silent' }),
  } as unknown as StepDeps);
  const insure = async (n: number) => {
    sessions.open(`s${n}`, identity, new Date(), null);
    return steps.insurance({ sessionId: `s${n}` }, never);
  };
  await sim.setFault('redirect', { location: elsewhere.url });
  for (let i = 0; i < 3; i++) {
    const r = await insure(i);
    t.like(r, { kind: 'unchecked' });
    t.is(insuranceWords(r), UNCHECKED_WORDS);
  }
  await sim.setFault('wrong-content-type');
  for (let i = 3; i < 5; i++) t.like(await insure(i), { kind: 'unchecked' });
  t.deepEqual(
    alerts.map((a) => a.split(':')[0]),
    ['bhyt.gateway-redirect', 'bhyt.gateway-not-json'],
  );
  t.regex(alerts[0]!, /HTTP 307, a redirect to another host; redirects are not followed.*lookups are made later$/);
  clean(t, alerts.join('\n'));
  t.deepEqual(elsewhere.received(), { connections: 0, requests: [] });
});
