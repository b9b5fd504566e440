import test from 'ava';
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { SimulatedClock } from 'xstate';
import { HidPosAssembler, KeyboardReportDecoder, decodeHidPosReport } from '../../src/hal/card/hid-decode.js';
import { NOT_INSTALLED, createHidScanner } from '../../src/hal/card/hid-reader.js';
import type { PortState } from '../../src/hal/ports.js';

const silent = pino({ level: 'silent' });
const LINE = '001190000001|123456789|Nguyễn Thị Ánh Tuyết|01011990|Nữ|Số 1 Phố Huế, Hà Nội|15042021\r\n';
// What keyboard mode can carry of the same card: US-keyboard characters only.
const ASCII_LINE = '001190000001|123456789|Nguyen Thi Anh Tuyet|01011990|Nu|So 1 Pho Hue, Ha Noi|15042021\r';

// --- keyboard boot reports ---------------------------------------------------------------

/** US layout, written out independently of the decoder: char → [keycode, shift]. */
function usKey(c: string): [number, boolean] {
  const lower = 'abcdefghijklmnopqrstuvwxyz';
  if (lower.includes(c)) return [0x04 + lower.indexOf(c), false];
  if (lower.toUpperCase().includes(c)) return [0x04 + lower.toUpperCase().indexOf(c), true];
  const rows: Array<[string, string, number]> = [
    ['1234567890', '!@#$%^&*()', 0x1e],
    ['-=[]\\', '_+{}|', 0x2d],
    [";'`,./", ':"~<>?', 0x33],
  ];
  for (const [plain, shifted, first] of rows) {
    if (plain.includes(c)) return [first + plain.indexOf(c), false];
    if (shifted.includes(c)) return [first + shifted.indexOf(c), true];
  }
  const special: Record<string, number> = { '\r': 0x28, '\t': 0x2b, ' ': 0x2c };
  if (c in special) return [special[c]!, false];
  throw new Error(`not typeable: ${JSON.stringify(c)}`);
}

const report = (mod: number, ...keys: number[]): Uint8Array => Uint8Array.from([mod, 0, ...keys, 0, 0, 0, 0, 0, 0].slice(0, 8));
const KEY_UP = report(0);

/** How a scanner types: key down (with left or right Shift as needed), then all keys up. */
function typeLine(s: string, rightShift = false): Uint8Array[] {
  return [...s].flatMap((c) => {
    const [key, shift] = usKey(c);
    return [report(shift ? (rightShift ? 0x20 : 0x02) : 0, key), KEY_UP];
  });
}

const feed = (d: KeyboardReportDecoder, reports: Uint8Array[]): string => reports.map((r) => d.push(r)).join('');

test('keyboard: a CCCD line typed as boot reports decodes exactly, shift for | and capitals, repeated digits via key-up', (t) => {
  const d = new KeyboardReportDecoder();
  t.is(feed(d, typeLine(ASCII_LINE)), ASCII_LINE);
  t.is(feed(new KeyboardReportDecoder(), typeLine(ASCII_LINE, true)), ASCII_LINE, 'right Shift counts as Shift');
  // Spot checks that don't rely on the helper's table.
  t.is(new KeyboardReportDecoder().push(report(0x02, 0x31)), '|');
  t.is(new KeyboardReportDecoder().push(report(0x00, 0x31)), '\\');
  t.is(new KeyboardReportDecoder().push(report(0x02, 0x11)), 'N');
  t.is(new KeyboardReportDecoder().push(report(0x00, 0x27)), '0');
  t.is(new KeyboardReportDecoder().push(report(0x00, 0x28)), '\r');
});

test('keyboard: all punctuation keys 0x2d–0x38 and their shifted forms', (t) => {
  const plain = ['-', '=', '[', ']', '\\', '#', ';', "'", '`', ',', '.', '/'];
  const shifted = ['_', '+', '{', '}', '|', '~', ':', '"', '~', '<', '>', '?'];
  for (let i = 0; i < plain.length; i++) {
    t.is(new KeyboardReportDecoder().push(report(0, 0x2d + i)), plain[i]!);
    t.is(new KeyboardReportDecoder().push(report(0x02, 0x2d + i)), shifted[i]!);
  }
  t.is(new KeyboardReportDecoder().push(report(0x02, 0x1f)), '@');
  t.is(new KeyboardReportDecoder().push(report(0, 0x2c)), ' ');
  t.is(new KeyboardReportDecoder().push(report(0, 0x2b)), '\t');
});

test('keyboard: held keys do not repeat; a key-up report lets the same key type again', (t) => {
  const d = new KeyboardReportDecoder();
  const zero = report(0, 0x27);
  t.is(feed(d, [zero, zero, zero]), '0', 'a key held over three reports types once');
  t.is(feed(d, [KEY_UP, zero, KEY_UP, zero, KEY_UP]), '00');
  // Rollover without key-up: a stays down while b is pressed, then c; only the new keys type.
  t.is(feed(d, [report(0, 0x04), report(0, 0x04, 0x05), report(0, 0x05, 0x06), KEY_UP]), 'abc');
  // Shift changing while a key is held does not retype it.
  t.is(feed(d, [report(0, 0x04), report(0x02, 0x04), KEY_UP]), 'a');
});

test('keyboard: rollover errors and unknown keycodes type nothing and do not disturb held keys', (t) => {
  const d = new KeyboardReportDecoder();
  t.is(d.push(report(0, 0x04)), 'a');
  t.is(d.push(report(0, 1, 1, 1, 1, 1, 1)), '', 'ErrorRollOver report');
  t.is(d.push(report(0, 0x04)), '', 'a is still held: no repeat after the phantom report');
  t.is(d.push(report(0, 0x04, 0xe0, 0x65, 0x39)), '', 'unknown keycodes (Ctrl as key, Application, Caps Lock)');
  t.is(d.push(KEY_UP), '');
  t.is(d.push(report(0, 0x05)), 'b');
  t.is(d.push(Uint8Array.from([0, 0, 0x06])), '', 'a short report is ignored');
});

// --- HID-POS -----------------------------------------------------------------------------

/** Splits a scan into 64-byte HID-POS reports: 0x02, N, data, padding, continued flag at 63. */
function posReports(bytes: Uint8Array, per = 56, padding = 0xaa): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += per) {
    const chunk = bytes.subarray(at, at + per);
    const r = new Uint8Array(64).fill(padding);
    r[0] = 0x02;
    r[1] = chunk.length;
    r.set(chunk, 2);
    r[63] = at + per < bytes.length ? 1 : 0;
    out.push(r);
  }
  return out;
}

test('HID-POS: a multi-report scan joins to the exact UTF-8 bytes, Vietnamese included', (t) => {
  const utf8 = new TextEncoder().encode(LINE);
  t.true(utf8.length > 56 && utf8.length <= 112, 'the line takes two full-size reports');
  const reports = posReports(utf8);
  t.is(reports.length, 2);

  const chunks = reports.map((r) => decodeHidPosReport(r));
  t.deepEqual(
    chunks.map((c) => c?.continued),
    [true, false],
  );
  t.deepEqual(
    chunks.map((c) => c?.bytes.length),
    [56, utf8.length - 56],
  );

  const asm = new HidPosAssembler();
  t.is(asm.push(reports[0]!), null);
  const scan = asm.push(reports[1]!);
  t.deepEqual(scan, utf8);
  t.is(new TextDecoder('utf-8', { fatal: true }).decode(scan!), LINE);

  // 9-byte reports split inside multi-byte characters: still byte-exact.
  const cuts = [9, 18, 27, 36, 45, 54, 63, 72, 81, 90, 99];
  t.true(
    cuts.some((i) => (utf8[i]! & 0xc0) === 0x80),
    'some report boundary falls inside a character',
  );
  const small = new HidPosAssembler();
  const joined = posReports(utf8, 9)
    .map((r) => small.push(r))
    .filter((x) => x !== null);
  t.is(joined.length, 1);
  t.deepEqual(joined[0], utf8);
});

test('HID-POS: reports that are not data are refused', (t) => {
  const good = posReports(new TextEncoder().encode('001190000001\r'))[0]!;
  t.deepEqual(decodeHidPosReport(good), { bytes: new TextEncoder().encode('001190000001\r'), continued: false });
  const wrongId = good.slice();
  wrongId[0] = 0x01;
  t.is(decodeHidPosReport(wrongId), null);
  const tooLong = good.slice();
  tooLong[1] = 57;
  t.is(decodeHidPosReport(tooLong), null);
  t.is(decodeHidPosReport(Uint8Array.from([0x02, 5, 1, 2])), null, 'N larger than the report');
  t.is(decodeHidPosReport(new Uint8Array(0)), null);
  t.is(decodeHidPosReport(Uint8Array.from([0x02])), null);
  t.deepEqual(decodeHidPosReport(Uint8Array.from([0x02, 0, 0])), { bytes: new Uint8Array(0), continued: false });
});

test('HID-POS: a scanner that never clears the continued flag cannot grow the buffer without bound', (t) => {
  const asm = new HidPosAssembler(200);
  const r = posReports(new Uint8Array(56).fill(0x41))[0]!;
  r[63] = 1;
  const out = [1, 2, 3, 4].map(() => asm.push(r));
  t.deepEqual(
    out.map((o) => o?.length ?? null),
    [null, null, null, 224],
  );
});

test('garbage and short reports never throw, and decoded output stays in range', (t) => {
  let seed = 0x5eed;
  const rand = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const kb = new KeyboardReportDecoder();
  const asm = new HidPosAssembler();
  const typeable = /^[\x20-\x7e\r\t]*$/;
  for (let i = 0; i < 5000; i++) {
    const r = Uint8Array.from({ length: Math.floor(rand() * 80) }, () => Math.floor(rand() * 256));
    if (r.length > 1 && rand() < 0.5) r[0] = 0x02; // reach past the report-id check
    if (r.length > 2 && rand() < 0.5) r[1] = Math.floor(rand() * 64);
    t.notThrows(() => {
      const c = decodeHidPosReport(r);
      if (c && c.bytes.length > 56) throw new Error('more than 56 data bytes');
      asm.push(r);
      if (!typeable.test(kb.push(r))) throw new Error('typed a character a US keyboard cannot');
    });
  }
  const junk = [null, undefined, 42, 'abc', [2, 3, 4], {}] as unknown as Uint8Array[];
  for (const j of junk) {
    t.is(decodeHidPosReport(j), null);
    t.is(kb.push(j), '');
  }
});

// --- the driver, with a fake node-hid handed in through loadHid --------------------------

const VID = 0xda23;
const PID = 0x1904;

function fakeNodeHid(devices: Array<{ vendorId: number; productId: number; path?: string; usagePage?: number }>) {
  const opened: FakeHid[] = [];
  class FakeHid extends EventEmitter {
    closed = false;
    constructor(readonly path: string) {
      super();
      opened.push(this);
    }
    close(): void {
      this.closed = true;
    }
  }
  return { module: { HID: FakeHid, devices: () => devices.map((d) => ({ interface: 0, ...d })) }, opened, devices };
}

function scanner(mode: 'hid-pos' | 'keyboard', loadHid: () => Promise<unknown>) {
  const clock = new SimulatedClock();
  const received: Uint8Array[] = [];
  const states: PortState[] = [];
  const port = createHidScanner({ vendorId: VID, productId: PID, mode }, { log: silent, clock, onBytes: (b) => received.push(b), loadHid });
  port.onStateChange((s) => states.push(s));
  return { port, clock, received, states, text: () => Buffer.concat(received).toString('utf8') };
}

test('driver (HID-POS): found → ready, reports become the scan bytes; the right collection is opened', async (t) => {
  const fake = fakeNodeHid([
    { vendorId: 0x1234, productId: 0x5678, path: '/dev/hidraw0' },
    { vendorId: VID, productId: PID, path: '/dev/hidraw1', usagePage: 0x01 },
    { vendorId: VID, productId: PID, path: '/dev/hidraw2', usagePage: 0x8c },
  ]);
  const s = scanner('hid-pos', async () => fake.module);
  t.is(s.port.id, 'card');
  t.is(s.port.driver, 'hid-pos');
  await s.port.open(new AbortController().signal);
  t.deepEqual(s.port.state(), { kind: 'ready' });
  t.is(fake.opened.length, 1);
  t.is(fake.opened[0]!.path, '/dev/hidraw2');
  for (const r of posReports(new TextEncoder().encode(LINE))) fake.opened[0]!.emit('data', Buffer.from(r));
  t.is(s.received.length, 1, 'one scan, delivered once the continued flag clears');
  t.is(s.text(), LINE);
  await s.port.close();
  t.true(fake.opened[0]!.closed);
});

test('driver (keyboard): key reports become UTF-8 characters', async (t) => {
  const fake = fakeNodeHid([{ vendorId: VID, productId: PID, path: '/dev/hidraw3' }]);
  const s = scanner('keyboard', async () => ({ default: fake.module })); // CommonJS namespace shape
  t.is(s.port.driver, 'hid-keyboard');
  await s.port.open(new AbortController().signal);
  t.deepEqual(s.port.state(), { kind: 'ready' });
  for (const r of typeLine(ASCII_LINE)) fake.opened[0]!.emit('data', Buffer.from(r));
  t.is(s.text(), ASCII_LINE);
  await s.port.close();
});

test('driver: node-hid not installed → faulted with the reason, no retry', async (t) => {
  const s = scanner('hid-pos', () => Promise.reject(new Error("Cannot find package 'node-hid'")));
  await s.port.open(new AbortController().signal);
  t.deepEqual(s.port.state(), { kind: 'faulted', code: 'not-installed', reason: NOT_INSTALLED });
  t.is(NOT_INSTALLED, 'node-hid is not installed (optional dependency; needs libusb-1.0-0)');
  t.deepEqual(s.states.at(-1), s.port.state(), 'listeners heard it');
});

test('driver: libusb missing at first use → faulted as not installed', async (t) => {
  const mod = {
    HID: class {},
    devices: () => {
      throw Object.assign(new Error('libusb-1.0.so.0: cannot open shared object file'), { code: 'ERR_DLOPEN_FAILED' });
    },
  };
  const s = scanner('hid-pos', async () => mod);
  await s.port.open(new AbortController().signal);
  t.deepEqual(s.port.state(), { kind: 'faulted', code: 'not-installed', reason: NOT_INSTALLED });
});

test('driver: scanner not plugged in → faulted and retried on the clock until it appears', async (t) => {
  const fake = fakeNodeHid([]);
  const s = scanner('hid-pos', async () => fake.module);
  await s.port.open(new AbortController().signal);
  t.deepEqual(s.port.state(), { kind: 'faulted', code: 'not-present', reason: 'scanner not found (da23:1904)', retryInMs: 3000 });
  s.clock.increment(3000);
  t.is(s.port.state().kind, 'faulted');
  fake.devices.push({ vendorId: VID, productId: PID, path: '/dev/hidraw0' });
  s.clock.increment(2999);
  t.is(s.port.state().kind, 'faulted');
  s.clock.increment(1);
  t.deepEqual(s.port.state(), { kind: 'ready' });
  t.is(fake.opened.length, 1);
  await s.port.close();
});

test('driver: device error (unplug) → faulted, the handle closed, and reconnected on the clock', async (t) => {
  const fake = fakeNodeHid([{ vendorId: VID, productId: PID, path: '/dev/hidraw0' }]);
  const s = scanner('hid-pos', async () => fake.module);
  await s.port.open(new AbortController().signal);
  t.deepEqual(s.port.state(), { kind: 'ready' });
  const first = fake.opened[0]!;
  // Half a scan, then the cable is pulled: the half must not leak into the next scan.
  first.emit('data', posReports(new TextEncoder().encode('x'.repeat(60)))[0]!);
  first.emit('error', new Error('could not read from HID device'));
  const st = s.port.state();
  t.is(st.kind, 'faulted');
  t.regex(st.kind === 'faulted' ? st.reason : '', /could not read from HID device/);
  t.true(first.closed);
  t.deepEqual(
    s.states.map((x) => x.kind),
    ['connecting', 'ready', 'faulted'],
  );
  s.clock.increment(3000);
  t.deepEqual(s.port.state(), { kind: 'ready' });
  t.is(fake.opened.length, 2);
  for (const r of posReports(new TextEncoder().encode('001190000001\r'))) fake.opened[1]!.emit('data', r);
  t.is(s.text(), '001190000001\r');
  await s.port.close();
});

test('driver: aborting the open signal stops the retries; close is idempotent', async (t) => {
  const fake = fakeNodeHid([]);
  const s = scanner('hid-pos', async () => fake.module);
  const ac = new AbortController();
  await s.port.open(ac.signal);
  t.is(s.port.state().kind, 'faulted');
  ac.abort();
  fake.devices.push({ vendorId: VID, productId: PID, path: '/dev/hidraw0' });
  s.clock.increment(10_000);
  t.is(fake.opened.length, 0, 'no retry after abort');
  await s.port.close();
  await s.port.close();
  t.pass();
});

test('driver: aborted while node-hid is still loading → never opens the device', async (t) => {
  const fake = fakeNodeHid([{ vendorId: VID, productId: PID, path: '/dev/hidraw0' }]);
  const ac = new AbortController();
  const s = scanner('hid-pos', async () => {
    ac.abort();
    return fake.module;
  });
  await s.port.open(ac.signal);
  t.is(fake.opened.length, 0);
  t.not(s.port.state().kind, 'ready');
});
