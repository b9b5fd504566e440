import { assign, emit, enqueueActions, fromPromise, setup } from 'xstate';
import type {
  CaptureResult,
  InsuranceResult,
  NumberInput,
  NumberResult,
  PortraitResult,
  PrintInput,
  PrintResult,
  StepInput,
  VerifyResult,
} from './step-ports.js';
import {
  counter,
  newSession,
  numberInput,
  patch,
  printInput,
  type KioskContext,
  type KioskEmitted,
  type KioskEvent,
  type KioskInput,
  type Patch,
  type Session,
} from './session.js';
import { delays, guards } from './guards.js';
import { cardInDoubt, deviceError, failed, noPortrait, unnumbered } from './transitions.js';
import { COUNTER_WORDS, errorText, scoreOf, verifyReason } from './wording.js';

// The machine's vocabulary, for its users (runtime, reporting): one import for the machine and its types.
export type { KioskContext, KioskEmitted, KioskEvent, KioskInput, KioskMode, Session } from './session.js';
export { requiredPortsUsable } from './session.js';
export { COUNTER_WORDS } from './wording.js';
export { modeOf, stepOf } from './state-names.js';

const notProvided = (step: string) => () => Promise.reject(new Error(`check-in step "${step}" has no implementation`));

/**
 * The kiosk's modes and the check-in steps inside a session. Pure: no I/O, no timers of its
 * own. Port states and buttons arrive as events; time arrives through the clock given to
 * `createActor`; each step is an invoked promise actor (provided by the runtime) that is
 * aborted through its AbortSignal when the step is left, and every step has a time limit.
 */
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
  delays,
  guards,
  actions: {
    recordPort: assign({
      ports: ({ context, event }) => (event.type === 'port.state' ? { ...context.ports, [event.port]: event.state } : context.ports),
    }),
    startSession: assign({
      session: ({ context, event }) => (event.type === 'card.read' ? newSession(event.sessionId, event.card, context.policy) : null),
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
              cardInDoubt(),
              ...noPortrait(({ event }) => (event.output.kind === 'found' || event.output.kind === 'counter' ? '' : event.output.reason)),
            ],
            onError: noPortrait(({ event }) => `portrait lookup failed: ${errorText(event.error)}`),
          },
          after: { portrait: noPortrait(() => 'no reference portrait in time (chip reader or identity service)') },
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
            input: ({ context }) => numberInput(context.session!),
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
            input: ({ context }) => printInput(context.session!),
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
