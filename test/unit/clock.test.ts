import test from 'ava';
import { SimulatedClock } from 'xstate';
import { msUntilLocalTime } from '../../src/queue/business-day.js';
import { adjustableClock, every, type Clock } from '../../src/util/clock.js';

// The base is XState's simulated clock, so "real" time passes only when the test says.
const setup = (offset = 0) => {
  const base = new SimulatedClock();
  const wall = Date.UTC(2026, 10, 23, 8, 0, 0);
  const adj = adjustableClock(base as unknown as Clock, () => wall + base.now(), offset);
  return { base, adj, wall };
};

test('advancing fires the timers that fall due, earliest first, and leaves the others for later', (t) => {
  const { base, adj } = setup();
  const fired: string[] = [];
  adj.clock.setTimeout(() => fired.push('30 s'), 30_000);
  adj.clock.setTimeout(() => fired.push('10 s'), 10_000);
  adj.clock.setTimeout(() => fired.push('2 h'), 2 * 3600_000);
  adj.clock.setTimeout(() => fired.push('20 s'), 20_000);
  adj.advance(60_000);
  base.increment(0);
  t.deepEqual(fired, ['10 s', '20 s', '30 s']);
  adj.advance(3600_000);
  base.increment(0);
  t.deepEqual(fired, ['10 s', '20 s', '30 s'], 'the 2 h timer is not due after 61 min');
  base.increment(60 * 60_000 - 60_000 - 1);
  t.is(fired.length, 3, 'one millisecond early');
  base.increment(1);
  t.deepEqual(fired, ['10 s', '20 s', '30 s', '2 h'], 'real time makes up the rest');
});

test('now and the wall clock move by the same offset, which a restart can carry over', (t) => {
  const { adj, wall } = setup();
  const before = adj.clock.now();
  adj.advance(24 * 3600_000);
  t.is(adj.clock.now() - before, 24 * 3600_000);
  t.is(adj.wallClock().toISOString(), new Date(wall + 24 * 3600_000).toISOString());
  t.is(adj.offsetMs(), 24 * 3600_000);
  const restarted = setup(adj.offsetMs()).adj;
  t.is(restarted.wallClock().toISOString(), '2026-11-24T08:00:00.000Z');
});

test('time never goes back, and a bad offset is refused with the value', (t) => {
  const { adj } = setup();
  t.throws(() => adj.advance(-1), { message: /only moves forward: -1/ });
  t.throws(() => adj.advance(Number.NaN), { instanceOf: RangeError });
  t.throws(() => setup(-5), { message: /non-negative.*-5/ });
  t.is(adj.offsetMs(), 0);
});

test('a cleared timer never fires, however far time moves', (t) => {
  const { base, adj } = setup();
  let fired = 0;
  const h = adj.clock.setTimeout(() => fired++, 5000);
  adj.clock.clearTimeout(h);
  adj.clock.clearTimeout('not a handle');
  adj.advance(3600_000);
  base.increment(10_000);
  t.is(fired, 0);
});

test('a periodic job runs once for a jump of two days (as after a suspend), then keeps its period', (t) => {
  const { base, adj } = setup();
  let runs = 0;
  const stop = every(adj.clock, 6 * 3600_000, () => runs++);
  adj.advance(2 * 24 * 3600_000);
  base.increment(0);
  t.is(runs, 1);
  base.increment(6 * 3600_000);
  t.is(runs, 2);
  stop();
  adj.advance(7 * 3600_000);
  base.increment(0);
  t.is(runs, 2, 'stopped');
});

test('"advance to HH:MM" finds the next such minute on the hospital\'s clocks, whatever the board\'s zone', (t) => {
  const at = new Date('2026-11-23T17:30:00.000Z'); // 00:30 in Hà Nội (UTC+7)
  t.is(msUntilLocalTime(at, '07:00', 'Asia/Ho_Chi_Minh'), 6.5 * 3600_000);
  t.is(msUntilLocalTime(at, '00:00', 'Asia/Ho_Chi_Minh'), 23.5 * 3600_000, 'midnight has just passed: the next one');
  t.is(msUntilLocalTime(at, '00:30', 'Asia/Ho_Chi_Minh'), 24 * 3600_000, 'this very minute: a day on');
  t.is(msUntilLocalTime(new Date('2026-11-23T17:30:15.250Z'), '00:31', 'Asia/Ho_Chi_Minh'), 44_750);
  t.is(msUntilLocalTime(at, '18:00', 'UTC'), 30 * 60_000);
  t.throws(() => msUntilLocalTime(at, '24:00', 'UTC'), { message: /HH:MM.*"24:00"/ });
});
