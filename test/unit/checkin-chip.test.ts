// The check-in with the chip as the portrait source: a scan starts the chip read (card intake),
// the read runs while the consent question is open, the portrait step takes DG2 or tries the next
// source, and a card in doubt goes to the counter whatever checkin.noPortrait says. The state
// machine, the check-in steps, card intake and the recorder are the real ones; the chip reader is
// the fake port over hw-sim's virtual CCCD (test/helpers/chip-rig.ts); face engine, queue and
// printer are fakes.
import test, { type ExecutionContext } from 'ava';
import { Writable } from 'node:stream';
import { createChipReads } from '../../src/checkin/chip-reads.js';
import { createCheckinSteps, type StepDeps } from '../../src/checkin/device-steps.js';
import { createSessions } from '../../src/checkin/sessions.js';
import { configSchema } from '../../src/config/schema.js';
import type { PortraitSource } from '../../src/config/sections/chip.js';
import { checkinPolicy } from '../../src/daemon/build.js';
import { cardIntake } from '../../src/features/card-intake.js';
import { checkinRecorder } from '../../src/features/checkin-recorder.js';
import type { CitizenIdentity } from '../../src/hal/card/types.js';
import type { ButtonId, PortStates, ScanListener } from '../../src/hal/ports.js';
import { createLogger } from '../../src/log/logger.js';
import { eventData } from '../../src/mqtt/contract.js';
import type { KioskPublisher } from '../../src/mqtt/publisher.js';
import { createKioskRuntime, type SessionReport } from '../../src/pipeline/runtime.js';
import { COUNTER_WORDS } from '../../src/pipeline/wording.js';
import type { Ticket } from '../../src/printing/ticket/ticket.js';
import type { CheckinRecord } from '../../src/queue/types.js';
import { systemClock } from '../../src/util/clock.js';
import { fakeReader, HOLDER, HOLDER_SECRETS, PKI, PORTRAIT, virtualCard, type CardSpec, type FakeReader } from '../helpers/chip-rig.js';
import { until } from '../helpers/wait.js';
import { findPersonalData } from '../../hw-sim/scenario/privacy.js';

const ready = { kind: 'ready' } as const;
const ports: PortStates = { card: ready, camera: ready, printer: ready, indicators: ready, storage: ready, chip: ready };
const IDENTITY_PORTRAIT = Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 1, 2, 3);

interface Rig {
  readonly reader: FakeReader;
  readonly events: Array<{ kind: string; data: Record<string, unknown> }>;
  readonly logs: Record<string, unknown>[];
  readonly printed: Ticket[];
  readonly audits: CheckinRecord[];
  /** The reference each face check was given. */
  readonly references: Uint8Array[];
  readonly identityAsked: () => number;
  scan(): void;
  press(button: ButtonId): void;
  step(): string | null;
  ended(): Promise<Extract<SessionReport, { type: 'ended' }>>;
}

function rig(
  t: ExecutionContext,
  o: { noPortrait?: 'counter' | 'unverified'; sources?: PortraitSource[]; chip?: boolean; placeTimeoutMs?: number; intakeStarts?: boolean } = {},
): Rig {
  const clock = systemClock();
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const log = createLogger({ level: 'debug', pretty: 'never', destination });
  const events: Rig['events'] = [];
  const publish = { event: (kind: string, data: Record<string, unknown>) => events.push({ kind, data }) } as unknown as KioskPublisher;
  const sessions = createSessions();
  const reader = fakeReader();
  const config = configSchema.parse({
    checkin: { noPortrait: o.noPortrait ?? 'counter', consentTimeoutSec: 30 },
    chip: { enabled: o.chip !== false, ...(o.sources ? { portraitSources: o.sources } : {}) },
  });
  const chip =
    o.chip === false
      ? null
      : createChipReads({
          reader,
          config: { ...config.chip, placeTimeoutMs: o.placeTimeoutMs ?? 10_000 },
          anchors: [PKI.cscaDer],
          sessions,
          clock,
          publish,
          log: log.child({ ns: 'chip' }),
        });
  const printed: Ticket[] = [];
  const audits: CheckinRecord[] = [];
  const references: Uint8Array[] = [];
  let identityAsked = 0;
  const steps = createCheckinSteps({
    sessions,
    camera: { prepare: () => {}, capture: async () => ({ ok: true, frames: [{ format: 'jpeg', data: Uint8Array.of(0xff, 0xd8, 0xff) }], ms: 1 }) },
    faces: () => ({
      verify: async (_frames: unknown, reference: Uint8Array) => {
        references.push(reference.slice());
        return { ok: true, match: true, score: 0.9 };
      },
    }),
    portraits: {
      fetchPortrait: async () => {
        identityAsked++;
        return { kind: 'found', jpeg: IDENTITY_PORTRAIT.slice() };
      },
    },
    bhyt: null,
    store: {
      allocate: (r: { ticket: string }) => ({ number: r.ticket === 'counter' ? 'Q001' : 'A001', seq: 1, day: '2025-01-01', steppedBack: null }),
    },
    submit: async (ticket: Ticket) => (printed.push(ticket), { outcome: 'printed' }),
    checkin: config.checkin,
    wallClock: () => new Date(),
    alert: () => {},
    log,
    chip,
    portraitSources: config.chip.portraitSources,
  } as unknown as StepDeps);
  const runtime = createKioskRuntime({
    clock,
    ports,
    requiredPorts: ['card', 'camera', 'printer'],
    heartbeatMs: 60_000,
    resultHoldMs: 50,
    policy: checkinPolicy(config.checkin, config.chip),
    steps,
  });
  const recorder = checkinRecorder({
    runtime,
    sessions,
    store: { begin: () => {}, finish: (r: CheckinRecord) => void audits.push(r), queueLookup: () => {} },
    publish,
    wallClock: () => new Date(),
    log,
  });
  let onScan: ScanListener = () => {};
  let onButton: (b: ButtonId) => void = () => {};
  const intake = cardIntake({
    card: { onScan: (l) => ((onScan = l), () => {}) },
    indicators: { onButton: (l) => ((onButton = l), () => {}) },
    runtime,
    sessions,
    publish,
    clock,
    wallClock: () => new Date(),
    today: () => ({ year: 2025, month: 1, day: 1 }),
    log,
    buttonLog: log,
    warmCamera: null,
    startChipRead: chip && o.intakeStarts !== false ? (id) => chip.start(id) : null,
    cancelChipRead: chip ? (id) => chip.cancel(id) : null,
  });
  runtime.start();
  runtime.bootDone();
  void recorder.start(new AbortController().signal);
  void intake.start(new AbortController().signal);
  t.teardown(() => {
    void intake.stop();
    void recorder.stop();
    runtime.stop();
  });
  const reports: SessionReport[] = [];
  runtime.onSession((r) => reports.push(r));
  const identity: CitizenIdentity = {
    idNumber: HOLDER.idNumber,
    oldIdNumber: null,
    fullName: HOLDER.fullName,
    dateOfBirth: '1945-03-07',
    sex: 'male',
    address: null,
    issueDate: null,
    form: '7-field',
    repairs: [],
  };
  return {
    reader,
    events,
    logs,
    printed,
    audits,
    references,
    identityAsked: () => identityAsked,
    scan: () => void onScan({ kind: 'identity', identity }),
    press: (b) => onButton(b),
    step: () => runtime.status().step,
    async ended() {
      await until(() => reports.some((r) => r.type === 'ended'), 20_000, 'the check-in to end');
      return reports.find((r): r is Extract<SessionReport, { type: 'ended' }> => r.type === 'ended')!;
    },
  };
}

const kinds = (r: Rig) => r.events.map((e) => e.kind);
const eventsOf = (r: Rig, kind: string) => r.events.filter((e) => e.kind === kind).map((e) => e.data);

/** Every chip event fits the MQTT contract, and nothing read from the card is in any event, log line or audit row. */
function contractAndPrivacy(t: ExecutionContext, r: Rig): void {
  for (const e of r.events.filter((x) => x.kind.startsWith('chip.') || x.kind === 'alert')) {
    const parsed = eventData[e.kind as keyof typeof eventData].safeParse(e.data);
    t.true(parsed.success, `${e.kind}: ${parsed.error?.message ?? ''}`);
  }
  const text = JSON.stringify([r.events, r.logs, r.audits]);
  for (const secret of HOLDER_SECRETS) t.false(text.includes(secret), `"${secret}" leaked`);
  t.deepEqual(
    findPersonalData(text).map((l) => l.what),
    [],
  );
}

/** Scans, places the card when the kiosk asks for it (during the consent question), waits for the chip's outcome, consents, and waits for the end. */
async function checkIn(t: ExecutionContext, r: Rig, card: CardSpec | null) {
  r.scan();
  await until(() => kinds(r).includes('chip.progress'), 5000, 'the kiosk to ask for the card');
  if (r.step() !== 'consent') throw new Error(`expected the consent question, at ${r.step()}`);
  if (card) r.reader.place(virtualCard(card).card);
  await until(() => kinds(r).some((k) => k === 'chip.read' || k === 'chip.failed'), 10_000, 'the chip outcome');
  t.is(r.step(), 'consent', 'the chip was read while the consent question was open');
  r.press('consent-yes');
  return r.ended();
}

test('the chip is read while the consent question is open, and DG2 is the face reference; the audit has its facts', async (t) => {
  const r = rig(t);
  const end = await checkIn(t, r, {});
  t.like(end.session, { outcome: 'printed', faceVerified: true, ticket: 'queue' });
  t.deepEqual(r.references, [PORTRAIT], "the face was compared with the chip's portrait");
  t.is(r.identityAsked(), 0, 'the identity service was not needed');
  t.deepEqual(eventsOf(r, 'chip.progress'), [
    { session_id: end.session.id, step: 'waiting-card', attempt: 1 },
    { session_id: end.session.id, step: 'reading', attempt: 1 },
  ]);
  t.like(eventsOf(r, 'chip.read')[0], { session_id: end.session.id, protocol: 'pace', pa: 'chain-ok', attempts: 1 });
  const audit = r.audits[0]!.chip as Record<string, unknown>;
  t.like(audit, { outcome: 'read', code: null, protocol: 'pace', pa: 'chain-ok', attempts: 1, reference: true });
  t.true(Object.keys(audit['steps_ms'] as object).includes('pace'));
  t.true(
    r.logs.some((l) => l['msg'] === 'chip read (pace, pa chain-ok)' && l['groups'] === 'CardAccess,COM,DG1,DG2,DG13,DG14,SOD'),
    'one log line with the protocol, pa and groups',
  );
  contractAndPrivacy(t, r);
});

test('no card placed in time: the identity service gives the portrait, and chip.failed says why', async (t) => {
  const r = rig(t, { placeTimeoutMs: 200 });
  const end = await checkIn(t, r, null);
  t.like(end.session, { outcome: 'printed', faceVerified: true });
  t.deepEqual(r.references, [IDENTITY_PORTRAIT]);
  t.like(eventsOf(r, 'chip.failed')[0], { code: 'no-card', counter: false, pa: null });
  t.like(r.audits[0]!.chip, { outcome: 'fallback', code: 'no-card', reference: false });
  contractAndPrivacy(t, r);
});

test('wrong CAN: a counter ticket with the Vietnamese reason, even where noPortrait would print a ticket; no face is taken', async (t) => {
  const r = rig(t, { noPortrait: 'unverified' });
  const end = await checkIn(t, r, { can: '654321' });
  t.like(end.session, { outcome: 'counter', ticket: 'counter', faceVerified: false, counterReason: COUNTER_WORDS.chipWrongCard });
  t.regex(end.session.reason!, /^chip wrong-can: /);
  t.deepEqual(r.references, []);
  t.is(r.identityAsked(), 0, 'a card in doubt is not rescued by another source');
  t.true((r.printed[0]!.notes ?? []).some((n) => n.includes(COUNTER_WORDS.chipWrongCard)));
  t.like(eventsOf(r, 'chip.failed')[0], { code: 'wrong-can', counter: true });
  t.deepEqual(eventsOf(r, 'alert'), [], 'a wrong CAN is the patient, not fraud: no alert');
  contractAndPrivacy(t, r);
});

test("another card on the reader (DG13's number is not the QR's): the counter and an alert for central monitoring", async (t) => {
  const r = rig(t);
  const end = await checkIn(t, r, { identity: { idNumber: '001045900002' } });
  t.like(end.session, { outcome: 'counter', counterReason: COUNTER_WORDS.chipNumberMismatch });
  t.like(eventsOf(r, 'alert')[0], { level: 'error', code: 'chip.number-mismatch' });
  t.like(r.audits[0]!.chip, { outcome: 'counter', code: 'number-mismatch', pa: 'chain-ok' });
  contractAndPrivacy(t, r);
});

test('a chip that fails passive authentication: the counter and an alert', async (t) => {
  const r = rig(t);
  const end = await checkIn(t, r, { faults: { corruptHashOf: 'DG13' } });
  t.like(end.session, { outcome: 'counter', counterReason: COUNTER_WORDS.chipNotAuthentic });
  t.like(eventsOf(r, 'chip.failed')[0], { code: 'pa-failed', counter: true, pa: 'failed' });
  t.like(eventsOf(r, 'alert')[0], { code: 'chip.pa-failed' });
  contractAndPrivacy(t, r);
});

test('consent given before the card is placed: the portrait step waits for the chip read', async (t) => {
  const r = rig(t);
  r.scan();
  r.press('consent-yes');
  await until(() => r.step() === 'portrait', 5000, 'the portrait step');
  r.reader.place(virtualCard().card);
  const end = await r.ended();
  t.like(end.session, { outcome: 'printed', faceVerified: true });
  t.deepEqual(r.references, [PORTRAIT]);
});

test('a card intake that does not start the read: the portrait step starts it', async (t) => {
  const r = rig(t, { intakeStarts: false });
  r.scan();
  r.press('consent-yes');
  await until(() => kinds(r).includes('chip.progress'), 5000, 'the kiosk to ask for the card');
  t.is(r.step(), 'portrait');
  r.reader.place(virtualCard().card);
  const end = await r.ended();
  t.like(end.session, { outcome: 'printed', faceVerified: true });
  t.deepEqual(r.references, [PORTRAIT]);
});

test('portraitSources [identity, chip]: the identity service first; the chip read started at the scan is wiped unused', async (t) => {
  const r = rig(t, { sources: ['identity', 'chip'] });
  const end = await checkIn(t, r, {});
  t.deepEqual(r.references, [IDENTITY_PORTRAIT]);
  t.like(end.session, { outcome: 'printed' });
  t.like(r.audits[0]!.chip, { outcome: 'read', reference: false });
});

test('chip reading off: no chip event, the identity service as before', async (t) => {
  const r = rig(t, { chip: false });
  r.scan();
  r.press('consent-yes');
  const end = await r.ended();
  t.like(end.session, { outcome: 'printed' });
  t.deepEqual(r.references, [IDENTITY_PORTRAIT]);
  t.deepEqual(
    kinds(r).filter((k) => k.startsWith('chip.')),
    [],
  );
  t.is(r.audits[0]!.chip, null);
});

test('the patient declines: the chip read started at the scan ends with the check-in', async (t) => {
  const r = rig(t);
  r.scan();
  await until(() => kinds(r).includes('chip.progress'), 5000, 'the kiosk to ask for the card');
  r.press('consent-no');
  const end = await r.ended();
  t.like(end.session, { outcome: 'declined' });
  // The check-in is over: a card placed now is never read.
  r.reader.place(virtualCard().card);
  await new Promise((res) => setTimeout(res, 50));
  t.is(r.reader.apdus(), 0);
  t.deepEqual(r.reader.links(), { opened: 0, released: 0 });
});

test('consent "no" stops the chip read at once, while the check-in goes on to its counter ticket', async (t) => {
  const sessions = createSessions();
  const identity = { idNumber: HOLDER.idNumber } as unknown as CitizenIdentity;
  const s = sessions.open('s1', identity, new Date(), null);
  let readSignal: AbortSignal | null = null;
  const events: string[] = [];
  const chip = createChipReads({
    reader: fakeReader(),
    config: { placeTimeoutMs: 10_000, readTimeoutMs: 20_000, retries: 2 },
    anchors: [],
    sessions,
    clock: systemClock(),
    publish: { event: (kind: string) => events.push(kind) } as unknown as KioskPublisher,
    log: createLogger({ level: 'silent', pretty: 'never' }),
    // A read that waits for its card until its signal aborts, as the real one does.
    read: (input) => {
      readSignal = input.signal;
      return new Promise((resolve) =>
        input.signal.addEventListener('abort', () =>
          resolve({
            outcome: { kind: 'fallback', code: 'cancelled', reason: 'cancelled' },
            takePortrait: () => null,
            holder: () => null,
            wipe: () => {},
          } as never),
        ),
      );
    },
  });
  chip.start('s1');
  t.false(readSignal!.aborted);
  chip.cancel('s1');
  t.true(readSignal!.aborted, 'the read is stopped when the patient says no');
  t.false(s.ended.aborted, 'the check-in itself goes on (to its counter ticket)');
  t.deepEqual(events, [], 'a cancelled read is not reported as a chip failure');
  // Cancelling a check-in with no read running does nothing.
  t.notThrows(() => chip.cancel('no-such-session'));
});
