import test from 'ava';
import { SimulatedClock } from 'xstate';
import type { PortStates } from '../../src/hal/ports.js';
import { createKioskRuntime, type SessionReport } from '../../src/pipeline/runtime.js';
import type { CheckinPolicy, CheckinSteps, PrintInput } from '../../src/pipeline/step-ports.js';

const ready = { kind: 'ready' } as const;
const absent = { kind: 'absent', reason: 'not fitted' } as const;
const allReady: PortStates = { card: ready, camera: ready, printer: ready, indicators: absent, storage: ready, chip: absent };

export const policy: CheckinPolicy = {
  consentTimeoutMs: 30_000,
  verifyAttempts: 3,
  retryPauseMs: 500,
  noPortrait: 'counter',
  departments: ['kham-benh', 'nhi'],
  defaultDepartment: 'kham-benh',
  departmentChoiceMs: 0,
  timeouts: { portraitMs: 3000, captureMs: 4000, verifyMs: 5000, insuranceMs: 6000, numberMs: 2000, printMs: 25_000 },
};

type Answers = { [K in keyof CheckinSteps]?: (...args: Parameters<CheckinSteps[K]>) => ReturnType<CheckinSteps[K]> };

/** Steps that answer at once (the happy path) unless a test overrides one; every call is logged. */
function steps(over: Answers = {}) {
  const calls: string[] = [];
  const printed: PrintInput[] = [];
  const aborted: string[] = [];
  const watch = (name: string, signal: AbortSignal) => {
    calls.push(name);
    signal.addEventListener('abort', () => aborted.push(name), { once: true });
  };
  let n = 0;
  const s: CheckinSteps = {
    portrait: (i, sig) => (watch('portrait', sig), over.portrait?.(i, sig) ?? Promise.resolve({ kind: 'found' })),
    capture: (i, sig) => (watch('capture', sig), over.capture?.(i, sig) ?? Promise.resolve({ ok: true })),
    verify: (i, sig) => (watch('verify', sig), over.verify?.(i, sig) ?? Promise.resolve({ kind: 'match', score: 0.8 })),
    insurance: (i, sig) => (watch('insurance', sig), over.insurance?.(i, sig) ?? Promise.resolve({ kind: 'proceed', code: '000', words: 'Có BHYT' })),
    number: (i, sig) => (
      watch('number', sig),
      over.number?.(i, sig) ?? Promise.resolve({ ok: true, number: `${i.ticket === 'counter' ? 'Q' : 'A'}${String(++n).padStart(3, '0')}` })
    ),
    print: (i, sig) => {
      watch('print', sig);
      printed.push(i);
      return over.print?.(i, sig) ?? Promise.resolve({ ok: true });
    },
  };
  return { steps: s, calls, printed, aborted };
}

const settle = () => new Promise((r) => setImmediate(r));

function kiosk(over: Answers = {}, p: CheckinPolicy = policy) {
  const clock = new SimulatedClock();
  const f = steps(over);
  const rt = createKioskRuntime({
    clock,
    ports: allReady,
    requiredPorts: ['card', 'camera', 'printer'],
    heartbeatMs: 1000,
    resultHoldMs: 3000,
    policy: p,
    steps: f.steps,
  });
  const reports: SessionReport[] = [];
  rt.onSession((r) => reports.push(r));
  rt.start();
  rt.bootDone();
  const ended = () => reports.filter((r): r is Extract<SessionReport, { type: 'ended' }> => r.type === 'ended');
  return { rt, clock, ...f, reports, ended };
}

/** A promise the test resolves later. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

test('happy path: consent, face match, BHYT, number, ticket; then ready again after the result hold', async (t) => {
  const k = kiosk();
  t.true(k.rt.cardRead('s1', '********0001'));
  t.like(k.rt.status(), { mode: 'in-session', step: 'consent' });
  t.deepEqual(k.calls, [], 'nothing happens before the patient agrees');
  k.rt.consent(true);
  await settle();
  t.deepEqual(k.calls, ['portrait', 'capture', 'verify', 'insurance', 'number', 'print']);
  t.like(k.rt.status(), { step: 'done' });
  t.like(k.printed[0], { ticket: 'queue', number: 'A001', faceVerified: true, counterReason: null, department: 'kham-benh' });
  t.like(k.ended()[0]!.session, { outcome: 'printed', faceVerified: true, score: 0.8 });
  k.clock.increment(3000);
  t.like(k.rt.status(), { mode: 'idle', step: null });
});

test('declined consent: a counter ticket, and the camera and portrait service are never used', async (t) => {
  const k = kiosk();
  k.rt.cardRead('s1', 'x');
  k.rt.consent(false);
  await settle();
  t.deepEqual(k.calls, ['number', 'print']);
  t.like(k.printed[0], { ticket: 'counter', counterReason: 'Không đồng ý xác thực khuôn mặt', faceVerified: false });
  t.is(k.ended()[0]!.session.outcome, 'declined');
});

test('no answer to consent: the session times out with no ticket (the patient walked away)', async (t) => {
  const k = kiosk();
  k.rt.cardRead('s1', 'x');
  k.clock.increment(29_999);
  t.is(k.rt.status().step, 'consent');
  k.clock.increment(1);
  await settle();
  t.is(k.ended()[0]!.session.outcome, 'timeout');
  t.deepEqual(k.printed, []);
});

test('face mismatch: three attempts with a pause between, then a counter ticket saying why', async (t) => {
  const k = kiosk({ verify: async () => ({ kind: 'mismatch', score: 0.1 }) });
  k.rt.cardRead('s1', 'x');
  k.rt.consent(true);
  await settle();
  t.is(k.rt.status().step, 'retry-pause');
  k.clock.increment(500);
  await settle();
  k.clock.increment(500);
  await settle();
  t.is(k.calls.filter((c) => c === 'capture').length, 3);
  t.like(k.printed[0], { ticket: 'counter', counterReason: 'Khuôn mặt không khớp với ảnh trên thẻ' });
  t.like(k.ended()[0]!.session, { outcome: 'face-mismatch', attempt: 3 });
  t.false(k.calls.includes('insurance'), 'no BHYT lookup for someone who is not the card holder');
});

test('no usable face after every attempt: outcome no-face with the refusal reason', async (t) => {
  const k = kiosk({ verify: async () => ({ kind: 'refused', reason: 'no face in the camera frame', noFace: true }) });
  k.rt.cardRead('s1', 'x');
  k.rt.consent(true);
  for (let i = 0; i < 3; i++) {
    await settle();
    k.clock.increment(500);
  }
  await settle();
  t.like(k.ended()[0]!.session, { outcome: 'no-face', reason: 'no face in the camera frame', ticket: 'counter' });
});

test('a second attempt that matches proceeds normally', async (t) => {
  let n = 0;
  const k = kiosk({ verify: async () => (++n === 1 ? { kind: 'refused', reason: 'too blurry', noFace: false } : { kind: 'match', score: 0.7 }) });
  k.rt.cardRead('s1', 'x');
  k.rt.consent(true);
  await settle();
  k.clock.increment(500);
  await settle();
  t.like(k.ended()[0]!.session, { outcome: 'printed', attempt: 2, faceVerified: true });
});

test('no portrait: policy "counter" sends the patient to the counter; policy "unverified" prints a ticket marked not verified', async (t) => {
  const none = { portrait: async () => ({ kind: 'none' as const, reason: 'no portrait on record' }) };
  const a = kiosk(none);
  a.rt.cardRead('s1', 'x');
  a.rt.consent(true);
  await settle();
  t.like(a.ended()[0]!.session, { outcome: 'counter', counterReason: 'Không có ảnh đối chiếu', reason: 'no portrait on record' });
  t.false(a.calls.includes('capture'));

  const b = kiosk(none, { ...policy, noPortrait: 'unverified' });
  b.rt.cardRead('s1', 'x');
  b.rt.consent(true);
  await settle();
  t.like(b.printed[0], { ticket: 'queue', faceVerified: false });
  t.like(b.ended()[0]!.session, { outcome: 'printed', faceVerified: false });
});

test('BHYT says expired: counter ticket with the gateway words; gateway down: a normal ticket marked unchecked', async (t) => {
  const a = kiosk({ insurance: async () => ({ kind: 'counter', code: '010', words: 'Thẻ BHYT hết hạn', reason: 'card expired' }) });
  a.rt.cardRead('s1', 'x');
  a.rt.consent(true);
  await settle();
  t.like(a.printed[0], { ticket: 'counter', counterReason: 'Thẻ BHYT hết hạn' });
  t.like(a.ended()[0]!.session, { outcome: 'counter', reason: 'BHYT 010: card expired' });

  const b = kiosk({ insurance: () => new Promise(() => {}) });
  b.rt.cardRead('s1', 'x');
  b.rt.consent(true);
  await settle();
  b.clock.increment(6000);
  await settle();
  t.deepEqual(b.aborted, ['insurance'], 'the hung lookup was aborted');
  t.like(b.printed[0], { ticket: 'queue', insurance: { kind: 'unchecked', reason: 'the BHYT gateway did not answer in time' } });
  t.is(b.ended()[0]!.session.outcome, 'printed');
});

test('a camera that hangs is aborted at its time limit and the patient gets a counter ticket', async (t) => {
  const k = kiosk({ capture: (_i, signal) => new Promise((_r, reject) => signal.addEventListener('abort', () => reject(new Error('killed')))) });
  k.rt.cardRead('s1', 'x');
  k.rt.consent(true);
  await settle();
  k.clock.increment(4000);
  await settle();
  t.true(k.aborted.includes('capture'));
  t.like(k.ended()[0]!.session, { outcome: 'device-error', ticket: 'counter', reason: 'the camera did not deliver a frame in time' });
});

test('printer failure ends as device-error; a failed number allocation (a full disk) still gives the patient a counter ticket, without a number', async (t) => {
  const a = kiosk({ print: async () => ({ ok: false, reason: 'paper out' }) });
  a.rt.cardRead('s1', 'x');
  a.rt.consent(true);
  await settle();
  t.like(a.ended()[0]!.session, { outcome: 'device-error', reason: 'printer: paper out', number: 'A001' });

  const b = kiosk({ number: async () => ({ ok: false, reason: 'database is locked' }) });
  b.rt.cardRead('s1', 'x');
  b.rt.consent(true);
  await settle();
  t.is(b.printed.length, 1);
  t.like(b.printed[0], { ticket: 'counter', number: null, counterReason: 'Máy không ghi được số thứ tự' });
  t.like(b.ended()[0]!.session, { outcome: 'counter', ticket: 'counter', number: null, printed: true, reason: 'queue number: database is locked' });

  // Already on the way to the counter (declined): that reason and outcome stay.
  const c = kiosk({ number: async () => ({ ok: false, reason: 'database or disk is full' }) });
  c.rt.cardRead('s1', 'x');
  c.rt.consent(false);
  await settle();
  t.like(c.printed[0], { ticket: 'counter', number: null, counterReason: 'Không đồng ý xác thực khuôn mặt' });
  t.like(c.ended()[0]!.session, { outcome: 'declined', printed: true });
});

test('shutdown during capture cancels at once (the capture is aborted); during print it waits for the ticket', async (t) => {
  const a = kiosk({ capture: () => new Promise(() => {}) });
  a.rt.cardRead('s1', 'x');
  a.rt.consent(true);
  await settle();
  a.rt.shutdown();
  t.is(a.rt.status().mode, 'stopping');
  t.true(a.aborted.includes('capture'));
  t.is(a.ended()[0]!.session.outcome, 'cancelled');

  const printing = deferred<{ ok: true }>();
  const b = kiosk({ print: () => printing.promise });
  b.rt.cardRead('s1', 'x');
  b.rt.consent(true);
  await settle();
  t.is(b.rt.status().step, 'print');
  b.rt.shutdown();
  b.rt.setMaintenance(true);
  t.is(b.rt.status().step, 'print', 'the ticket in progress may finish');
  t.false(b.aborted.includes('print'));
  printing.resolve({ ok: true });
  await settle();
  t.is(b.rt.status().mode, 'stopping');
  t.is(b.ended()[0]!.session.outcome, 'printed');
});

test('maintenance switched on and off again while a ticket prints: the kiosk is ready afterwards, not stuck in maintenance', async (t) => {
  const printing = deferred<{ ok: true }>();
  const k = kiosk({ print: () => printing.promise });
  k.rt.cardRead('s1', 'x');
  k.rt.consent(true);
  await settle();
  k.rt.setMaintenance(true);
  k.rt.setMaintenance(false);
  printing.resolve({ ok: true });
  await settle();
  t.like(k.ended()[0]!.session, { outcome: 'printed', printed: true });
  k.clock.increment(3000);
  t.is(k.rt.status().mode, 'idle');
});

test('department: the patient may choose within the time allowed, else the default', async (t) => {
  const p = { ...policy, departmentChoiceMs: 10_000 };
  const a = kiosk({}, p);
  a.rt.cardRead('s1', 'x');
  a.rt.consent(true);
  await settle();
  t.is(a.rt.status().step, 'department');
  a.rt.chooseDepartment('no-such');
  t.is(a.rt.status().step, 'department', 'an unknown department is ignored');
  a.rt.chooseDepartment('nhi');
  await settle();
  t.like(a.printed[0], { department: 'nhi' });

  const b = kiosk({}, p);
  b.rt.cardRead('s1', 'x');
  b.rt.consent(true);
  await settle();
  b.clock.increment(10_000);
  await settle();
  t.like(b.printed[0], { department: 'kham-benh' });
});

test('a cancel from the patient ends the session; step durations come from the injected clock', async (t) => {
  const k = kiosk({ verify: () => new Promise(() => {}) });
  k.rt.cardRead('s1', 'x');
  k.clock.increment(1200);
  k.rt.consent(true);
  await settle();
  k.clock.increment(700);
  k.rt.cancel();
  const e = k.ended()[0]!;
  t.is(e.session.outcome, 'cancelled');
  t.true(k.aborted.includes('verify'));
  t.is(e.stepsMs['consent'], 1200);
  t.is(e.stepsMs['verify'], 700);
  t.is(e.totalMs, 1900);
});

/**
 * Model-based: explores every state reachable with the events a kiosk can receive (buttons,
 * port changes, maintenance, shutdown, clock advances) and every answer each step can give,
 * and proves that every state of the machine is visited and that from each one the kiosk
 * can get back to idle (except stopping, which is final by design).
 */
test('model: every state is visited and none is a dead end', async (t) => {
  type Choice =
    { kind: 'event'; name: string; run: (k: Kiosk) => void } | { kind: 'answer'; step: string; value: unknown } | { kind: 'time'; ms: number };
  type Kiosk = ReturnType<typeof createKioskRuntime> & { clock: SimulatedClock; pending: Map<string, (v: unknown) => void> };
  const answers: Record<string, unknown[]> = {
    portrait: [{ kind: 'found' }, { kind: 'none', reason: 'none' }],
    capture: [{ ok: true }, { ok: false, reason: 'camera gone' }],
    verify: [
      { kind: 'match', score: 0.9 },
      { kind: 'mismatch', score: 0.1 },
      { kind: 'refused', reason: 'no face', noFace: true },
      { kind: 'unavailable', reason: 'engine down' },
    ],
    insurance: [
      { kind: 'proceed', code: '000', words: 'ok' },
      { kind: 'counter', code: '010', words: 'hết hạn', reason: 'expired' },
      { kind: 'unchecked', reason: 'down' },
    ],
    number: [
      { ok: true, number: 'A001' },
      { ok: false, reason: 'db' },
    ],
    print: [{ ok: true }, { ok: false, reason: 'paper out' }],
  };
  const events: Choice[] = [
    { kind: 'event', name: 'card', run: (k) => k.cardRead('s', 'x') },
    { kind: 'event', name: 'yes', run: (k) => k.consent(true) },
    { kind: 'event', name: 'no', run: (k) => k.consent(false) },
    { kind: 'event', name: 'dept', run: (k) => k.chooseDepartment('nhi') },
    { kind: 'event', name: 'cancel', run: (k) => k.cancel() },
    { kind: 'event', name: 'printer-out', run: (k) => k.portChanged('printer', { kind: 'faulted', code: 'paper-out', reason: 'paper-out' }) },
    { kind: 'event', name: 'printer-ok', run: (k) => k.portChanged('printer', ready) },
    { kind: 'event', name: 'maint-on', run: (k) => k.setMaintenance(true) },
    { kind: 'event', name: 'maint-off', run: (k) => k.setMaintenance(false) },
    { kind: 'event', name: 'shutdown', run: (k) => k.shutdown() },
    { kind: 'event', name: 'boot', run: (k) => k.bootDone() },
    { kind: 'time', ms: 60_000 },
  ];
  const build = (): Kiosk => {
    const clock = new SimulatedClock();
    const pending = new Map<string, (v: unknown) => void>();
    // A step waits for the test to answer it; leaving the step (abort) withdraws the question.
    const wait = (name: string) => (_input: unknown, signal: AbortSignal) =>
      new Promise<never>((resolve) => {
        pending.set(name, resolve as (v: unknown) => void);
        signal.addEventListener('abort', () => pending.delete(name), { once: true });
      });
    const s = Object.fromEntries(Object.keys(answers).map((n) => [n, wait(n)])) as unknown as CheckinSteps;
    const rt = createKioskRuntime({
      clock,
      ports: allReady,
      requiredPorts: ['card', 'camera', 'printer'],
      heartbeatMs: 1000,
      resultHoldMs: 3000,
      policy: { ...policy, departmentChoiceMs: 5000 },
      steps: s,
    });
    rt.start();
    return Object.assign(rt, { clock, pending });
  };
  const apply = async (k: Kiosk, c: Choice): Promise<void> => {
    if (c.kind === 'event') c.run(k);
    else if (c.kind === 'time') k.clock.increment(c.ms);
    else {
      const resolve = k.pending.get(c.step)!;
      k.pending.delete(c.step);
      resolve(c.value);
    }
    await settle();
  };
  const snapshotKey = (k: Kiosk): string => {
    const st = k.status();
    // The step (or mode) plus what decides where it can go next.
    return `${st.mode}/${st.step ?? '-'}/${st.ports.printer.kind}/${[...k.pending.keys()].join(',')}`;
  };
  const nodes = new Map<string, Choice[]>(); // key → shortest path reaching it
  const edges = new Map<string, Set<string>>();
  /** Edges a kiosk follows when nothing answers at all: only time passes (hung devices, a patient who left). */
  const unattended = new Map<string, Set<string>>();
  const frontier: Choice[][] = [[]];
  const built = build();
  nodes.set(snapshotKey(built), []);
  built.stop();
  while (frontier.length > 0) {
    const path = frontier.shift()!;
    const probe = build();
    for (const c of path) await apply(probe, c);
    const from = snapshotKey(probe);
    const options: Choice[] = [
      ...events,
      ...[...probe.pending.keys()].flatMap((step) => answers[step]!.map((value) => ({ kind: 'answer' as const, step, value }))),
    ];
    probe.stop();
    for (const c of options) {
      const k = build();
      for (const p of path) await apply(k, p);
      await apply(k, c);
      const to = snapshotKey(k);
      k.stop();
      (edges.get(from) ?? edges.set(from, new Set()).get(from)!).add(to);
      if (c.kind === 'time') (unattended.get(from) ?? unattended.set(from, new Set()).get(from)!).add(to);
      if (!nodes.has(to)) {
        nodes.set(to, [...path, c]);
        frontier.push([...path, c]);
      }
    }
  }
  const steps = new Set([...nodes.keys()].map((k) => k.split('/').slice(0, 2).join('/')));
  for (const expected of [
    'booting/-',
    'idle/-',
    'out-of-service/-',
    'maintenance/-',
    'stopping/-',
    'in-session/consent',
    'in-session/portrait',
    'in-session/capture',
    'in-session/verify',
    'in-session/retry-pause',
    'in-session/insurance',
    'in-session/department',
    'in-session/number',
    'in-session/print',
    'in-session/done',
  ]) {
    t.true(steps.has(expected), `${expected} was never reached`);
  }
  const reachIdle = (graph: Map<string, Set<string>>): Set<string> => {
    const ok = new Set([...nodes.keys()].filter((k) => k.startsWith('idle/')));
    let grew = true;
    while (grew) {
      grew = false;
      for (const [from, tos] of graph) {
        if (!ok.has(from) && [...tos].some((to) => ok.has(to))) {
          ok.add(from);
          grew = true;
        }
      }
    }
    return ok;
  };
  // Every node but stopping can reach idle.
  const canReachIdle = reachIdle(edges);
  const deadEnds = [...nodes.keys()].filter((k) => !k.startsWith('stopping/') && !canReachIdle.has(k));
  t.deepEqual(deadEnds, [], 'states from which the kiosk can never be ready again');
  // And every session ends on its own even when no device, service or person ever answers:
  // each step has a time limit (a step without one would be stuck here).
  const selfHealing = reachIdle(unattended);
  const stuck = [...nodes.keys()].filter((k) => k.startsWith('in-session/') && k.includes('/ready/') && !selfHealing.has(k));
  t.deepEqual(stuck, [], 'sessions that only a person could end');
  t.true(nodes.size > 20, `explored ${nodes.size} states`);
});
