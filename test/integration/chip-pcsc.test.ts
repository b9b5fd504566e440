// The PC/SC chip reader driver against a real pcscd with Debian's vpcd driver, reading hw-sim's
// virtual CCCD (chip.md §10). pcscd is one per machine: every test here is serial, and
// test/helpers/pcscd.ts holds a lock file so that no other test file's pcscd runs meanwhile.
// The last tests use a fake binding for what pcscd 1.9.9 cannot do on demand (a reader plugged
// in later: it reads reader.conf only at start) and for the binding missing.
import test, { type ExecutionContext } from 'ava';
import { pino } from 'pino';
import type { FileName } from '../../src/chip/read-chip.js';
import { exchange, withLe } from '../../src/hal/chip/pcsc-link.js';
import { openPcscChipReader, type PcscDeps } from '../../src/hal/chip/pcsc.js';
import { ChipLinkError, type CardLink, type ChipReaderPort, type ChipReaderState } from '../../src/hal/chip/port.js';
import { CCCD_ATR, type ChipFaults } from '../../hw-sim/chip/virtual-cccd.js';
import { systemClock } from '../../src/util/clock.js';
import { pcscdTest, startPcscd, type TestPcscd } from '../helpers/pcscd.js';
import { startCardThread } from '../helpers/virtual-card-thread.js';
import { until } from '../helpers/wait.js';

const CARD_ACCESS = Buffer.from(
  '3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010d',
  'hex',
);
const pattern = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const swOf = (r: Uint8Array): string => Buffer.from(r.subarray(-2)).toString('hex').toUpperCase();
const deps: PcscDeps = { clock: systemClock(), log: pino({ level: 'silent' }), retryMs: 200 };

/** hw-sim's virtual CCCD on its own thread (see the helper why), with pass-through SM. */
function virtualCard(t: ExecutionContext, port: number, o: { cardAccess?: Uint8Array; faults?: ChipFaults } = {}) {
  const files = new Map<FileName, Uint8Array>([
    ['CardAccess', o.cardAccess ?? new Uint8Array(CARD_ACCESS)],
    ['DG2', pattern(1000, 5)],
  ]);
  const card = startCardThread({ port, files, security: 'pass-through', ...(o.faults ? { faults: o.faults } : {}) });
  t.teardown(() => card.remove());
  return { card, files };
}

async function withPcscd(name: string, fn: (p: TestPcscd) => Promise<void>): Promise<void> {
  const pcscd = await startPcscd({ name });
  try {
    await fn(pcscd);
  } finally {
    await pcscd.stop();
  }
}

async function openPort(t: ExecutionContext, readerPattern: string, extra: Partial<PcscDeps> = {}): Promise<ChipReaderPort> {
  const port = await openPcscChipReader({ readerPattern, connectTimeoutMs: 5000 }, { ...deps, ...extra });
  t.teardown(() => port.close());
  return port;
}

const stateOf = (port: ChipReaderPort, want: ChipReaderState, ms = 10_000): Promise<void> =>
  until(() => port.state() === want, ms, `state ${want} (now ${port.state()}: ${port.reason()})`);

function cardEvents(port: ChipReaderPort) {
  const seen: { present: boolean; reader: string }[] = [];
  port.onCard((ev) => seen.push(ev));
  return { seen, count: (present: boolean) => seen.filter((e) => e.present === present).length };
}

const within = (ms: number): AbortSignal => AbortSignal.timeout(ms);

/** Reads `size` bytes of the selected file in chunks, protected (CLA 0C) or not. */
async function readFile(link: CardLink, size: number, chunk: number, cla = 0x00): Promise<Uint8Array> {
  const out: number[] = [];
  for (let offset = 0; offset < size; offset += chunk) {
    const r = await link.transmit(Uint8Array.of(cla, 0xb0, offset >> 8, offset & 0xff, Math.min(chunk, size - offset)), within(5000));
    if (swOf(r) !== '9000') throw new Error(`READ BINARY at ${offset}: ${swOf(r)}`);
    out.push(...r.subarray(0, -2));
  }
  return Uint8Array.from(out);
}

pcscdTest('the driver reads EF.CardAccess in plain and a file under (pass-through) SM from the virtual card', async (t) => {
  await withPcscd('Kiosk Test PCD', async (pcscd) => {
    const port = await openPort(t, '^Kiosk Test PCD 00 00$');
    await stateOf(port, 'ready');
    const { card, files } = virtualCard(t, pcscd.port);
    const link = await port.connect(within(10_000));
    t.deepEqual(link.atr, CCCD_ATR);
    const send = (apdu: string): Promise<Uint8Array> => link.transmit(hex(apdu), within(5000));
    t.is(swOf(await send('00 A4 00 0C 02 3F 00')), '6D00', 'SELECT MF');
    t.is(swOf(await send('00 A4 02 0C 02 01 1C')), '9000', 'SELECT EF.CardAccess');
    t.deepEqual(await readFile(link, CARD_ACCESS.length, 0x20), new Uint8Array(CARD_ACCESS));
    t.is(swOf(await send('00 22 C1 A4 03 83 01 02')), '9000', 'MSE:Set AT');
    t.is(swOf(await send('0C A4 04 0C 07 A0 00 00 02 47 10 01')), '9000');
    t.is(swOf(await send('0C A4 02 0C 02 01 02')), '9000');
    const started = performance.now();
    t.deepEqual(await readFile(link, 1000, 0xdf, 0x0c), files.get('DG2'));
    t.log(`one APDU round trip through pcscd + vpcd: ${((performance.now() - started) / 5).toFixed(1)} ms (5 READ BINARY of ≤ 223 bytes)`);
    t.is(swOf(await send('00 B0 00 00 10')), '6987', 'a plain command inside the session');
    const resets = card.resets();
    await link.release();
    await until(() => card.resets() > resets, 5000, 'the card to be reset by release');
    t.pass('release reset the card');
  });
});

pcscdTest('card placed and removed events: a card already there counts as placed; removal and a new card are seen', async (t) => {
  await withPcscd('Kiosk Test PCD', async (pcscd) => {
    const first = virtualCard(t, pcscd.port);
    await first.card.connected();
    const port = await openPort(t, 'Kiosk Test PCD 00 00');
    const events = cardEvents(port);
    await until(() => events.count(true) === 1, 10_000, 'the card already on the reader');
    t.deepEqual(events.seen[0], { present: true, reader: 'Kiosk Test PCD 00 00' });
    await first.card.remove();
    await until(() => events.count(false) === 1, 10_000, 'the removal');
    virtualCard(t, pcscd.port);
    await until(() => events.count(true) === 2, 10_000, 'the next card');
    t.deepEqual(
      events.seen.map((e) => e.present),
      [true, false, true],
    );
  });
});

pcscdTest('a card pulled away mid-read gives a card-removed error, and the next card is read', async (t) => {
  await withPcscd('Kiosk Test PCD', async (pcscd) => {
    const port = await openPort(t, 'Kiosk Test PCD 00 00');
    await stateOf(port, 'ready');
    virtualCard(t, pcscd.port, { faults: { removeAfterApdus: 3 } });
    const link = await port.connect(within(10_000));
    await link.transmit(hex('00 A4 02 0C 02 01 1C'), within(5000));
    const err = await t.throwsAsync(readFile(link, CARD_ACCESS.length, 0x10), { instanceOf: ChipLinkError });
    t.is(err?.reason, 'card-removed', err?.message);
    await link.release();
    const next = virtualCard(t, pcscd.port, { cardAccess: pattern(54, 9) });
    const again = await port.connect(within(10_000));
    t.is(swOf(await again.transmit(hex('00 A4 02 0C 02 01 1C'), within(5000))), '9000');
    t.deepEqual(await readFile(again, 54, 0x20), next.files.get('CardAccess'));
    await again.release();
  });
});

pcscdTest('the reader name pattern picks the slot: a card on the other slot is not seen', async (t) => {
  await withPcscd('Kiosk Test PCD', async (pcscd) => {
    const port = await openPort(t, 'Kiosk Test PCD 00 01');
    await stateOf(port, 'ready');
    t.is(port.reason(), 'using Kiosk Test PCD 00 01');
    const events = cardEvents(port);
    const decoy = virtualCard(t, pcscd.slot(0).port);
    await decoy.card.connected();
    const mine = virtualCard(t, pcscd.slot(1).port, { cardAccess: pattern(54, 77) });
    const link = await port.connect(within(10_000));
    t.is(swOf(await link.transmit(hex('00 A4 02 0C 02 01 1C'), within(5000))), '9000');
    t.deepEqual(await readFile(link, 54, 0x36), mine.files.get('CardAccess'), 'the card on slot 00 01');
    await link.release();
    t.deepEqual(events.seen, [{ present: true, reader: 'Kiosk Test PCD 00 01' }]);
    t.is(decoy.card.answered(), 0, 'nothing was sent to the card on slot 00 00');
  });
});

pcscdTest('no matching reader: no-reader, saying what it looks for; connect waits until aborted', async (t) => {
  await withPcscd('Other PCD', async (pcscd) => {
    const port = await openPort(t, 'ACS ACR');
    await stateOf(port, 'no-reader');
    t.regex(port.reason(), /ACS ACR/);
    virtualCard(t, pcscd.port);
    const ac = new AbortController();
    const pending = port.connect(ac.signal);
    ac.abort();
    const err = await t.throwsAsync(pending, { instanceOf: ChipLinkError });
    t.is(err?.reason, 'aborted');
  });
});

pcscdTest('pcscd killed: no-service and the card counts as removed; restarted: ready and the card is read again', async (t) => {
  await withPcscd('Kiosk Test PCD', async (pcscd) => {
    await pcscd.kill();
    const port = await openPort(t, 'Kiosk Test PCD 00 00');
    t.is(port.state(), 'no-service', 'pcscd not running at start: no crash');
    t.regex(port.reason(), /PC\/SC service/);
    await pcscd.restart();
    await stateOf(port, 'ready');
    const events = cardEvents(port);
    virtualCard(t, pcscd.port);
    await until(() => events.count(true) === 1, 10_000, 'the card');
    await pcscd.kill();
    await stateOf(port, 'no-service');
    t.is(events.count(false), 1, 'the card is no longer usable');
    await pcscd.restart();
    await stateOf(port, 'ready');
    const link = await port.connect(within(10_000));
    t.is(swOf(await link.transmit(hex('00 A4 02 0C 02 01 1C'), within(5000))), '9000');
    await link.release();
  });
});

pcscdTest('transmit honours its AbortSignal: the caller is free at once, the slow command still finishes first', async (t) => {
  await withPcscd('Kiosk Test PCD', async (pcscd) => {
    const port = await openPort(t, 'Kiosk Test PCD 00 00');
    const { card } = virtualCard(t, pcscd.port);
    const link = await port.connect(within(10_000));
    await link.transmit(hex('00 A4 02 0C 02 01 1C'), within(5000));
    await until(() => card.answered() === 1, 5000, 'the first answer to be counted');
    card.setFaults({ slowMs: 800 });
    const ac = new AbortController();
    const slow = link.transmit(hex('00 B0 00 00 10'), ac.signal);
    await until(() => card.slowWaits() === 1, 5000, 'the slow command to reach the card');
    ac.abort();
    const err = await t.throwsAsync(slow, { instanceOf: ChipLinkError });
    t.is(err?.reason, 'aborted');
    t.is(card.answered(), 1, 'aborted before the card answered');
    card.setFaults({});
    const r = await link.transmit(hex('00 B0 00 10 10'), within(10_000));
    t.deepEqual(r.subarray(0, -2), new Uint8Array(CARD_ACCESS.subarray(16, 32)));
    await until(() => card.answered() === 3, 5000, 'the aborted command, then the next one, answered');
    t.pass();
    await link.release();
  });
});

test('GET RESPONSE (61xx) is followed and a wrong Le (6Cxx) repeated, as a T=0 card needs', async (t) => {
  const sent: string[] = [];
  const answers = new Map<string, string>([
    ['00A4040C07A0000002471001', '6110'],
    ['00C0000010', '000102030405060708090A0B0C0D0E0F6104'],
    ['00C0000004', '101112139000'],
    ['00B000000F', '6C08'],
    ['00B0000008', '20212223242526279000'],
  ]);
  const raw = async (apdu: Uint8Array): Promise<Uint8Array> => {
    const key = Buffer.from(apdu).toString('hex').toUpperCase();
    sent.push(key);
    return hex(answers.get(key) ?? '6F00');
  };
  const signal = new AbortController().signal;
  const selected = await exchange(raw, hex('00 A4 04 0C 07 A0 00 00 02 47 10 01'), signal);
  t.is(Buffer.from(selected).toString('hex').toUpperCase(), '000102030405060708090A0B0C0D0E0F101112139000');
  t.is(
    Buffer.from(await exchange(raw, hex('00 B0 00 00 0F'), signal))
      .toString('hex')
      .toUpperCase(),
    '20212223242526279000',
  );
  t.deepEqual(sent, [...answers.keys()]);
  t.deepEqual(withLe(hex('00 A4 02 0C 02 01 1C'), 0x10), hex('00 A4 02 0C 02 01 1C 10'), 'case 3: Le added');
  t.deepEqual(withLe(hex('00 A4 02 0C 02 01 1C 00'), 0x10), hex('00 A4 02 0C 02 01 1C 10'), 'case 4: Le replaced');
  t.is(withLe(hex('00 B0 00 00 00 00 10'), 0x10), null, 'extended length is left alone');
  await t.throwsAsync(
    exchange(async () => hex('9F'), hex('00 B0 00 00 10'), signal),
    { instanceOf: ChipLinkError },
    'a response without a status word',
  );
});

test('the binding missing: unavailable with the reason, and connect refuses at once', async (t) => {
  const port = await openPort(t, '', { loadSmartcard: () => Promise.reject(new Error('libpcsclite.so.1: cannot open shared object file')) });
  t.is(port.state(), 'unavailable');
  t.regex(port.reason(), /smartcard.*libpcsclite\.so\.1/s);
  const err = await t.throwsAsync(port.connect(within(1000)), { instanceOf: ChipLinkError });
  t.is(err?.reason, 'unavailable');
});

type FakeEvent = { type: string; reader: string; state: number };

/** A stand-in for the smartcard binding whose readers come and go when the test says. */
function fakeBinding() {
  const [PRESENT, EMPTY] = [0x20, 0x10];
  const readers = new Map<string, number>();
  let emit: ((ev: FakeEvent) => void) | null = null;
  let down = false;
  const refuseIfDown = (): void => {
    if (down) throw new Error('PC/SC service not running');
  };
  const mod = {
    Context: class {
      constructor() {
        refuseIfDown();
      }
      listReaders = () => [...readers].map(([name, state]) => ({ name, state, atr: null, connect: () => Promise.reject(new Error('no card here')) }));
      close = () => {};
    },
    ReaderMonitor: class {
      start = (cb: (ev: FakeEvent) => void) => {
        refuseIfDown();
        emit = cb;
      };
      stop = () => {
        emit = null;
      };
    },
    SCARD_SHARE_SHARED: 2,
    SCARD_PROTOCOL_T0: 1,
    SCARD_PROTOCOL_T1: 2,
    SCARD_STATE_PRESENT: PRESENT,
    SCARD_RESET_CARD: 1,
    SCARD_LEAVE_CARD: 0,
  };
  return {
    load: () => Promise.resolve(mod),
    attach(name: string, card: boolean) {
      readers.set(name, card ? PRESENT : EMPTY);
      emit?.({ type: 'reader-attached', reader: name, state: readers.get(name)! });
    },
    detach(name: string) {
      readers.delete(name);
      emit?.({ type: 'reader-detached', reader: name, state: 0 });
    },
    serviceDies() {
      down = true;
      emit?.({ type: 'error', reader: 'Communication error', state: 0 });
    },
    serviceBack() {
      down = false;
    },
  };
}

test('reader hot-plug (fake binding): a matching reader plugged in later is used, unplugged it is gone with its card', async (t) => {
  const fake = fakeBinding();
  const port = await openPort(t, 'ACS ACR1252', { loadSmartcard: fake.load });
  t.is(port.state(), 'no-reader');
  const events = cardEvents(port);
  const states: string[] = [];
  port.onStateChange((s) => states.push(s));
  fake.attach('Generic Reader 00 00', true);
  t.is(port.state(), 'no-reader', 'a reader of another name is ignored');
  fake.attach('ACS ACR1252 1S CL Reader [PICC] 00 00', true);
  t.is(port.state(), 'ready');
  fake.detach('ACS ACR1252 1S CL Reader [PICC] 00 00');
  t.is(port.state(), 'no-reader');
  fake.attach('ACS ACR1252 1S CL Reader [PICC] 00 00', false);
  fake.serviceDies();
  t.is(port.state(), 'no-service');
  fake.serviceBack();
  await stateOf(port, 'ready', 5000);
  t.deepEqual(states, ['ready', 'no-reader', 'ready', 'no-service', 'ready']);
  await until(() => events.seen.length === 2, 1000, 'the card events');
  t.deepEqual(events.seen, [
    { present: true, reader: 'ACS ACR1252 1S CL Reader [PICC] 00 00' },
    { present: false, reader: 'ACS ACR1252 1S CL Reader [PICC] 00 00' },
  ]);
});
