import test from 'ava';
import { Outbox } from '../../src/mqtt/outbox.js';

const ev = (n: number, at = 0) => ({ topic: `t/${n}`, payload: String(n), queuedAt: at, expiryMs: 60_000 });

test('retained topics keep only their latest value', (t) => {
  const o = new Outbox(3);
  o.setRetained('a', '1');
  o.setRetained('b', '1');
  o.setRetained('a', '2');
  t.deepEqual(o.retainedEntries(), [
    ['a', '2'],
    ['b', '1'],
  ]);
});

test('the event ring keeps the newest events and counts what it dropped, reported once', (t) => {
  const o = new Outbox(3);
  for (let i = 1; i <= 5; i++) o.enqueue(ev(i));
  t.deepEqual(o.stats(), { queued: 3, dropped: 2 });
  t.deepEqual(
    o.drain(1000).map((e) => e.payload),
    ['3', '4', '5'],
  );
  t.is(o.takeUnreportedDrops(), 2);
  t.is(o.takeUnreportedDrops(), 0);
  t.deepEqual(o.stats(), { queued: 0, dropped: 2 });
});

test('expired events are not sent and count as dropped', (t) => {
  const o = new Outbox(10);
  o.enqueue(ev(1, 0));
  o.enqueue(ev(2, 50_000));
  t.deepEqual(
    o.drain(70_000).map((e) => e.payload),
    ['2'],
  );
  t.is(o.takeUnreportedDrops(), 1);
});

test('a ring size below 1 is refused', (t) => {
  t.throws(() => new Outbox(0), { instanceOf: RangeError });
});
