// The HN-212 adapter (src/hal/chip/hn212.ts) against hw-sim's double of JTH's Socket.IO service
// (hw-sim/chip/hn212-double.ts), over real sockets on loopback: the chip's groups arrive byte for
// byte and pass the same SOD checks as a PC/SC read; failures, garbage, oversize groups, the
// service going and coming back, timeouts and aborts each end in a typed reason.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { Writable } from 'node:stream';
import jpeg from 'jpeg-js';
import { pino } from 'pino';
import { ChipError } from '../../src/chip/apdu.js';
import { passiveAuth } from '../../src/chip/passive-auth.js';
import type { FileName } from '../../src/chip/read-chip.js';
import { parseSod } from '../../src/chip/sod.js';
import { decodeBase64, parseHn212Event } from '../../src/hal/chip/hn212-events.js';
import { hn212ConfigSchema, Hn212TimeoutError, openHn212ChipReader, type Hn212ChipReader, type Hn212Deps } from '../../src/hal/chip/hn212.js';
import { systemClock } from '../../src/util/clock.js';
import { buildCardFiles, createTestPki, type CardFaults, type CardIdentity } from '../../hw-sim/chip/card-files.js';
import { hn212TextOf, startHn212Double, type Hn212Card, type Hn212Double, type Hn212DoubleOptions } from '../../hw-sim/chip/hn212-double.js';
import { until } from '../helpers/wait.js';

/** Each test's log lines, checked for personal data after it. */
const test = anyTest as TestFn<{ logs?: string[][] }>;
test.afterEach((t) => {
  for (const lines of t.context.logs ?? []) noSecrets(t, lines.join(''), 'the log');
});

const PKI = createTestPki();
const PORTRAIT = new Uint8Array(jpeg.encode({ data: Buffer.alloc(48 * 60 * 4, 120), width: 48, height: 60 }, 80).data);
/** An invented holder; none of this may reach a log line or an error. */
const HOLDER: CardIdentity = { idNumber: '079045900002', fullName: 'Trần Văn Đức', birthDate: '07/03/1945', sex: 'M', portrait: PORTRAIT };
const SECRETS = [HOLDER.idNumber, HOLDER.fullName, 'Trần', HOLDER.birthDate, '045900002'];

function cardOf(faults: CardFaults = {}, identity: Partial<CardIdentity> = {}): Hn212Card & { files: Map<FileName, Uint8Array> } {
  const who = { ...HOLDER, ...identity };
  return { files: buildCardFiles({ ...who, pki: PKI, faults }), text: hn212TextOf(who), portrait: who.portrait };
}

/** Every log line the adapter writes, at debug level, untouched by the daemon's masking nets. */
function capture(): { deps: Hn212Deps; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { deps: { clock: systemClock(), log: pino({ level: 'debug' }, sink) }, lines };
}

const noSecrets = (t: ExecutionContext, text: string, what: string): void => {
  for (const s of SECRETS) t.false(text.includes(s), `${what} holds personal data`);
};

interface Rig {
  readonly double: Hn212Double;
  readonly reader: Hn212ChipReader;
  readonly lines: string[];
  readonly states: string[];
}

async function rig(
  t: ExecutionContext<{ logs?: string[][] }>,
  o: { double?: Hn212DoubleOptions; config?: Record<string, unknown>; ready?: boolean } = {},
): Promise<Rig> {
  const double = await startHn212Double(o.double);
  t.teardown(() => double.close());
  const { deps, lines } = capture();
  const config = hn212ConfigSchema.parse({ url: double.url, reconnectMinMs: 50, reconnectMaxMs: 200, connectTimeoutMs: 2000, ...o.config });
  const reader = await openHn212ChipReader(config, deps);
  t.teardown(() => reader.close());
  const states: string[] = [];
  reader.onStateChange((s) => states.push(s));
  if (o.ready !== false) await until(() => reader.state() === 'ready', 10_000, `ready (now ${reader.state()}: ${reader.reason()})`);
  (t.context.logs ??= []).push(lines);
  return { double, reader, lines, states };
}

/** Resolves once the adapter has handled every message sent so far: a marker message it ignores (and logs at debug) comes last. */
let markers = 0;
async function settled(r: Rig): Promise<void> {
  const id = 90 + (markers++ % 9);
  const count = (): number => r.lines.filter((l) => l.includes(`unknown id ${id}`)).length;
  const before = count();
  r.double.send({ id });
  await until(() => count() > before, 5000, 'the marker message handled');
}

const signal = (): AbortSignal => new AbortController().signal;
const reasonOf = async (p: Promise<unknown>): Promise<string> => {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  if (!(e instanceof ChipError)) throw new Error(`expected a ChipError, got ${String(e)}`);
  return e.reason;
};

test('a card read by the service arrives byte for byte and passes passive authentication up to the test CSCA', async (t) => {
  const { double, reader } = await rig(t);
  const seen: boolean[] = [];
  reader.onCard((ev) => seen.push(ev.present));
  const card = cardOf();
  const reading = reader.readFiles(signal(), { timeoutMs: 10_000 });
  await double.present(card);
  const read = await reading;

  t.is(read.protocol, 'vendor');
  t.deepEqual([...read.files.keys()].sort(), ['DG13', 'DG14', 'DG2', 'SOD']);
  for (const [name, bytes] of read.files) t.deepEqual(Buffer.from(bytes), Buffer.from(card.files.get(name)!), `${name} differs`);
  t.deepEqual([...read.refused], [['DG15', 'not-found']]);
  t.deepEqual(
    read.timings.map((s) => [s.step, s.apdus]),
    [
      ['hn212-wait', 0],
      ['hn212-decode', 0],
    ],
  );
  const sod = parseSod(read.files.get('SOD')!);
  t.is(passiveAuth(read.files, sod, [PKI.cscaDer]).pa, 'chain-ok');
  t.is(passiveAuth(read.files, sod, []).pa, 'hashes-ok');
  t.deepEqual(seen, [true, false]);
});

test('a DG2 the SOD does not cover makes passive authentication fail', async (t) => {
  const { double, reader } = await rig(t);
  const reading = reader.readFiles(signal(), { timeoutMs: 10_000 });
  await double.present(cardOf({ corruptHashOf: 'DG2' }));
  const read = await reading;
  const pa = passiveAuth(read.files, parseSod(read.files.get('SOD')!), [PKI.cscaDer]);
  t.is(pa.pa, 'failed');
  t.deepEqual(pa.mismatched, ['DG2']);
});

test('a read that came before the kiosk asked is used, once; the next read waits for the next card', async (t) => {
  const r = await rig(t);
  const { double, reader } = r;
  await double.present(cardOf());
  await settled(r);
  // A listener that comes after the card was placed is told at once.
  const late: boolean[] = [];
  reader.onCard((ev) => late.push(ev.present));
  await until(() => late.length === 1, 5000, 'the late listener told');
  const read = await reader.readFiles(signal(), { timeoutMs: 5000 });
  t.is(read.files.size, 4);
  const again = await reader.readFiles(signal(), { timeoutMs: 300 }).catch((e: unknown) => e);
  t.true(again instanceof Hn212TimeoutError);
  t.false((again as Hn212TimeoutError).cardSeen);
});

test('a read nobody asked for is dropped after freshForMs, and the card no longer counts as present', async (t) => {
  const r = await rig(t, { config: { freshForMs: 1000 } });
  const seen: boolean[] = [];
  r.reader.onCard((ev) => seen.push(ev.present));
  await r.double.present(cardOf());
  await settled(r);
  await until(() => seen.length === 2, 5000, 'the card no longer present');
  t.deepEqual(seen, [true, false]);
  const late = await r.reader.readFiles(signal(), { timeoutMs: 200 }).catch((e: unknown) => e);
  t.true(late instanceof Hn212TimeoutError);
});

test("a new card drops an earlier card's unused read", async (t) => {
  const r = await rig(t);
  const { double, reader } = r;
  const first = cardOf({}, { idNumber: '001190900001', fullName: 'Lê Thị Hoa' });
  const second = cardOf();
  await double.present(first);
  await double.present(second, { fault: 'silent' });
  await settled(r);
  const reading = reader.readFiles(signal(), { timeoutMs: 10_000 });
  double.send({ id: 4, message: 'Read raw data successfully!', data: { dg2: Buffer.from(second.files.get('DG2')!).toString('base64') } });
  const read = await reading;
  t.deepEqual(Buffer.from(read.files.get('DG2')!), Buffer.from(second.files.get('DG2')!));
  t.is(read.files.size, 1);
});

test("the service's failures become card-removed or io, and the next card reads", async (t) => {
  const { double, reader } = await rig(t);
  for (const [fault, reason] of [
    ['card-removed', 'card-removed'],
    ['error', 'io'],
  ] as const) {
    const reading = reader.readFiles(signal(), { timeoutMs: 10_000 });
    await double.present(cardOf(), { fault });
    t.is(await reasonOf(reading), reason, fault);
  }
  const reading = reader.readFiles(signal(), { timeoutMs: 10_000 });
  await double.present(cardOf());
  t.is((await reading).files.size, 4);
});

test('garbage is ignored or refused as malformed, and the connection stays up', async (t) => {
  const { double, reader, states } = await rig(t);
  const changes = states.length;
  const junk = reader.readFiles(signal(), { timeoutMs: 10_000 });
  await double.present(cardOf(), { fault: 'garbage' });
  t.is(await reasonOf(junk), 'malformed');
  const notTlv = reader.readFiles(signal(), { timeoutMs: 10_000 });
  await double.present(cardOf(), { fault: 'not-tlv' });
  t.is(await reasonOf(notTlv), 'malformed');
  for (const data of ['dg2', null, { dg2: 42 }, { sod: Buffer.from([0x77, 0x05, 1]).toString('base64') }]) {
    const reading = reader.readFiles(signal(), { timeoutMs: 10_000 });
    double.send({ id: 4, data });
    t.is(await reasonOf(reading), 'malformed', JSON.stringify(data));
  }
  t.is(reader.state(), 'ready');
  t.is(states.length, changes, 'no state change');
  const reading = reader.readFiles(signal(), { timeoutMs: 10_000 });
  await double.present(cardOf());
  t.is((await reading).files.size, 4);
});

test('a DG2 over 1 MiB is refused as too large', async (t) => {
  const { double, reader } = await rig(t);
  const reading = reader.readFiles(signal(), { timeoutMs: 10_000 });
  await double.present(cardOf(), { fault: 'oversize' });
  t.is(await reasonOf(reading), 'too-large');
});

test('a message over the transport cap drops the connection, not the daemon, and it comes back', async (t) => {
  const { double, reader } = await rig(t);
  const reading = reader.readFiles(signal(), { timeoutMs: 10_000 });
  double.send({ id: 4, data: { dg2: 'A'.repeat(7 * 1024 * 1024) } });
  t.is(await reasonOf(reading), 'io');
  await until(() => reader.state() === 'ready', 10_000, 'ready again');
});

test('service down at start: no-service, reads refused; once it is up: ready, and it reads', async (t) => {
  const { double, reader, states } = await rig(t, { double: { down: true }, ready: false });
  t.is(reader.state(), 'no-service');
  await until(() => /cannot reach the HN-212 service at 127\.0\.0\.1:\d+ .*trying again/.test(reader.reason()), 5000, 'a reason');
  t.is(await reasonOf(reader.readFiles(signal(), { timeoutMs: 1000 })), 'io');
  await double.up();
  await until(() => reader.state() === 'ready', 10_000, 'ready');
  t.is(states.at(-1), 'ready');
  const reading = reader.readFiles(signal(), { timeoutMs: 10_000 });
  await double.present(cardOf());
  t.is((await reading).files.size, 4);
});

test('the service going away mid-wait fails the read with io; it reconnects when the service is back', async (t) => {
  const { double, reader, states } = await rig(t);
  const reading = reader.readFiles(signal(), { timeoutMs: 10_000 });
  await double.down();
  t.is(await reasonOf(reading), 'io');
  await until(() => reader.state() === 'no-service', 5000, 'no-service');
  await double.up();
  await until(() => reader.state() === 'ready', 10_000, 'ready again');
  t.deepEqual(states.slice(-2), ['no-service', 'ready']);
  const again = reader.readFiles(signal(), { timeoutMs: 10_000 });
  await double.present(cardOf());
  t.is((await again).files.size, 4);
});

test('timeout: no card, or a card whose read never comes', async (t) => {
  const { double, reader } = await rig(t);
  const none = await reader.readFiles(signal(), { timeoutMs: 200 }).catch((e: unknown) => e);
  t.true(none instanceof Hn212TimeoutError && none.reason === 'aborted' && !none.cardSeen);
  const reading = reader.readFiles(signal(), { timeoutMs: 1500 }).catch((e: unknown) => e);
  await double.present(cardOf(), { fault: 'silent' });
  const stuck = await reading;
  t.true(stuck instanceof Hn212TimeoutError && stuck.cardSeen);
});

test('a slow read still arrives within the time limit', async (t) => {
  const { double, reader } = await rig(t);
  const reading = reader.readFiles(signal(), { timeoutMs: 10_000 });
  await double.present(cardOf(), { delayMs: 300 });
  t.is((await reading).files.size, 4);
});

test('abort: before and while waiting; a second concurrent read is refused', async (t) => {
  const { reader } = await rig(t);
  t.is(await reasonOf(reader.readFiles(AbortSignal.abort(), { timeoutMs: 1000 })), 'aborted');
  const ac = new AbortController();
  const reading = reader.readFiles(ac.signal, { timeoutMs: 10_000 });
  t.is(await reasonOf(reader.readFiles(signal(), { timeoutMs: 1000 })), 'io');
  ac.abort();
  const e = await reading.catch((err: unknown) => err);
  t.true(e instanceof ChipError && e.reason === 'aborted' && !(e instanceof Hn212TimeoutError));
});

test('a service that only long-polls is reached only when allowPolling is set', async (t) => {
  const polling = { transports: ['polling'] as const };
  const strict = await rig(t, { double: polling, ready: false });
  await until(() => strict.reader.reason().includes('trying again'), 5000, 'a failed attempt');
  t.is(strict.reader.state(), 'no-service');
  const { double, reader } = await rig(t, { double: polling, config: { allowPolling: true } });
  const reading = reader.readFiles(signal(), { timeoutMs: 10_000 });
  await double.present(cardOf());
  t.is((await reading).files.size, 4);
});

test('without socket.io-client the reader is unavailable and says so', async (t) => {
  const { deps } = capture();
  const reader = await openHn212ChipReader(hn212ConfigSchema.parse({}), {
    ...deps,
    loadClient: () => Promise.reject(new Error('Cannot find module')),
  });
  t.teardown(() => reader.close());
  t.is(reader.state(), 'unavailable');
  t.regex(reader.reason(), /socket\.io-client/);
  t.is(await reasonOf(reader.readFiles(signal(), { timeoutMs: 1000 })), 'io');
});

test('strict base64 with its size checked before decoding; trailing bytes after the TLV are dropped', (t) => {
  for (const bad of ['a', 'abcde', 'ab=c', '====', 'YW Jj', 'YWJj\u0000', 'YW-j'])
    t.is(t.throws(() => decodeBase64(bad, 100, 'dg13'), { instanceOf: ChipError })?.reason, 'malformed', JSON.stringify(bad));
  t.deepEqual([...decodeBase64('YWJj\r\nZA==', 100, 'x')], [...Buffer.from('abcd')]);
  t.deepEqual([...decodeBase64('YWI', 100, 'x')], [...Buffer.from('ab')]);
  t.is(t.throws(() => decodeBase64('A'.repeat(200), 100, 'dg13'), { instanceOf: ChipError })?.reason, 'too-large');
  t.is(t.throws(() => decodeBase64('A'.repeat(140), 100, 'dg13'), { instanceOf: ChipError })?.reason, 'too-large');

  const card = cardOf();
  const sod = card.files.get('SOD')!;
  const padded = Buffer.concat([sod, Buffer.alloc(37, 0xff)]).toString('base64');
  const ev = parseHn212Event({ id: 4, data: { sod: padded, dg2: Buffer.from(card.files.get('DG2')!).toString('base64') } });
  t.is(ev.kind, 'raw');
  if (ev.kind !== 'raw') return;
  t.deepEqual(Buffer.from(ev.files.get('SOD')!), Buffer.from(sod));
  t.is(passiveAuth(ev.files, parseSod(ev.files.get('SOD')!), [PKI.cscaDer]).pa, 'chain-ok');
});

test('every payload shape is classified without throwing, and no error quotes the payload', (t) => {
  const cases: Array<[unknown, string]> = [
    [undefined, 'ignored'],
    [null, 'ignored'],
    [0, 'ignored'],
    ['x', 'ignored'],
    ['{"id":1}', 'new-card'],
    ['{"id":3,"message":"Trần Văn Đức 079045900002"}', 'failed:io'],
    [[], 'ignored'],
    [{ id: '4', data: { dg13: 'Trần' } }, 'failed:malformed'],
    [{ id: 3 }, 'failed:io'],
    [{ id: 3, message: { nested: true } }, 'failed:io'],
    [{ id: 2, data: hn212TextOf(HOLDER) }, 'text'],
    [{ id: 4, data: Object.assign(Object.create(null) as object, { dg2: '' }) }, 'raw'],
    [{ id: 4, data: JSON.parse('{"__proto__":{"dg2":"AAAA"}}') as unknown }, 'raw'],
    [{ id: 4, data: new Uint8Array(4) }, 'failed:malformed'],
    [{ id: 1e300 }, 'ignored'],
  ];
  for (const [payload, kind] of cases) {
    const ev = parseHn212Event(payload);
    noSecrets(
      t,
      JSON.stringify(ev, (_k, v: unknown) => (v instanceof Error ? v.message : v)),
      'the event',
    );
    t.is(ev.kind === 'failed' ? `failed:${ev.error.reason}` : ev.kind, kind, JSON.stringify(payload));
  }
});
