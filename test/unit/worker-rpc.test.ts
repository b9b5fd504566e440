import test from 'ava';
import { SimulatedClock } from 'xstate';
import { PendingCalls } from '../../src/util/worker-rpc.js';

// The calls a worker owes answers to, on the simulated clock: the face engine's call timeout
// is this one, so it can be driven without waiting.

test('an answer settles its call once; a late answer finds nothing waiting', async (t) => {
  const calls = new PendingCalls<string>(new SimulatedClock());
  const sent: number[] = [];
  const p = calls.call((id) => sent.push(id));
  t.deepEqual(sent, [1]);
  t.true(calls.resolve(1, 'bytes'));
  t.is(await p, 'bytes');
  t.false(calls.resolve(1, 'again'));
  t.false(calls.reject(1, new Error('late')));
});

test('a call past its time limit rejects with onTimeout’s error, on the injected clock', async (t) => {
  const clock = new SimulatedClock();
  const calls = new PendingCalls<string>(clock);
  let timedOut = 0;
  const p = calls.call(() => {}, {
    timeoutMs: 1000,
    onTimeout: () => {
      timedOut++;
      return new Error('took longer than 1000 ms');
    },
  });
  clock.increment(999);
  t.is(timedOut, 0);
  clock.increment(1);
  await t.throwsAsync(p, { message: 'took longer than 1000 ms' });
  t.is(timedOut, 1);
  t.false(calls.resolve(1, 'too late'), 'the timed-out call no longer waits');
});

test('an aborted signal rejects with its reason, before sending or while waiting, and clears the timer', async (t) => {
  const clock = new SimulatedClock();
  const calls = new PendingCalls<string>(clock);
  let sends = 0;
  const before = new AbortController();
  before.abort(new Error('cancelled'));
  await t.throwsAsync(
    calls.call(() => sends++, { signal: before.signal }),
    { message: 'cancelled' },
  );
  t.is(sends, 0, 'nothing is sent for a call already cancelled');
  const during = new AbortController();
  let timedOut = false;
  const p = calls.call(() => sends++, { signal: during.signal, timeoutMs: 50, onTimeout: () => ((timedOut = true), new Error('timeout')) });
  during.abort(new Error('left the step'));
  await t.throwsAsync(p, { message: 'left the step' });
  clock.increment(100);
  t.false(timedOut, 'the timer went with the call');
});

test('failAll fails every waiting call (the worker died or is retired)', async (t) => {
  const calls = new PendingCalls<number>(new SimulatedClock());
  const a = calls.call(() => {});
  const b = calls.call(() => {}, { timeoutMs: 10 });
  calls.failAll(new Error('encoder worker exited'));
  await t.throwsAsync(a, { message: 'encoder worker exited' });
  await t.throwsAsync(b, { message: 'encoder worker exited' });
  t.false(calls.resolve(2, 1));
});
