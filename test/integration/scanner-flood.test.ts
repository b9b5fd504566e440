/**
 * A scanner streaming garbage (a broken cable, a hostile device): every line is still rejected,
 * but the log and the broker get at most 20 rejections a minute and then one counted summary.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { SAMPLE_IDENTITIES } from '../../hw-sim/identities.js';
import { startKioskSim } from '../../hw-sim/kiosk.js';
import { rateGate } from '../../src/util/rate-gate.js';

test('rateGate: so many a window pass, the rest are counted once at its end', (t) => {
  let now = 0;
  const timers: Array<{ due: number; fn: () => void }> = [];
  const clock = { now: () => now, setTimeout: (fn: () => void, ms: number) => timers.push({ due: now + ms, fn }), clearTimeout: () => {} };
  const summaries: number[] = [];
  const gate = rateGate(clock, 3, 60_000, (n) => summaries.push(n));
  t.deepEqual(
    Array.from({ length: 10 }, () => gate.allow()),
    [true, true, true, false, false, false, false, false, false, false],
  );
  now = 60_000;
  timers.shift()!.fn();
  t.deepEqual(summaries, [7]);
  t.true(gate.allow(), 'a new window lets events through again');
  now = 120_000;
  timers.shift()!.fn();
  t.deepEqual(summaries, [7], 'a window with nothing suppressed says nothing');
});

test('a flood of random bytes from the scanner (600 KB, thousands of lines): at most 20 card.rejected events and log lines, one counted alert a minute, and the kiosk still reads a card', async (t) => {
  t.timeout(120_000);
  const k = await startKioskSim({
    brokerPort: 0,
    faceid: false,
    deviceId: 'flood-kiosk',
    configOverrides: { kiosk: { resultHoldMs: 300 }, checkin: { noPortrait: 'unverified' } },
  });
  t.teardown(() => k.stop());
  const { sim, watch } = k;
  await k.waitState((s) => s['mode'] === 'idle', 20_000);
  const from = watch.mark();
  // 600 KB of noise: several thousand "lines" (every CR or LF ends one).
  for (let i = 0; i < 20; i++) await sim.scanner.send(randomBytes(30_000));
  await sim.scanner.send('\r\n');
  const rejectedEvents = () => watch.seen.slice(from).filter((m) => m.topic.endsWith('/event/card.rejected')).length;
  await k.waitEvent('card.rejected', () => true, 10_000, from);
  // The kiosk stays responsive: a real card right after the noise is read.
  await sim.scanner.scan(SAMPLE_IDENTITIES[0]!);
  await k.waitEvent('card.read', (d) => d['card'] === '********0001', 20_000, from);
  t.true(rejectedEvents() <= 20, `${rejectedEvents()} card.rejected events`);
  t.is(rejectedEvents(), 20, 'the first 20 are reported one by one');
  const logged = (k.output().match(/scan rejected:/g) ?? []).length;
  t.is(logged, 20, 'and logged one by one');
  // A minute later (kioskd's clock moved by hw-sim): one alert with the count of the rest.
  await k.advanceClock({ ms: 61_000 });
  const alert = await k.waitEvent('alert', (d) => d['code'] === 'card.rejected_flood', 10_000, from);
  t.true(Number(alert['count']) > 100, `suppressed: ${String(alert['count'])}`);
  t.log(`${20 + Number(alert['count'])} garbage lines rejected; 20 reported one by one, ${String(alert['count'])} in one alert`);
});
