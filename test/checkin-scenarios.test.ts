/**
 * The check-in scenarios of issue 6 on a whole virtual kiosk: hw-sim's devices (scanner on a
 * pty, raw-TCP printer, fake rpicam-still, button panel, identity service with real face
 * portraits, BHYT gateway), a real MQTT broker, and the real daemon with its face models.
 * One kiosk serves the file; scenarios run one after another as patients would.
 */
import test from 'ava';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { SAMPLE_IDENTITIES } from '../hw-sim/identities.js';
import { startKioskSim, type KioskSim } from '../hw-sim/kiosk.js';

let k: KioskSim;

test.before(async () => {
  k = await startKioskSim({
    configOverrides: {
      kiosk: { resultHoldMs: 300 },
      // Consecutive scenarios use different cards; a short window keeps a re-run card from being taken for a double scan.
      hal: { card: { duplicateWindowSec: 1 } },
      checkin: { consentTimeoutSec: 5, retryPauseMs: 100 },
      bhyt: { reconcileEverySec: 3600, breaker: { failures: 3, openSec: 1 } },
    },
  });
});

test.after.always(async () => {
  await k?.stop();
});

test.afterEach.always(async () => {
  // Every scenario leaves the kiosk as the next patient expects it.
  for (const p of SAMPLE_IDENTITIES) k.sim.gateway.setResult(p.idNumber, '000');
  await k.sim.gateway.setFault('none');
  k.sim.printer.state.paper = 'ok';
  k.sim.printer.faults = {};
  if (!k.sim.scanner.plugged) await k.sim.scanner.plug();
});

const idle = () => k.waitState((s) => s['mode'] === 'idle', 20_000);
const person = (n: number) => SAMPLE_IDENTITIES[n - 1]!;

test.serial('happy path: card, consent, face match, BHYT 000, a queue ticket with a number; MQTT carries no personal data', async (t) => {
  await idle();
  const from = k.watch.mark();
  const { end, ticket } = await k.checkIn(1);
  t.like(end, { outcome: 'printed', ticket: 'queue', department: 'kham-benh', face_verified: true, attempts: 1, bhyt_code: '000', bhyt: 'checked' });
  t.regex(String(end['number']), /^A\d{3}$/);
  t.true(ticket?.complete, 'a whole ticket came out of the printer');
  t.regex(ticket!.text, /Khám bệnh/);
  const steps = end['steps_ms'] as Record<string, number>;
  t.deepEqual(Object.keys(steps).sort(), ['capture', 'consent', 'insurance', 'number', 'portrait', 'print', 'verify']);
  const started = await k.waitEvent('checkin.started', () => true, 1000, from);
  t.is(started['card'], '********0001');
  // Nothing a monitor receives names the patient or carries the full number or birth date.
  const traffic = k.watch.seen.slice(from).map((m) => m.payload).join('\n');
  for (const secret of [person(1).idNumber, person(1).oldIdNumber, person(1).fullName, 'Nguyễn', person(1).dob, '01/01/1990', '1990-01-01', person(1).address]) {
    t.false(traffic.includes(secret), `MQTT carried "${secret}"`);
  }
  await idle();
});

test.serial('face mismatch: someone else at the camera gets a counter ticket after three tries, and no BHYT lookup is made', async (t) => {
  const lookups = k.sim.gateway.stats().lookups;
  const { end, ticket } = await k.checkIn(2, { face: 'stranger' });
  t.like(end, { outcome: 'face-mismatch', ticket: 'counter', face_verified: false, attempts: 3, bhyt: 'not-asked' });
  t.regex(String(end['number']), /^QU?\d{3}$/);
  t.true(ticket?.complete);
  t.regex(ticket!.text, /Quầy tiếp đón/);
  t.is(k.sim.gateway.stats().lookups, lookups, 'the gateway was not asked about a card whose holder is not here');
  await idle();
});

test.serial('no face: an empty camera frame ends as no-face with a counter ticket', async (t) => {
  const { end, ticket } = await k.checkIn(3, { face: 'empty' });
  t.like(end, { outcome: 'no-face', ticket: 'counter', attempts: 3 });
  t.regex(String(end['reason']), /no-face/);
  t.true(ticket?.complete);
  await idle();
});

test.serial('consent declined: a counter ticket and the camera never runs', async (t) => {
  const calls = k.sim.camera.calls().length;
  const portraits = k.sim.identity.stats().requests;
  const { end, ticket } = await k.checkIn(4, { consent: 'no' });
  t.like(end, { outcome: 'declined', ticket: 'counter', face_verified: false });
  t.true(ticket?.complete);
  t.is(k.sim.camera.calls().length, calls, 'no image was captured');
  t.is(k.sim.identity.stats().requests, portraits, 'no portrait was fetched');
  await idle();
});

test.serial('BHYT card expired (010): routed to the counter with the reason', async (t) => {
  k.sim.gateway.setResult(person(5).idNumber, '010');
  const { end, ticket } = await k.checkIn(5);
  t.like(end, { outcome: 'counter', ticket: 'counter', face_verified: true, bhyt_code: '010', bhyt: 'checked' });
  t.regex(String(end['reason']), /^BHYT 010/);
  t.true(ticket?.complete);
  k.sim.gateway.setResult(person(5).idNumber, '000');
  await idle();
});

test.serial('BHYT gateway down: the patient still gets a queue ticket marked unchecked; the lookup is reconciled later', async (t) => {
  await k.sim.gateway.setFault('down');
  const { end, ticket } = await k.checkIn(1);
  t.like(end, { outcome: 'printed', ticket: 'queue', bhyt: 'unchecked', bhyt_code: null });
  t.true(ticket?.complete);
  t.regex(ticket!.text, /chưa kiểm tra/i);
  await idle();
  await k.sim.gateway.setFault('none');
  await new Promise((r) => setTimeout(r, 1100)); // the circuit breaker's open time
  const from = k.watch.mark();
  await k.watch.client.publishAsync(`${k.base}/cmd/reconcile`, JSON.stringify({ transaction: 'r1' }));
  const rec = await k.waitEvent('checkin.reconciled', (d) => d['session_id'] === end['session_id'], 15_000, from);
  t.like(rec, { bhyt_code: '000', route: 'proceed', number: end['number'] });
});

test.serial('paper runs out mid-ticket: device-error, the number is held and reprinted when paper is back', async (t) => {
  k.sim.printer.faults.paperOutAfterBytes = 3000;
  const from = k.watch.mark();
  const { end } = await k.checkIn(2);
  t.like(end, { outcome: 'device-error', ticket: 'queue' });
  t.regex(String(end['reason']), /printer/);
  await k.waitEvent('ticket.failed', (d) => d['number'] === end['number'], 5000, from);
  await k.waitState((s) => s['mode'] === 'out-of-service', 10_000);
  k.sim.printer.state.paper = 'ok';
  k.sim.printer.faults = {};
  const re = await k.waitEvent('ticket.reprinted', (d) => d['number'] === end['number'], 20_000, from);
  t.is(re['ticket_id'], end['session_id']);
  await idle();
});

test.serial('scanner unplugged mid-session: the patient at the kiosk still gets a ticket; then the kiosk is out of service until it is back', async (t) => {
  const from = k.watch.mark();
  await k.sim.showFace(3);
  await k.sim.scanner.scan(person(3));
  await k.waitEvent('checkin.started', () => true, 10_000, from);
  await k.sim.scanner.unplug();
  await k.sim.panel.waitForLeds((l) => l.ready === 'blink', 5000);
  k.sim.panel.press('consent-yes');
  const end = await k.waitEvent('checkin.completed', () => true, 30_000, from);
  t.is(end['outcome'], 'printed');
  await k.waitState((s) => s['mode'] === 'out-of-service', 10_000);
  await k.sim.scanner.plug();
  await idle();
});

test.serial('the same card scanned twice: one check-in, one ticket', async (t) => {
  const from = k.watch.mark();
  await k.sim.showFace(4);
  await k.sim.scanner.scan(person(4));
  await k.sim.scanner.scan(person(4));
  await k.sim.panel.waitForLeds((l) => l.ready === 'blink', 10_000);
  k.sim.panel.press('consent-yes');
  await k.waitEvent('checkin.completed', () => true, 30_000, from);
  await idle();
  await new Promise((r) => setTimeout(r, 500));
  const count = (kind: string) => k.watch.seen.slice(from).filter((m) => m.topic === `${k.base}/event/${kind}`).length;
  t.is(count('checkin.started'), 1);
  t.is(count('ticket.printed'), 1);
  // The duplicate guard dropped the second scan before it reached the kiosk (not just "busy").
  t.is(count('card.read'), 1);
});

test.serial('kill -9 mid-print, restart: the unprinted number is void and numbering continues without a duplicate', async (t) => {
  k.sim.printer.faults.drainBytesPerSec = 1500; // a long job: the daemon dies while it prints
  const from = k.watch.mark();
  await k.sim.showFace(5);
  await k.sim.scanner.scan(person(5));
  const started = await k.waitEvent('checkin.started', () => true, 10_000, from);
  await k.sim.panel.waitForLeds((l) => l.ready === 'blink', 10_000);
  k.sim.panel.press('consent-yes');
  await k.waitState((s) => s['step'] === 'print', 20_000);
  k.daemon.kill('SIGKILL');
  await new Promise((r) => k.daemon.once('exit', r));
  k.sim.printer.faults = {};
  const afterKill = k.watch.mark();
  await k.restartDaemon();
  const voided = await k.waitEvent('ticket.voided', (d) => d['ticket_id'] === started['session_id'], 20_000, afterKill);
  t.regex(String(voided['reason']), /restarted/);
  await idle();
  const { end } = await k.checkIn(5);
  t.is(end['outcome'], 'printed');
  t.is(Number(String(end['number']).slice(1)), Number(String(voided['number']).slice(1)) + 1, 'the next number follows the voided one');
  // The audit: every number given today is unique, and the killed one is recorded void.
  const db = new Database(join(k.sim.dir, 'state', 'kioskd.db'), { readonly: true });
  const rows = db.prepare(`SELECT id, number, ticket_state FROM checkins WHERE number IS NOT NULL`).all() as Array<{ id: string; number: string; ticket_state: string }>;
  const audit = JSON.stringify(db.prepare(`SELECT * FROM checkins`).all());
  db.close();
  // The audit holds masked cards only: no full 12-digit number and no name of any sample patient.
  t.notRegex(audit, /(?<![\d.])\d{12}(?!\d)/);
  for (const p of SAMPLE_IDENTITIES) t.false(audit.includes(p.fullName));
  t.is(new Set(rows.map((r) => r.number)).size, rows.length, 'a number was given twice');
  t.is(rows.find((r) => r.id === started['session_id'])?.ticket_state, 'void');
});

test.serial('no reference portrait: by default the patient is sent to the counter, and no camera is used', async (t) => {
  k.sim.identity.withhold(person(1).idNumber);
  const calls = k.sim.camera.calls().length;
  const { end, ticket } = await k.checkIn(1);
  k.sim.identity.restore(person(1).idNumber);
  t.like(end, { outcome: 'counter', ticket: 'counter' });
  t.true(ticket?.complete);
  t.is(k.sim.camera.calls().length, calls);
});
