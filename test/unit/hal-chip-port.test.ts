// The chip reader as a kiosk port (src/hal/chip/hal-port.ts): its state as the other ports report
// theirs, alert codes for a technician, silence after close, and the absent port when chip is off.
import test from 'ava';
import { pino } from 'pino';
import { absentChipReader, createChipPort, portStateOf } from '../../src/hal/chip/hal-port.js';
import { ChipLinkError, type ChipReaderPort, type ChipReaderState } from '../../src/hal/chip/port.js';
import type { PortState } from '../../src/hal/ports.js';
import { alertCodeOf } from '../../src/features/port-alerts.js';
import { systemClock } from '../../src/util/clock.js';

/** A driver whose state the test moves. */
function driver() {
  let state: ChipReaderState = 'no-reader';
  let reason = 'no PC/SC reader is attached';
  const listeners = new Set<(s: ChipReaderState, r: string) => void>();
  const cards = new Set<(ev: { present: boolean; reader: string }) => void>();
  let closed = 0;
  const port: ChipReaderPort = {
    state: () => state,
    reason: () => reason,
    onStateChange: (l) => (listeners.add(l), () => listeners.delete(l)),
    onCard: (l) => (cards.add(l), () => cards.delete(l)),
    connect: () => Promise.reject(new ChipLinkError('no-reader', reason)),
    close: async () => void closed++,
  };
  return {
    port,
    move(next: ChipReaderState, why: string) {
      [state, reason] = [next, why];
      for (const l of listeners) l(next, why);
    },
    card: (present: boolean) => cards.forEach((l) => l({ present, reader: 'R' })),
    closed: () => closed,
  };
}

test("the reader's states become port states with the codes alerts are named by", (t) => {
  const faulted = (s: ChipReaderState) => portStateOf(s, 'why') as Extract<PortState, { kind: 'faulted' }>;
  t.deepEqual(portStateOf('ready', 'using R'), { kind: 'ready' });
  t.is(alertCodeOf('chip', faulted('no-reader')), 'chip.not-present');
  t.is(alertCodeOf('chip', faulted('no-service')), 'chip.unreachable');
  t.is(alertCodeOf('chip', faulted('unavailable')), 'chip.not-installed');
});

test('connecting until the driver opens, then its state; card listeners from before the open are attached; close silences it', async (t) => {
  const d = driver();
  const port = createChipPort(
    { readerPattern: '', connectTimeoutMs: 5000 },
    { clock: systemClock(), log: pino({ level: 'silent' }), open: async () => d.port },
  );
  t.is(port.id, 'chip');
  t.is(port.driver, 'pcsc');
  t.deepEqual(port.state(), { kind: 'connecting', attempt: 1 });
  t.is(port.reader.state(), 'unavailable');
  await t.throwsAsync(port.reader.connect(new AbortController().signal), { instanceOf: ChipLinkError, message: 'the chip reader is not open yet' });
  const seen: PortState[] = [];
  port.onStateChange((s) => seen.push(s));
  const cards: boolean[] = [];
  port.reader.onCard((ev) => cards.push(ev.present));
  await port.open(new AbortController().signal);
  t.deepEqual(port.state(), { kind: 'faulted', code: 'not-present', reason: 'no PC/SC reader is attached' });
  d.move('ready', 'using R');
  d.card(true);
  t.is(port.reader.state(), 'ready');
  t.deepEqual(cards, [true]);
  await port.close();
  t.is(d.closed(), 1);
  d.move('no-service', 'pcscd stopped');
  t.deepEqual(seen, [{ kind: 'faulted', code: 'not-present', reason: 'no PC/SC reader is attached' }, { kind: 'ready' }]);
});

test('closed while the driver was still loading: the driver is closed as soon as it arrives', async (t) => {
  const d = driver();
  let arrive!: (p: ChipReaderPort) => void;
  const port = createChipPort(
    { readerPattern: '', connectTimeoutMs: 5000 },
    { clock: systemClock(), log: pino({ level: 'silent' }), open: () => new Promise((r) => (arrive = r)) },
  );
  const opening = port.open(new AbortController().signal);
  const closing = port.close();
  arrive(d.port);
  await Promise.all([opening, closing]);
  t.is(d.closed(), 1);
  t.deepEqual(port.state(), { kind: 'connecting', attempt: 1 });
});

test('chip off: an absent port whose reader never reads', async (t) => {
  const port = absentChipReader('chip reading is off (chip.enabled: false)');
  t.deepEqual(port.state(), { kind: 'absent', reason: 'chip reading is off (chip.enabled: false)' });
  t.is(port.driver, 'none');
  t.is(port.reader.state(), 'unavailable');
  await t.throwsAsync(port.reader.connect(new AbortController().signal), { instanceOf: ChipLinkError });
});
