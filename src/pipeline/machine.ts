import { assign, emit, enqueueActions, fromPromise, setup } from 'xstate';
import type { PortId, PortState, PortStates } from '../hal/ports.js';
import type {
  CaptureResult,
  CheckinPolicy,
  InsuranceResult,
  NumberInput,
  NumberResult,
  Outcome,
  PortraitResult,
  PrintInput,
  PrintResult,
  StepInput,
  TicketKind,
  VerifyResult,
} from './steps.js';

/**
 * The kiosk's modes and the check-in steps inside a session. Pure: no I/O, no timers of its
 * own. Port states and buttons arrive as events; time arrives through the clock given to
 * `createActor`; each step is an invoked promise actor (provided by the runtime) that is
 * aborted through its AbortSignal when the step is left, and every step has a time limit.
 */
export type KioskMode = 'booting' | 'idle' | 'in-session' | 'out-of-service' | 'maintenance' | 'stopping';

/** One patient's check-in. Holds only the masked card number: the identity stays with the steps. */
export interface Session {
  readonly id: string;
  readonly card: string;
  /** Capture attempts so far. */
  readonly attempt: number;
  readonly faceVerified: boolean;
  readonly score: number | null;
  readonly insurance: InsuranceResult | null;
  readonly department: string;
  readonly ticket: TicketKind;
  /** Printed on a counter ticket, in Vietnamese. */
  readonly counterReason: string | null;
  readonly number: string | null;
  readonly outcome: Outcome | null;
  /** Why, for technicians (English, no personal data). */
  readonly reason: string | null;
  /** A shutdown or maintenance that waits for the print in progress. */
  readonly exitTo: 'stopping' | 'maintenance' | null;
  /** The outcome has been announced (session.ended emitted). */
  readonly reported: boolean;
  /** A ticket (queue or counter) came out of the printer. */
  readonly printed: boolean;
}

export type KioskEvent =
  | { type: 'boot.done' }
  | { type: 'port.state'; port: PortId; state: PortState }
  /** A card was read and parsed; `card` is already masked. */
  | { type: 'card.read'; sessionId: string; card: string }
  | { type: 'consent.yes' }
  | { type: 'consent.no' }
  | { type: 'department.choose'; department: string }
  /** The patient or a front end abandons the check-in. */
  | { type: 'cancel' }
  | { type: 'maintenance.enter' }
  | { type: 'maintenance.exit' }
  /** Sent by the runtime on a timer; handling it proves the machine is not wedged. */
  | { type: 'heartbeat'; at: number }
  | { type: 'shutdown' };

/** Emitted to the runtime (actor.on): a session began or ended. */
export type KioskEmitted = { type: 'session.started'; session: Session } | { type: 'session.ended'; session: Session };

export interface KioskContext {
  readonly ports: PortStates;
  readonly requiredPorts: readonly PortId[];
  readonly lastBeat: number;
  readonly session: Session | null;
  readonly resultHoldMs: number;
  readonly policy: CheckinPolicy;
}

export interface KioskInput {
  readonly ports: PortStates;
  readonly requiredPorts: readonly PortId[];
  readonly now: number;
  /** How long a session's result is shown before the kiosk is ready for the next patient. */
  readonly resultHoldMs: number;
  readonly policy: CheckinPolicy;
}

/** A required port counts as usable when ready or degraded (e.g. paper near end still prints). */
export function requiredPortsUsable(ctx: Pick<KioskContext, 'ports' | 'requiredPorts'>): boolean {
  return ctx.requiredPorts.every((id) => {
    const k = ctx.ports[id].kind;
    return k === 'ready' || k === 'degraded';
  });
}

const notProvided = (step: string) => () => Promise.reject(new Error(`check-in step "${step}" has no implementation`));

type Patch = Partial<Omit<Session, 'id' | 'card'>>;
const patch = (context: KioskContext, p: Patch): Session | null => (context.session ? { ...context.session, ...p } : null);

/** Ticket wording for the counter, by cause. */
export const COUNTER_WORDS = {
  declined: 'Không đồng ý xác thực khuôn mặt',
  mismatch: 'Khuôn mặt không khớp với ảnh trên thẻ',
  noFace: 'Không chụp được khuôn mặt rõ',
  noPortrait: 'Không có ảnh đối chiếu',
  device: 'Thiết bị gặp sự cố',
  unnumbered: 'Máy không ghi được số thứ tự',
} as const;

export const kioskMachine = setup({
  types: {
    context: {} as KioskContext,
    events: {} as KioskEvent,
    input: {} as KioskInput,
    emitted: {} as KioskEmitted,
  },
  actors: {
    portrait: fromPromise<PortraitResult, StepInput>(notProvided('portrait')),
    capture: fromPromise<CaptureResult, StepInput & { attempt: number }>(notProvided('capture')),
    verify: fromPromise<VerifyResult, StepInput>(notProvided('verify')),
    insurance: fromPromise<InsuranceResult, StepInput>(notProvided('insurance')),
    number: fromPromise<NumberResult, NumberInput>(notProvided('number')),
    print: fromPromise<PrintResult, PrintInput>(notProvided('print')),
  },
  delays: {
    resultHold: ({ context }) => context.resultHoldMs,
    consent: ({ context }) => context.policy.consentTimeoutMs,
    retryPause: ({ context }) => context.policy.retryPauseMs,
    departmentChoice: ({ context }) => context.policy.departmentChoiceMs,
    portrait: ({ context }) => context.policy.timeouts.portraitMs,
    capture: ({ context }) => context.policy.timeouts.captureMs,
    verify: ({ context }) => context.policy.timeouts.verifyMs,
    insurance: ({ context }) => context.policy.timeouts.insuranceMs,
    number: ({ context }) => context.policy.timeouts.numberMs,
    print: ({ context }) => context.policy.timeouts.printMs,
  },
  guards: {
    portsUsable: ({ context }) => requiredPortsUsable(context),
    portsNotUsable: ({ context }) => !requiredPortsUsable(context),
    unverifiedAllowed: ({ context }) => context.policy.noPortrait === 'unverified',
    noDepartmentChoice: ({ context }) => context.policy.departmentChoiceMs === 0 || context.policy.departments.length < 2,
    knownDepartment: ({ context, event }) => event.type === 'department.choose' && context.policy.departments.includes(event.department),
    stopAfter: ({ context }) => context.session?.exitTo === 'stopping',
    maintenanceAfter: ({ context }) => context.session?.exitTo === 'maintenance',
  },
  actions: {
    recordPort: assign({
      ports: ({ context, event }) => (event.type === 'port.state' ? { ...context.ports, [event.port]: event.state } : context.ports),
    }),
    startSession: assign({
      session: ({ context, event }) =>
        event.type === 'card.read'
          ? {
              id: event.sessionId,
              card: event.card,
              attempt: 0,
              faceVerified: false,
              score: null,
              insurance: null,
              department: context.policy.defaultDepartment,
              ticket: 'queue' as const,
              counterReason: null,
              number: null,
              outcome: null,
              reason: null,
              exitTo: null,
              reported: false,
              printed: false,
            }
          : null,
    }),
    emitStarted: emit(({ context }) => ({ type: 'session.started' as const, session: context.session! })),
    /** Announces the outcome once: when the result is shown, or when the session is cut short. */
    emitEnded: enqueueActions(({ context, enqueue }) => {
      const session = context.session;
      if (!session || session.reported) return;
      // Leaving mid-step (shutdown, maintenance) means the kiosk cut it short.
      const ended: Session = session.outcome
        ? { ...session, reported: true }
        : { ...session, outcome: 'cancelled', reason: 'the kiosk stopped the check-in', reported: true };
      enqueue.emit({ type: 'session.ended', session: ended });
      enqueue.assign({ session: ended });
    }),
    endSession: assign({ session: null }),
    recordBeat: assign({
      lastBeat: ({ context, event }) => (event.type === 'heartbeat' ? event.at : context.lastBeat),
    }),
    /** Applies a change to the session (parameterised by each transition). */
    update: assign(({ context }, p: Patch) => ({ session: patch(context, p) })),
    nextAttempt: assign({ session: ({ context }) => patch(context, { attempt: (context.session?.attempt ?? 0) + 1 }) }),
    chooseDepartment: assign({
      session: ({ context, event }) => (event.type === 'department.choose' ? patch(context, { department: event.department }) : context.session),
    }),
    cancelledByPatient: assign({ session: ({ context }) => patch(context, { outcome: 'cancelled', reason: 'cancelled at the kiosk' }) }),
    stopAfterPrint: assign({ session: ({ context }) => patch(context, { exitTo: 'stopping' }) }),
    maintenanceAfterPrint: assign({ session: ({ context }) => patch(context, { exitTo: context.session?.exitTo ?? 'maintenance' }) }),
  },
}).createMachine({
  id: 'kiosk',
  initial: 'booting',
  context: ({ input }) => ({
    ports: input.ports,
    requiredPorts: input.requiredPorts,
    lastBeat: input.now,
    session: null,
    resultHoldMs: input.resultHoldMs,
    policy: input.policy,
  }),
  on: {
    'port.state': { actions: 'recordPort' },
    heartbeat: { actions: 'recordBeat' },
    shutdown: { target: '.stopping' },
  },
  states: {
    booting: {
      on: {
        'boot.done': [{ guard: 'portsUsable', target: 'idle' }, { target: 'outOfService' }],
      },
    },
    idle: {
      always: { guard: 'portsNotUsable', target: 'outOfService' },
      on: {
        'maintenance.enter': 'maintenance',
        'card.read': { target: 'inSession', actions: ['startSession', 'emitStarted'] },
      },
    },
    inSession: {
      // Port faults do not interrupt a session: the step that needs the device fails on its
      // own and the patient gets a counter ticket; idle then re-checks the ports.
      initial: 'consent',
      exit: ['emitEnded', 'endSession'],
      on: {
        shutdown: 'stopping',
        'maintenance.enter': 'maintenance',
        cancel: { target: '.done', actions: 'cancelledByPatient' },
      },
      states: {
        // Silence is not consent (Decree 13, Law 91/2025): only a yes lets the camera run.
        consent: {
          on: {
            'consent.yes': 'portrait',
            'consent.no': {
              target: 'number',
              actions: { type: 'update' as const, params: (): Patch => counter('declined', COUNTER_WORDS.declined, 'declined face verification') },
            },
          },
          after: {
            consent: {
              target: 'done',
              actions: { type: 'update' as const, params: (): Patch => ({ outcome: 'timeout', reason: 'no answer to the consent question' }) },
            },
          },
        },
        portrait: {
          invoke: {
            src: 'portrait',
            input: ({ context }) => ({ sessionId: context.session!.id }),
            onDone: [
              { guard: ({ event }) => event.output.kind === 'found', target: 'capture' },
              ...noPortrait(({ event }) => (event.output.kind === 'found' ? '' : event.output.reason)),
            ],
            onError: noPortrait(({ event }) => `portrait lookup failed: ${errorText(event.error)}`),
          },
          after: { portrait: noPortrait(() => 'the identity service did not answer in time') },
        },
        capture: {
          entry: 'nextAttempt',
          invoke: {
            src: 'capture',
            input: ({ context }) => ({ sessionId: context.session!.id, attempt: context.session!.attempt }),
            onDone: [
              { guard: ({ event }) => event.output.ok, target: 'verify' },
              deviceError(({ event }) => (event.output.ok ? '' : `camera: ${event.output.reason}`)),
            ],
            onError: deviceError(({ event }) => `camera: ${errorText(event.error)}`),
          },
          after: { capture: deviceError(() => 'the camera did not deliver a frame in time') },
        },
        verify: {
          invoke: {
            src: 'verify',
            input: ({ context }) => ({ sessionId: context.session!.id }),
            onDone: [
              {
                guard: ({ event }) => event.output.kind === 'match',
                target: 'insurance',
                actions: {
                  type: 'update' as const,
                  params: ({ event }): Patch => ({ faceVerified: true, score: scoreOf(event.output), reason: null }),
                },
              },
              {
                guard: ({ context, event }) =>
                  (event.output.kind === 'mismatch' || event.output.kind === 'refused') &&
                  (context.session?.attempt ?? 0) < context.policy.verifyAttempts,
                target: 'retryPause',
                actions: {
                  type: 'update' as const,
                  params: ({ event }): Patch => ({ score: scoreOf(event.output), reason: verifyReason(event.output) }),
                },
              },
              {
                guard: ({ event }) => event.output.kind === 'mismatch',
                target: 'number',
                actions: {
                  type: 'update' as const,
                  params: ({ event }): Patch => ({
                    ...counter('face-mismatch', COUNTER_WORDS.mismatch, verifyReason(event.output)),
                    score: scoreOf(event.output),
                  }),
                },
              },
              {
                guard: ({ event }) => event.output.kind === 'refused',
                target: 'number',
                actions: {
                  type: 'update' as const,
                  params: ({ event }): Patch => counter('no-face', COUNTER_WORDS.noFace, verifyReason(event.output)),
                },
              },
              ...noPortrait(({ event }) => verifyReason(event.output)),
            ],
            onError: deviceError(({ event }) => `face verification: ${errorText(event.error)}`),
          },
          after: { verify: deviceError(() => 'face verification did not finish in time') },
        },
        retryPause: { after: { retryPause: 'capture' } },
        insurance: {
          invoke: {
            src: 'insurance',
            input: ({ context }) => ({ sessionId: context.session!.id }),
            onDone: [
              {
                guard: ({ event }) => event.output.kind === 'counter',
                target: 'number',
                actions: {
                  type: 'update' as const,
                  params: ({ event }): Patch => ({
                    insurance: event.output,
                    ...(event.output.kind === 'counter'
                      ? counter('counter', event.output.words, `BHYT ${event.output.code}: ${event.output.reason}`)
                      : {}),
                  }),
                },
              },
              { target: 'department', actions: { type: 'update' as const, params: ({ event }): Patch => ({ insurance: event.output }) } },
            ],
            onError: {
              target: 'department',
              actions: {
                type: 'update' as const,
                params: ({ event }): Patch => ({ insurance: { kind: 'unchecked', reason: errorText(event.error) } }),
              },
            },
          },
          after: {
            insurance: {
              target: 'department',
              actions: {
                type: 'update' as const,
                params: (): Patch => ({ insurance: { kind: 'unchecked', reason: 'the BHYT gateway did not answer in time' } }),
              },
            },
          },
        },
        department: {
          always: { guard: 'noDepartmentChoice', target: 'number' },
          on: { 'department.choose': { guard: 'knownDepartment', target: 'number', actions: 'chooseDepartment' } },
          after: { departmentChoice: 'number' },
        },
        number: {
          invoke: {
            src: 'number',
            input: ({ context }) => {
              const s = context.session!;
              return { sessionId: s.id, ticket: s.ticket, department: s.department, faceVerified: s.faceVerified, insurance: s.insurance };
            },
            onDone: [
              {
                guard: ({ event }) => event.output.ok,
                target: 'print',
                actions: { type: 'update' as const, params: ({ event }): Patch => ({ number: event.output.ok ? event.output.number : null }) },
              },
              unnumbered(({ event }) => (event.output.ok ? '' : `queue number: ${event.output.reason}`)),
            ],
            onError: unnumbered(({ event }) => `queue number: ${errorText(event.error)}`),
          },
          after: { number: unnumbered(() => 'the queue number was not allocated in time') },
        },
        print: {
          // A ticket on its way out may finish: its number must not be torn off half-printed.
          on: {
            shutdown: { actions: 'stopAfterPrint' },
            'maintenance.enter': { actions: 'maintenanceAfterPrint' },
            // A technician who changes their mind before the print ends: no maintenance after all.
            'maintenance.exit': {
              actions: {
                type: 'update' as const,
                params: ({ context }): Patch => ({ exitTo: context.session?.exitTo === 'stopping' ? 'stopping' : null }),
              },
            },
            cancel: {},
          },
          invoke: {
            src: 'print',
            input: ({ context }) => {
              const s = context.session!;
              return {
                sessionId: s.id,
                ticket: s.ticket,
                department: s.department,
                number: s.number,
                counterReason: s.counterReason,
                faceVerified: s.faceVerified,
                insurance: s.insurance,
              };
            },
            onDone: [
              {
                guard: ({ event }) => event.output.ok,
                target: 'done',
                actions: {
                  type: 'update' as const,
                  params: ({ context }): Patch => ({ outcome: context.session?.outcome ?? 'printed', printed: true }),
                },
              },
              failed(({ event }) => (event.output.ok ? '' : `printer: ${event.output.reason}`)),
            ],
            onError: failed(({ event }) => `printer: ${errorText(event.error)}`),
          },
          after: { print: failed(() => 'the ticket did not print in time') },
        },
        done: {
          entry: 'emitEnded',
          always: [
            { guard: 'stopAfter', target: '#kiosk.stopping' },
            { guard: 'maintenanceAfter', target: '#kiosk.maintenance' },
          ],
          on: { cancel: {} },
          after: { resultHold: '#kiosk.idle' },
        },
      },
    },
    outOfService: {
      always: { guard: 'portsUsable', target: 'idle' },
      on: { 'maintenance.enter': 'maintenance' },
    },
    maintenance: {
      on: {
        'maintenance.exit': [{ guard: 'portsUsable', target: 'idle' }, { target: 'outOfService' }],
      },
    },
    stopping: {
      // Absorbing: nothing leaves it except the process ending. Heartbeats are still recorded
      // (root handler) so the watchdog keeps being fed while a print finishes.
      on: { shutdown: {} },
    },
  },
});

function counter(outcome: Outcome, words: string, reason: string): Patch {
  return { ticket: 'counter', outcome, counterReason: words, reason };
}

function scoreOf(v: VerifyResult): number | null {
  return v.kind === 'match' || v.kind === 'mismatch' ? v.score : null;
}

function verifyReason(v: VerifyResult): string {
  switch (v.kind) {
    case 'match':
      return 'face matched';
    case 'mismatch':
      return `face did not match the portrait (score ${v.score.toFixed(3)})`;
    case 'refused':
    case 'unavailable':
      return v.reason;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// Transition builders shared by several steps. Typed loosely on the event: each is used from
// onDone/onError/after handlers whose events differ, and reads only what its callback returns.
type Args = { context: KioskContext; event: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
type ReasonOf = (args: Args) => string;

/** No usable reference (or no face engine): policy says counter, or a ticket marked not face-verified. */
function noPortrait(reason: ReasonOf) {
  return [
    {
      guard: 'unverifiedAllowed' as const,
      target: 'insurance',
      actions: { type: 'update' as const, params: (args: Args): Patch => ({ faceVerified: false, reason: reason(args) }) },
    },
    {
      target: 'number',
      actions: { type: 'update' as const, params: (args: Args): Patch => counter('counter', COUNTER_WORDS.noPortrait, reason(args)) },
    },
  ];
}

/** A device failed before a ticket: the patient still gets a counter ticket. */
function deviceError(reason: ReasonOf) {
  return {
    target: 'number',
    actions: { type: 'update' as const, params: (args: Args): Patch => counter('device-error', COUNTER_WORDS.device, reason(args)) },
  };
}

/** No ticket can be given (numbering or printing failed): the session ends as a device error. */
/**
 * No number could be recorded (a full disk, a locked database): the patient still leaves with a
 * ticket, one for the reception counter without a number, rather than with nothing.
 */
function unnumbered(reason: ReasonOf) {
  return {
    target: 'print',
    actions: {
      type: 'update' as const,
      params: (args: Args): Patch => {
        const s = args.context.session;
        return {
          ticket: 'counter',
          number: null,
          outcome: s?.outcome ?? 'counter',
          counterReason: s?.counterReason ?? COUNTER_WORDS.unnumbered,
          reason: s?.reason ? `${s.reason}; ${reason(args)}` : reason(args),
        };
      },
    },
  };
}

function failed(reason: ReasonOf) {
  return {
    target: 'done',
    actions: { type: 'update' as const, params: (args: Args): Patch => ({ outcome: 'device-error', reason: reason(args) }) },
  };
}

const MODE_OF: Record<string, KioskMode> = {
  booting: 'booting',
  idle: 'idle',
  inSession: 'in-session',
  outOfService: 'out-of-service',
  maintenance: 'maintenance',
  stopping: 'stopping',
};

export function modeOf(value: unknown): KioskMode {
  const top = typeof value === 'string' ? value : (Object.keys(value as object)[0] ?? '');
  const mode = MODE_OF[top];
  if (!mode) throw new Error(`unknown machine state ${JSON.stringify(value)}`);
  return mode;
}

/** The check-in step, for status reports: the innermost state inside a session. */
export function stepOf(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const inner = (value as Record<string, unknown>)['inSession'];
  if (typeof inner !== 'string') return null;
  return inner.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
