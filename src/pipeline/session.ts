import type { PortId, PortState, PortStates } from '../hal/ports.js';
import type { CheckinPolicy, InsuranceResult, NumberInput, Outcome, PrintInput, TicketKind } from './step-ports.js';

/** The machine's context, events and session record, and the pure helpers that change a session. */
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

/** A change to the session; id and card never change. */
export type Patch = Partial<Omit<Session, 'id' | 'card'>>;

export const patch = (context: KioskContext, p: Patch): Session | null => (context.session ? { ...context.session, ...p } : null);

/** The session a read card starts: nothing verified, nothing decided yet. */
export function newSession(id: string, card: string, policy: CheckinPolicy): Session {
  return {
    id,
    card,
    attempt: 0,
    faceVerified: false,
    score: null,
    insurance: null,
    department: policy.defaultDepartment,
    ticket: 'queue',
    counterReason: null,
    number: null,
    outcome: null,
    reason: null,
    exitTo: null,
    reported: false,
    printed: false,
  };
}

/** A counter ticket, with its printed (Vietnamese) words and the technicians' reason. */
export function counter(outcome: Outcome, words: string, reason: string): Patch {
  return { ticket: 'counter', outcome, counterReason: words, reason };
}

/** What the number step is given: the session's decisions so far, no personal data. */
export function numberInput(s: Session): NumberInput {
  return { sessionId: s.id, ticket: s.ticket, department: s.department, faceVerified: s.faceVerified, insurance: s.insurance };
}

/** What the print step is given. */
export function printInput(s: Session): PrintInput {
  return {
    sessionId: s.id,
    ticket: s.ticket,
    department: s.department,
    number: s.number,
    counterReason: s.counterReason,
    faceVerified: s.faceVerified,
    insurance: s.insurance,
  };
}
