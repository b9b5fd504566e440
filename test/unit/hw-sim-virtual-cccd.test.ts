// The virtual CCCD's command dispatch and its vpcd transport, in-process: a fake vpcd server
// stands in for pcscd (test/integration/chip-pcsc.test.ts runs the real one).
import test from 'ava';
import { createServer, type Socket } from 'node:net';
import type { FileName } from '../../src/chip/read-chip.js';
import type { CardSecurity } from '../../hw-sim/chip/card-security.js';
import { CCCD_ATR, createVirtualCccd, placeCard, type ChipFaults } from '../../hw-sim/chip/virtual-cccd.js';
import { createFrameReader, frame } from '../../hw-sim/chip/vpcd-link.js';
import { rng } from '../helpers/rng.js';
import { until } from '../helpers/wait.js';

// EF.CardAccess of a Vietnamese CCCD as five public apps hard-code it (chip.md §3).
const CARD_ACCESS = Buffer.from(
  '3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010d',
  'hex',
);
const pattern = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
const FILES = new Map<FileName, Uint8Array>([
  ['CardAccess', new Uint8Array(CARD_ACCESS)],
  ['COM', pattern(24, 1)],
  ['DG1', pattern(95, 2)],
  ['DG2', pattern(1000, 3)],
  ['DG3', pattern(40, 4)],
]);

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const swOf = (r: Uint8Array): string => Buffer.from(r.subarray(-2)).toString('hex').toUpperCase();
const dataOf = (r: Uint8Array): Uint8Array => r.subarray(0, -2);
const MARK = 0x99; // what the test's wrap puts in front, so a test sees that a response was wrapped

/** Accepts any MSE:Set AT as a finished authentication; SM is a pass-through with a marker byte. */
function passThroughSecurity(): CardSecurity & { resets: number; authenticated: number } {
  let secured = false;
  const s = {
    resets: 0,
    authenticated: 0,
    authenticate(apdu: Uint8Array) {
      if ((apdu[0]! & 0x0c) === 0x0c || apdu[1] !== 0x22) return null;
      secured = true;
      s.authenticated++;
      return hex('9000');
    },
    get secured() {
      return secured;
    },
    unwrap(apdu: Uint8Array) {
      if (!secured || apdu[1] === 0xee) {
        secured = false;
        return { ok: false as const, response: hex('6988') };
      }
      return { ok: true as const, plain: Uint8Array.of(apdu[0]! & ~0x0c, ...apdu.subarray(1)) };
    },
    wrap: (response: Uint8Array) => Uint8Array.of(MARK, ...response),
    reset() {
      secured = false;
      s.resets++;
    },
  };
  return s;
}

const card = () => {
  const security = passThroughSecurity();
  return { security, chip: createVirtualCccd({ files: FILES, security }) };
};
const protect = (apdu: string): Uint8Array => {
  const a = hex(apdu);
  a[0] = a[0]! | 0x0c;
  return a;
};

/** Reads the selected file in chunks of `chunk` bytes through `send`, as the reader does. */
function readAll(send: (apdu: Uint8Array) => Uint8Array, size: number, chunk: number, unwrap = (r: Uint8Array) => r): Uint8Array {
  const out: number[] = [];
  for (let offset = 0; offset < size; offset += chunk) {
    const r = unwrap(send(Uint8Array.of(0x00, 0xb0, offset >> 8, offset & 0xff, Math.min(chunk, size - offset))));
    if (swOf(r) !== '9000') throw new Error(`READ BINARY at ${offset}: ${swOf(r)}`);
    out.push(...dataOf(r));
  }
  return Uint8Array.from(out);
}

test('answers with the CCCD ATR and refuses SELECT MF with 6D00, as Vietnamese cards do', (t) => {
  const { chip } = card();
  t.deepEqual(chip.atr(), hex('3B 80 80 01 01'));
  t.is(swOf(chip.process(hex('00 A4 00 0C 02 3F 00'))), '6D00');
  t.is(swOf(chip.process(hex('00 A4 00 00 00'))), '6D00');
});

test('EF.CardAccess is selected by its file id in plain and read with offsets', (t) => {
  const { chip } = card();
  t.is(swOf(chip.process(hex('00 A4 02 0C 02 01 1C'))), '9000');
  t.deepEqual(
    readAll((a) => chip.process(a), CARD_ACCESS.length, 0x20),
    new Uint8Array(CARD_ACCESS),
  );
  // Le larger than what is left: the rest, with "end of file reached"
  const tail = chip.process(hex('00 B0 00 30 20'));
  t.is(swOf(tail), '6282');
  t.deepEqual(dataOf(tail), new Uint8Array(CARD_ACCESS.subarray(0x30)));
  t.is(swOf(chip.process(hex('00 B0 00 40 01'))), '6B00', 'offset past the end');
});

test('before authentication the application may be selected but none of its files', (t) => {
  const { chip } = card();
  t.is(swOf(chip.process(hex('00 B0 00 00 10'))), '6986', 'READ BINARY with no file selected');
  t.is(swOf(chip.process(hex('00 A4 04 0C 07 A0 00 00 02 47 10 01'))), '9000');
  t.is(swOf(chip.process(hex('00 A4 02 0C 02 01 01'))), '6982', 'DG1 in plain');
  t.is(swOf(chip.process(hex('00 A4 02 0C 02 01 1E'))), '6982', 'EF.COM in plain');
  t.is(swOf(chip.process(hex('00 B0 81 00 10'))), '6982', 'DG1 by short file id in plain');
});

test('authentication commands go to CardSecurity; a plain command afterwards ends the session', (t) => {
  const { chip, security } = card();
  t.is(swOf(chip.process(hex('00 22 C1 A4 0F 80 0A 04 00 7F 00 07 02 02 04 02 02 83 01 02'))), '9000');
  t.is(security.authenticated, 1);
  t.true(security.secured);
  t.is(swOf(chip.process(hex('00 A4 04 0C 07 A0 00 00 02 47 10 01'))), '6987', 'plain SELECT inside the session');
  t.false(security.secured, 'the session is over');
  t.is(swOf(chip.process(protect('00 A4 04 0C 07 A0 00 00 02 47 10 01'))), '6988', 'protected command without a session');
});

test('protected commands are unwrapped, dispatched and wrapped: application, file by id, READ BINARY with offsets', (t) => {
  const { chip } = card();
  chip.process(hex('00 22 C1 A4 03 83 01 02'));
  const send = (apdu: string): Uint8Array => chip.process(protect(apdu));
  const unmark = (r: Uint8Array): Uint8Array => {
    if (r[0] !== MARK) throw new Error('response not wrapped');
    return r.subarray(1);
  };
  t.is(swOf(unmark(send('00 A4 04 0C 07 A0 00 00 02 47 10 01'))), '9000');
  t.is(swOf(unmark(send('00 A4 02 0C 02 01 02'))), '9000');
  const dg2 = readAll((a) => chip.process(Uint8Array.of(a[0]! | 0x0c, ...a.subarray(1))), 1000, 0xdf, unmark);
  t.deepEqual(dg2, FILES.get('DG2'));
  t.is(swOf(unmark(send('00 A4 02 0C 02 01 1E'))), '9000');
  t.deepEqual(dataOf(unmark(send('00 B0 00 04 08'))), FILES.get('COM')!.subarray(4, 12));
  t.deepEqual(dataOf(unmark(send('00 B0 81 00 05'))), FILES.get('DG1')!.subarray(0, 5), 'DG1 by short file id');
  t.is(swOf(send('00 EE 00 00')), '6988', 'an SM error from CardSecurity is passed on as it is');
});

test('odd-INS READ BINARY reads past offset 32767, the bytes wrapped in DO53', (t) => {
  const big = pattern(40_000, 6);
  const security = passThroughSecurity();
  const chip = createVirtualCccd({ files: new Map<FileName, Uint8Array>([['DG2', big]]), security });
  chip.process(hex('00 22 C1 A4 03 83 01 02'));
  const send = (apdu: Uint8Array): Uint8Array => chip.process(Uint8Array.of(apdu[0]! | 0x0c, ...apdu.subarray(1))).subarray(1);
  t.is(swOf(send(hex('00 A4 04 0C 07 A0 00 00 02 47 10 01'))), '9000');
  t.is(swOf(send(hex('00 A4 02 0C 02 01 02'))), '9000');
  const at = 0x8a00;
  const r = send(Uint8Array.of(0x00, 0xb1, 0x00, 0x00, 0x04, 0x54, 0x02, at >> 8, at & 0xff, 0xe2));
  t.is(swOf(r), '9000');
  t.deepEqual([...r.subarray(0, 3)], [0x53, 0x81, 0xdf], 'DO53 with 223 bytes: 226 in all, as Le asked');
  t.deepEqual(r.subarray(3, -2), big.subarray(at, at + 0xdf));
  const last = send(Uint8Array.of(0x00, 0xb1, 0x00, 0x00, 0x05, 0x54, 0x03, 0x00, 0x9c, 0x30, 0xe2));
  t.is(swOf(last), '6282', 'the end of the file');
  t.deepEqual(last.subarray(2, -2), big.subarray(40_000 - 16));
  t.is(swOf(send(hex('00 B1 00 00 03 53 01 00 10'))), '6A80', 'no DO54');
  t.is(swOf(send(hex('00 B1 01 02 04 54 02 00 00 10'))), '6A86', 'another file than the current one');
});

test('DG3 is locked (6982), DG11 and missing files are absent (6A82), as on real cards', (t) => {
  const { chip } = card();
  chip.process(hex('00 22 C1 A4 03 83 01 02'));
  const sw = (apdu: string): string => swOf(chip.process(protect(apdu)).subarray(1));
  t.is(sw('00 A4 02 0C 02 01 01'), '6A82', 'DG1 before the application is selected');
  t.is(sw('00 A4 04 0C 07 A0 00 00 02 47 10 02'), '6A82', 'another application');
  t.is(sw('00 A4 04 0C 07 A0 00 00 02 47 10 01'), '9000');
  t.is(sw('00 A4 02 0C 02 01 03'), '6982', 'DG3 although the card holds it');
  t.is(sw('00 A4 02 0C 02 01 0B'), '6A82', 'DG11');
  t.is(sw('00 A4 02 0C 02 01 05'), '6A82', 'DG5, not on this card');
  t.is(sw('00 A4 02 0C 02 7F 00'), '6A82', 'an unknown file id');
  t.is(sw('00 A4 02 00 02 01 01'), '6A86', 'P2 other than 0C');
});

test('malformed commands get a status word: wrong length 6700, unknown instruction 6D00, class 6E00, no Le 6700', (t) => {
  const { chip } = card();
  t.is(swOf(chip.process(hex('00 A4'))), '6700');
  t.is(swOf(chip.process(hex('00 A4 02 0C 05 01 1C'))), '6700', 'Lc larger than the data');
  t.is(swOf(chip.process(hex('00 CA 01 00 00'))), '6D00');
  t.is(swOf(chip.process(hex('80 A4 02 0C 02 01 1C'))), '6E00');
  chip.process(hex('00 A4 02 0C 02 01 1C'));
  t.is(swOf(chip.process(hex('00 B0 00 00'))), '6700');
});

test('10,000 random commands never throw and always get a status word', (t) => {
  const { chip } = card();
  const random = rng(18);
  const byte = (): number => Math.floor(random() * 256);
  const insList = [0xa4, 0xb0, 0x22, 0x86, 0x84, 0x82, byte()];
  for (let i = 0; i < 10_000; i++) {
    const len = Math.floor(random() * 40);
    const apdu = Uint8Array.from({ length: len }, byte);
    if (len > 1 && random() < 0.7) apdu[1] = insList[Math.floor(random() * insList.length)]!;
    if (len > 0 && random() < 0.5) apdu[0] = random() < 0.5 ? 0x00 : 0x0c;
    const r = chip.process(apdu);
    t.true(r.length >= 2, `command ${Buffer.from(apdu).toString('hex')} got ${r.length} bytes`);
  }
});

test('power off and reset forget the session and the selection', (t) => {
  const { chip, security } = card();
  chip.process(hex('00 A4 02 0C 02 01 1C'));
  chip.process(hex('00 22 C1 A4 03 83 01 02'));
  chip.power(0);
  t.false(security.secured);
  t.true(security.resets > 0);
  t.is(swOf(chip.process(hex('00 B0 00 00 10'))), '6986', 'no file selected any more');
});

test('vpcd frames: 2-byte big-endian length, split anywhere across chunks', (t) => {
  const stream = Uint8Array.of(...frame(hex('04')), ...frame(pattern(300, 9)), ...frame(new Uint8Array(0)));
  const reader = createFrameReader();
  const got: Uint8Array[] = [];
  for (let at = 0; at < stream.length; at += 7) got.push(...reader.push(stream.subarray(at, at + 7)));
  t.deepEqual(got, [hex('04'), pattern(300, 9), new Uint8Array(0)]);
  t.deepEqual([...frame(pattern(300, 9)).subarray(0, 2)], [0x01, 0x2c]);
  t.throws(() => frame(new Uint8Array(65536)), { instanceOf: RangeError });
});

interface FakeConn {
  send(payload: Uint8Array): void;
  receive(): Promise<Uint8Array>;
  readonly received: Uint8Array[];
  readonly closed: Promise<void>;
  end(): void;
}

/** vpcd's side of the socket, as pcscd would run it. */
async function fakeVpcd(t: { teardown(fn: () => void): void }) {
  const conns: FakeConn[] = [];
  const server = createServer((s: Socket) => {
    const reader = createFrameReader();
    const received: Uint8Array[] = [];
    s.on('data', (d: Buffer) => received.push(...reader.push(d)));
    s.on('error', () => {});
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    conns.push({
      send: (p) => s.write(frame(p)),
      async receive() {
        await until(() => received.length > 0, 5000, 'a frame from the card');
        return received.shift()!;
      },
      received,
      closed,
      end: () => s.destroy(),
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const connection = async (n: number): Promise<FakeConn> => {
    await until(() => conns.length > n, 5000, `card connection #${n + 1}`);
    return conns[n]!;
  };
  return { port, conns, connection };
}

const placed = (t: { teardown(fn: () => void): void }, port: number, faults: ChipFaults = {}, sleep?: (ms: number) => Promise<void>) => {
  const { chip } = card();
  const c = placeCard(chip, { port, faults, retryMs: 20, ...(sleep ? { sleep } : {}) });
  t.teardown(() => c.remove()); // a card left on the slot would dial forever
  return c;
};

test('on a vpcd slot the card answers the ATR request and APDUs in order, and is removed by closing', async (t) => {
  const vpcd = await fakeVpcd(t);
  const c = placed(t, vpcd.port);
  await c.connected();
  const conn = await vpcd.connection(0);
  conn.send(hex('01')); // power on: no answer
  conn.send(hex('04'));
  conn.send(hex('00 A4 00 0C 02 3F 00'));
  conn.send(hex('00 A4 02 0C 02 01 1C'));
  t.deepEqual(await conn.receive(), CCCD_ATR);
  t.is(swOf(await conn.receive()), '6D00');
  t.is(swOf(await conn.receive()), '9000');
  t.is(c.answered(), 2);
  c.remove();
  await conn.closed;
  t.is(c.state(), 'closed');
});

test('fault removed-mid-read: the connection closes when command N+1 arrives, which is never answered', async (t) => {
  const vpcd = await fakeVpcd(t);
  const c = placed(t, vpcd.port, { removeAfterApdus: 2 });
  const conn = await vpcd.connection(0);
  for (let i = 0; i < 3; i++) conn.send(hex('00 A4 02 0C 02 01 1C'));
  await conn.closed;
  t.is(conn.received.length, 2);
  t.is(c.answered(), 2);
  t.is(c.state(), 'closed');
});

test('fault slow: every answer waits for the delay first', async (t) => {
  const vpcd = await fakeVpcd(t);
  const asked: number[] = [];
  let release: () => void = () => {};
  const sleep = (ms: number): Promise<void> => {
    asked.push(ms);
    return new Promise((r) => (release = r));
  };
  placed(t, vpcd.port, { slowMs: 1500 }, sleep);
  const conn = await vpcd.connection(0);
  conn.send(hex('00 A4 02 0C 02 01 1C'));
  await until(() => asked.length === 1, 5000, 'the card to start waiting');
  t.deepEqual(asked, [1500]);
  t.is(conn.received.length, 0, 'no answer while the card is slow');
  release();
  t.is(swOf(await conn.receive()), '9000');
});

test('fault no-chip: the card never reaches the reader until the fault is cleared', async (t) => {
  const vpcd = await fakeVpcd(t);
  const noChip = placed(t, vpcd.port, { noChip: true });
  t.is(noChip.state(), 'no-chip');
  await t.throwsAsync(noChip.connected(), { message: /no chip/ });
  const other = placed(t, vpcd.port);
  await other.connected();
  await vpcd.connection(0);
  t.is(vpcd.conns.length, 1, 'only the card with a chip connected');
  other.remove();
  noChip.setFaults({});
  await noChip.connected();
  await vpcd.connection(1);
  noChip.remove();
});

test('the card dials again when vpcd drops its connection (pcscd restarted), not after it was removed', async (t) => {
  const vpcd = await fakeVpcd(t);
  const c = placed(t, vpcd.port);
  (await vpcd.connection(0)).end();
  const again = await vpcd.connection(1);
  again.send(hex('04'));
  t.deepEqual(await again.receive(), CCCD_ATR);
  c.remove();
  await again.closed;
  t.is(c.state(), 'closed');
  await t.throwsAsync(c.connected(), { message: /removed/ });
});
