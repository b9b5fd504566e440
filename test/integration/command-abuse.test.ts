/**
 * The security review's attacks on a running kiosk, replayed against the real daemon on hw-sim
 * (broker, printer, buttons): a remote consent, a flood of test prints in front of a patient, and
 * a 2 MB command payload.
 */
import test from 'ava';
import { SAMPLE_IDENTITIES } from '../../hw-sim/identities.js';
import { startKioskSim } from '../../hw-sim/kiosk.js';

type Json = Record<string, unknown>;

test("a broker client cannot answer for the patient, 50 test prints do not delay a patient's ticket, and a 2 MB command is refused unread", async (t) => {
  t.timeout(120_000);
  const k = await startKioskSim({
    brokerPort: 0,
    faceid: false,
    deviceId: 'abuse-kiosk',
    configOverrides: { kiosk: { resultHoldMs: 300 }, checkin: { noPortrait: 'unverified', consentTimeoutSec: 30 } },
  });
  t.teardown(() => k.stop());
  const { sim, watch, base } = k;
  const responses = (name: string, from: number) =>
    watch.seen
      .slice(from)
      .filter((m) => m.topic === `${base}/cmd/${name}/response`)
      .map((m) => JSON.parse(m.payload) as Json);
  await k.waitState((s) => s['mode'] === 'idle', 20_000);

  // 1. A script watches state and answers "no" the moment the consent question appears.
  let from = watch.mark();
  await sim.scanner.scan(SAMPLE_IDENTITIES[0]!);
  const asking = await k.waitState((s) => s['step'] === 'consent', 10_000);
  await watch.client.publishAsync(`${base}/cmd/consent`, JSON.stringify({ transaction: 'evil', answer: 'no' }), { qos: 1 });
  await watch.waitFor((m) => m.topic === `${base}/cmd/consent/response`, 10_000, from);
  t.regex(String(responses('consent', from)[0]?.['error']), /not accepted over MQTT/);
  t.is(sim.printer.tickets.length, 0, 'no counter ticket came out');
  t.like(await k.waitState(() => true, 1000), { mode: 'in-session', step: 'consent' });
  // The patient's own "yes" is still the answer.
  t.true(sim.panel.press('consent-yes'));
  const end = await k.waitEvent('checkin.completed', (d) => d['session_id'] === asking['session_id'], 20_000, from);
  t.like(end, { outcome: 'printed', ticket_printed: true });
  await k.waitState((s) => s['mode'] === 'idle', 20_000);

  // 2. 50 test prints in a burst, then a patient: at most one test ticket prints, the patient's
  // ticket is not held behind the rest, and nothing is left waiting for the printer.
  await sim.printer.settled();
  const before = sim.printer.tickets.length;
  from = watch.mark();
  await Promise.all(
    Array.from({ length: 50 }, (_, i) => watch.client.publishAsync(`${base}/cmd/print-test`, JSON.stringify({ transaction: i }), { qos: 1 })),
  );
  await sim.scanner.scan(SAMPLE_IDENTITIES[1]!);
  await k.waitState((s) => s['step'] === 'consent', 10_000);
  t.true(sim.panel.press('consent-yes'));
  const second = await k.waitEvent('checkin.completed', () => true, 20_000, from);
  t.like(second, { outcome: 'printed', ticket_printed: true });
  await k.waitState((s) => s['mode'] === 'idle', 20_000);
  const answers = responses('print-test', from);
  const printed = answers.filter((a) => a['status'] === 'ok');
  t.true(printed.length <= 1, `test prints that ran: ${printed.length}`);
  t.true(
    answers.filter((a) => a['status'] === 'error').every((a) => /one test print per 10 s|checking in|too many/.test(String(a['error']))),
    JSON.stringify(answers.slice(0, 5)),
  );
  await sim.printer.settled();
  t.is(sim.printer.tickets.length - before, 1 + printed.length, "the patient's ticket and at most one test ticket");
  t.false(watch.seen.slice(from).some((m) => m.topic.endsWith('/event/ticket.failed')));

  // 3. A 2 MB payload: refused by its size, nothing echoed; the kiosk stays idle and answers.
  from = watch.mark();
  const hugePayload = JSON.stringify({ transaction: 'huge', pad: 'x'.repeat(2_000_000) });
  await watch.client.publishAsync(`${base}/cmd/ping`, hugePayload, { qos: 1 });
  const huge = await watch.waitFor((m) => m.topic === `${base}/cmd/ping/response`, 10_000, from);
  t.true(huge.payload.length < 200, `answer of ${huge.payload.length} bytes`);
  t.like(JSON.parse(huge.payload), { transaction: 'huge', status: 'error' });
  t.is(JSON.parse(huge.payload)['error'], `payload too large: ${hugePayload.length} bytes, the limit is 16384`);
  from = watch.mark();
  await watch.client.publishAsync(`${base}/cmd/ping`, JSON.stringify({ transaction: 'after' }), { qos: 1 });
  t.like(JSON.parse((await watch.waitFor((m) => m.topic === `${base}/cmd/ping/response`, 10_000, from)).payload), {
    transaction: 'after',
    status: 'ok',
  });
  // Handled commands are not one info line each.
  t.false(/"msg":"command handled"/.test(k.output()), 'command handled is a debug line');
});
