import type { KioskContext, Patch } from './session.js';
import { counter } from './session.js';
import { COUNTER_WORDS } from './wording.js';

// Transition builders shared by several steps. Typed loosely on the event: each is used from
// onDone/onError/after handlers whose events differ, and reads only what its callback returns.
type Args = { context: KioskContext; event: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
type ReasonOf = (args: Args) => string;

/** No usable reference (or no face engine): policy says counter, or a ticket marked not face-verified. */
export function noPortrait(reason: ReasonOf) {
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

/**
 * Never a silent pass: the portrait step found the card itself in doubt (its chip refused the QR's
 * number, holds another, fails its signature checks): the counter, whatever noPortrait says.
 */
export function cardInDoubt() {
  return {
    guard: ({ event }: Args) => event.output.kind === 'counter',
    target: 'number',
    actions: { type: 'update' as const, params: ({ event }: Args): Patch => counter('counter', event.output.words, event.output.reason) },
  };
}

/** A device failed before a ticket: the patient still gets a counter ticket. */
export function deviceError(reason: ReasonOf) {
  return {
    target: 'number',
    actions: { type: 'update' as const, params: (args: Args): Patch => counter('device-error', COUNTER_WORDS.device, reason(args)) },
  };
}

/**
 * No number could be recorded (a full disk, a locked database): the patient still leaves with a
 * ticket, one for the reception counter without a number, rather than with nothing.
 */
export function unnumbered(reason: ReasonOf) {
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

/** The ticket did not print: the session ends as a device error. */
export function failed(reason: ReasonOf) {
  return {
    target: 'done',
    actions: { type: 'update' as const, params: (args: Args): Patch => ({ outcome: 'device-error', reason: reason(args) }) },
  };
}
