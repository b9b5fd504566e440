import test from 'ava';
import type { ExecutionContext } from 'ava';
import { startSim, type Sim } from '../../hw-sim/sim.js';
import { SAMPLE_IDENTITIES, cccdPayload } from '../../hw-sim/identities.js';
import type { ScannerLink } from '../../hw-sim/devices/scanner.js';
import { killQuietly, runDaemon, type DaemonProc } from '../helpers/daemon.js';
import { until } from '../helpers/wait.js';
import { Watcher, type Seen } from '../helpers/watch.js';

async function kiosk(t: ExecutionContext, link: ScannerLink, id: string): Promise<{ sim: Sim; d: DaemonProc; w: Watcher; base: string }> {
  const sim = await startSim({
    brokerPort: 0,
    deviceId: id,
    scanner: link,
    configOverrides: { kiosk: { resultHoldMs: 400 }, hal: { card: { idleGapMs: 150 } } },
  });
  t.teardown(() => sim.stop());
  const base = `kiosk/${id}`;
  const w = await Watcher.start(sim.broker.url, `${base}/#`);
  t.teardown(() => w.stop());
  const d = runDaemon(sim.config, sim.daemonEnv);
  t.teardown(() => killQuietly(d));
  await w.waitFor((m) => m.topic === `${base}/state` && stateOf(m).mode === 'idle' && stateOf(m).ports.card.kind === 'ready', 15_000);
  // These tests are about reading cards: each patient declines the face check, so every
  // session ends quickly (with a counter ticket).
  sim.panel.onLeds((l) => l.ready === 'blink' && sim.panel.press('consent-no'));
  return { sim, d, w, base };
}

const stateOf = (m: Seen) =>
  JSON.parse(m.payload) as { mode: string; step: string | null; session_id: string | null; ports: { card: { kind: string; reason?: string } } };
const dataOf = (m: Seen) => JSON.parse(m.payload).data;

/** Waits for the kiosk to be idle again after a session (the result hold). */
async function idleAgain(w: Watcher, base: string, from: number): Promise<void> {
  await w.waitFor((m) => m.topic === `${base}/state` && stateOf(m).mode === 'idle', 10_000, from);
}

test('hw-sim pty scanner: a CCCD becomes a session, garbage is rejected and the kiosk stays idle, unplug/replug recovers, every fault is handled, and no personal data leaks', async (t) => {
  const { sim, d, w, base } = await kiosk(t, 'pty', 'card-pty');
  const [p1, p2, p3, p4, p5] = SAMPLE_IDENTITIES as [
    (typeof SAMPLE_IDENTITIES)[0],
    (typeof SAMPLE_IDENTITIES)[0],
    (typeof SAMPLE_IDENTITIES)[0],
    (typeof SAMPLE_IDENTITIES)[0],
    (typeof SAMPLE_IDENTITIES)[0],
  ];

  // A good scan: an event and a state change.
  let mark = w.mark();
  await sim.scanner.scan(p1);
  const read = await w.waitFor((m) => m.topic === `${base}/event/card.read`, 10_000, mark);
  t.like(dataOf(read), { card: '********0001', form: '7-field', mode: 'idle' });
  const sessionId = dataOf(read).session_id as string;
  const inSession = await w.waitFor((m) => m.topic === `${base}/state` && stateOf(m).mode === 'in-session', 10_000, mark);
  t.like(stateOf(inSession), { step: 'consent', session_id: sessionId });
  const ended = await w.waitFor((m) => m.topic === `${base}/event/checkin.failed`, 10_000, mark);
  t.like(dataOf(ended), { session_id: sessionId, outcome: 'declined', ticket: 'counter' });
  await idleAgain(w, base, mark);

  // Garbage: a rejection with a reason; the kiosk never leaves idle.
  mark = w.mark();
  await sim.scanner.send(Buffer.from([0x01, 0xff, 0x7c, 0x41, 0x00, 0x9b, 0x0d, 0x0a]));
  await sim.scanner.send('https://example.test/not-a-cccd\r\n');
  const rej = await w.waitFor((m) => m.topic === `${base}/event/card.rejected` && dataOf(m).code === 'not-a-cccd-payload', 10_000, mark);
  t.like(dataOf(rej), { message: 'this is not a CCCD QR code (no "|"-separated fields starting with a 12-digit number)', card_last4: null });
  t.true(w.seen.slice(mark).some((m) => m.topic === `${base}/event/card.rejected` && dataOf(m).code === 'control-characters'));
  t.false(
    w.seen.slice(mark).some((m) => m.topic === `${base}/state` && stateOf(m).mode !== 'idle'),
    'the kiosk stayed idle',
  );
  t.is((await askState(w, base)).mode, 'idle', 'asked, the kiosk says it is idle');

  // A tampered card (year digits do not match the birth date): rejected with that reason and masked data.
  mark = w.mark();
  await sim.scanner.send(cccdPayload(p2).replace('07031945', '07031946') + '\r\n');
  const tampered = await w.waitFor((m) => m.topic === `${base}/event/card.rejected`, 10_000, mark);
  t.like(dataOf(tampered), { code: 'id-year-mismatch', card_last4: '0002', fields: 7 });

  // Unplug and replug: faulted, then ready, visible on MQTT; the daemon is never restarted.
  const pid = d.proc.pid;
  mark = w.mark();
  await sim.scanner.unplug();
  const faulted = await w.waitFor((m) => m.topic === `${base}/state` && stateOf(m).ports.card.kind === 'faulted', 10_000, mark);
  t.is(stateOf(faulted).mode, 'out-of-service');
  await sim.scanner.plug();
  await w.waitFor((m) => m.topic === `${base}/state` && stateOf(m).ports.card.kind === 'ready' && stateOf(m).mode === 'idle', 15_000, mark);
  t.is(d.proc.exitCode, null);
  t.is(d.proc.pid, pid);

  // The same card twice in a row counts once.
  mark = w.mark();
  await sim.scanner.scan(p2);
  await sim.scanner.scan(p2);
  await w.waitFor((m) => m.topic === `${base}/event/card.read`, 10_000, mark);
  await idleAgain(w, base, mark);
  await new Promise((r) => setTimeout(r, 300));
  t.is(w.seen.slice(mark).filter((m) => m.topic === `${base}/event/card.read`).length, 1);
  await d.waitForOutput(/counted once/);

  // A card scanned while the kiosk is busy is ignored, and does not block that patient's own
  // scan a moment later (the duplicate guard only counts scans the kiosk acted on).
  mark = w.mark();
  await sim.scanner.scan(p3);
  await w.waitFor((m) => m.topic === `${base}/state` && stateOf(m).mode === 'in-session', 10_000, mark);
  await sim.scanner.scan(p4);
  t.like(dataOf(await w.waitFor((m) => m.topic === `${base}/event/card.read` && dataOf(m).card === '********0004', 10_000, mark)), {
    session_id: null,
    mode: 'in-session',
  });
  await idleAgain(w, base, mark);
  mark = w.mark();
  await sim.scanner.scan(p4);
  const retried = await w.waitFor((m) => m.topic === `${base}/event/card.read`, 10_000, mark);
  t.like(dataOf(retried), { card: '********0004', mode: 'idle' });
  t.truthy(dataOf(retried).session_id);
  await idleAgain(w, base, mark);
  await new Promise((r) => setTimeout(r, 5000)); // let the duplicate window of these cards pass

  // Bytes trickling slowly (below the idle gap) still make one scan; the 6-field form too.
  mark = w.mark();
  await sim.scanner.trickle(cccdPayload(p3, '6-field') + '\r\n', { chunk: 4, pauseMs: 20 });
  t.like(dataOf(await w.waitFor((m) => m.topic === `${base}/event/card.read`, 10_000, mark)), { card: '********0003', form: '6-field' });
  await idleAgain(w, base, mark);

  // No terminator: the idle gap ends the scan.
  mark = w.mark();
  await sim.scanner.send(cccdPayload(p4));
  t.like(dataOf(await w.waitFor((m) => m.topic === `${base}/event/card.read`, 10_000, mark)), { card: '********0004' });
  await idleAgain(w, base, mark);

  // An 8 KB line is rejected as too long, and the scanner keeps working after it.
  mark = w.mark();
  await sim.scanner.send('9'.repeat(8192) + '\r\n');
  t.like(dataOf(await w.waitFor((m) => m.topic === `${base}/event/card.rejected`, 10_000, mark)), { code: 'too-long', bytes: 8192 });
  await sim.scanner.scan(p5);
  t.like(dataOf(await w.waitFor((m) => m.topic === `${base}/event/card.read`, 10_000, mark)), { card: '********0005' });
  await idleAgain(w, base, mark);

  assertNothingPersonal(t, d, w);
});

/** Privacy: nothing personal from any test card in the daemon's log or on MQTT. */
function assertNothingPersonal(t: ExecutionContext, d: DaemonProc, w: Watcher): void {
  const everything = d.output() + '\n' + w.seen.map((m) => `${m.topic} ${m.payload}`).join('\n');
  for (const p of SAMPLE_IDENTITIES) {
    const iso = `${p.dob.slice(4)}-${p.dob.slice(2, 4)}-${p.dob.slice(0, 2)}`;
    const slashed = `${p.dob.slice(0, 2)}/${p.dob.slice(2, 4)}/${p.dob.slice(4)}`; // the 6-field form's date
    for (const secret of [
      p.idNumber,
      p.fullName,
      p.dob,
      iso,
      slashed,
      p.address,
      ...p.fullName.split(' ').filter((x) => x.length > 2),
      ...(p.oldIdNumber ? [p.oldIdNumber] : []),
    ]) {
      t.false(everything.includes(secret), `"${secret}" leaked`);
    }
  }
}

/** Asks the kiosk for its state over MQTT, as central monitoring would. */
async function askState(w: Watcher, base: string): Promise<{ mode: string }> {
  const transaction = `t${Math.random().toString(16).slice(2)}`;
  const mark = w.mark();
  await w.client.publishAsync(`${base}/cmd/state`, JSON.stringify({ transaction }), { qos: 1 });
  const r = await w.waitFor((m) => m.topic === `${base}/cmd/state/response` && m.payload.includes(`"${transaction}"`), 10_000, mark);
  return (JSON.parse(r.payload) as { data: { mode: string } }).data;
}

test('hw-sim tcp scanner: the same serial driver reads tcp://, and recovers when the endpoint goes away and comes back', async (t) => {
  const { sim, d, w, base } = await kiosk(t, 'tcp', 'card-tcp');
  t.regex(sim.scanner.daemonPath, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  await until(() => sim.scanner.connected(), 10_000, 'the daemon to connect');
  let mark = w.mark();
  await sim.scanner.scan(SAMPLE_IDENTITIES[1]!, { form: '6-field' });
  t.like(dataOf(await w.waitFor((m) => m.topic === `${base}/event/card.read`, 10_000, mark)), { card: '********0002', form: '6-field' });
  mark = w.mark();
  await sim.scanner.unplug();
  await w.waitFor((m) => m.topic === `${base}/state` && stateOf(m).ports.card.kind === 'faulted', 10_000, mark);
  await sim.scanner.plug();
  await w.waitFor((m) => m.topic === `${base}/state` && stateOf(m).ports.card.kind === 'ready', 15_000, mark);
  await until(() => sim.scanner.connected(), 10_000, 'the daemon to reconnect');
  mark = w.mark();
  await sim.scanner.scan(SAMPLE_IDENTITIES[2]!);
  t.like(dataOf(await w.waitFor((m) => m.topic === `${base}/event/card.read`, 10_000, mark)), { card: '********0003' });
  assertNothingPersonal(t, d, w);
});
