/**
 * What the check-in machine asks the outside world to do, one call per step. The machine
 * only sequences them; the daemon hands in implementations backed by devices and services
 * (src/checkin/device-steps.ts).
 * Every call takes an AbortSignal: leaving a step (timeout, cancel, shutdown) aborts it.
 * Personal data never passes through here: a step gets the session id and looks the
 * identity up in the session store that its implementation owns.
 */

/** How a check-in ended. */
export type Outcome =
  /** A queue ticket printed for the chosen department. */
  | 'printed'
  /** Routed to the reception counter (insurance problem, no portrait by policy …); a counter ticket printed. */
  | 'counter'
  /** The patient declined face verification; a counter ticket printed, no image taken. */
  | 'declined'
  | 'face-mismatch'
  | 'no-face'
  /** The patient did not answer in time (walked away). */
  | 'timeout'
  /** A device or service failed so that no proper ticket could be given. */
  | 'device-error'
  /** Stopped by the kiosk (shutdown, maintenance) before it finished. */
  | 'cancelled';

export const OUTCOMES: readonly Outcome[] = ['printed', 'counter', 'declined', 'face-mismatch', 'no-face', 'timeout', 'device-error', 'cancelled'];

export type TicketKind = 'queue' | 'counter';

export interface StepInput {
  readonly sessionId: string;
}

export type PortraitResult =
  | { readonly kind: 'found' }
  | { readonly kind: 'none' | 'unavailable'; readonly reason: string }
  /**
   * The card itself is in doubt (its chip refused the QR's number, holds another number, fails its
   * signature checks, or was pulled away): the counter, whatever `noPortrait` says. `words` are printed.
   */
  | { readonly kind: 'counter'; readonly words: string; readonly reason: string };

export type CaptureResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export type VerifyResult =
  | { readonly kind: 'match'; readonly score: number }
  | { readonly kind: 'mismatch'; readonly score: number }
  /** The frame could not be used (no face, too small, blurry …): the patient may try again. */
  | { readonly kind: 'refused'; readonly reason: string }
  /** The reference portrait is unusable, or the face engine is down: verification cannot happen. */
  | { readonly kind: 'unavailable'; readonly reason: string };

export type InsuranceResult =
  | { readonly kind: 'proceed'; readonly code: string; readonly words: string }
  | { readonly kind: 'counter'; readonly code: string; readonly words: string; readonly reason: string }
  /** The gateway could not be asked: the ticket says so and the lookup is retried later. */
  | { readonly kind: 'unchecked'; readonly reason: string }
  /** No BHYT gateway configured. */
  | { readonly kind: 'skipped' };

export interface NumberInput extends StepInput {
  readonly ticket: TicketKind;
  readonly department: string;
  /** Recorded with the number, in the same transaction. */
  readonly faceVerified: boolean;
  readonly insurance: InsuranceResult | null;
}

export type NumberResult = { readonly ok: true; readonly number: string } | { readonly ok: false; readonly reason: string };

export interface PrintInput extends StepInput {
  readonly ticket: TicketKind;
  readonly department: string;
  /** null: no number could be recorded; a counter ticket without one. */
  readonly number: string | null;
  /** Why the patient goes to the counter, in Vietnamese, printed on the ticket. */
  readonly counterReason: string | null;
  readonly faceVerified: boolean;
  readonly insurance: InsuranceResult | null;
}

export type PrintResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface CheckinSteps {
  portrait(input: StepInput, signal: AbortSignal): Promise<PortraitResult>;
  capture(input: StepInput & { readonly attempt: number }, signal: AbortSignal): Promise<CaptureResult>;
  verify(input: StepInput, signal: AbortSignal): Promise<VerifyResult>;
  insurance(input: StepInput, signal: AbortSignal): Promise<InsuranceResult>;
  number(input: NumberInput, signal: AbortSignal): Promise<NumberResult>;
  print(input: PrintInput, signal: AbortSignal): Promise<PrintResult>;
}

/** The session's check-in policy and time limits (from config). */
export interface CheckinPolicy {
  readonly consentTimeoutMs: number;
  /** Attempts at a usable, matching face before the patient is sent to the counter. */
  readonly verifyAttempts: number;
  /** Pause between attempts, so the patient can move. */
  readonly retryPauseMs: number;
  /** No reference portrait (or no face engine): send to the counter, or print a ticket marked "not face-verified". */
  readonly noPortrait: 'counter' | 'unverified';
  readonly departments: readonly string[];
  readonly defaultDepartment: string;
  /** How long the patient may take to pick a department (0: the default at once). */
  readonly departmentChoiceMs: number;
  readonly timeouts: {
    readonly portraitMs: number;
    readonly captureMs: number;
    readonly verifyMs: number;
    readonly insuranceMs: number;
    readonly numberMs: number;
    readonly printMs: number;
  };
}
