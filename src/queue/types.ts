import type { Outcome, TicketKind } from '../pipeline/step-ports.js';

export interface Lane {
  readonly prefix: string;
  readonly priority: boolean;
}

/**
 * A number for a check-in: the lane and what the number is for. The check-in's outcome facts
 * (face verified, BHYT) are recorded once, by `finish`.
 */
export interface AllocateRequest {
  readonly checkinId: string;
  readonly lane: Lane;
  readonly department: string;
  readonly ticket: TicketKind;
  /** Masked ("********0001"). */
  readonly card: string;
  readonly startedAt: Date;
  readonly at: Date;
  readonly priority: string | null;
}

export interface Allocation {
  readonly number: string;
  readonly seq: number;
  readonly day: string;
  /** The clock's own day is before the day numbering used (the clock went back). */
  readonly steppedBack: { readonly clockDay: string } | null;
}

export type BhytState = 'checked' | 'unchecked' | 'reconciled' | 'skipped' | 'not-asked';

/** How a check-in ended. `interrupted`: the kiosk stopped (crash, kill -9, power) before it did. */
export type RecordedOutcome = Outcome | 'interrupted';

/**
 * What became of a queue number: `allocated` (on its way to the printer), `printed`, `void`
 * (known not to have printed: could not be encoded, held and not reprinted in time) or `unknown`
 * (the kiosk died while it was allocated: it may or may not be on paper).
 */
export type TicketState = 'allocated' | 'printed' | 'void' | 'unknown';

export interface CheckinRecord {
  readonly checkinId: string;
  readonly card: string;
  readonly startedAt: Date;
  readonly endedAt: Date;
  readonly outcome: Outcome;
  readonly reason: string | null;
  readonly department: string;
  readonly ticket: TicketKind;
  readonly faceVerified: boolean;
  readonly faceScore: number | null;
  readonly bhytCode: string | null;
  readonly bhytState: BhytState;
  readonly stepsMs: Readonly<Record<string, number>>;
  readonly totalMs: number;
  /** The chip read's facts (protocol, pa, timings per step), stored as JSON; never personal data. */
  readonly chip?: Readonly<Record<string, unknown>> | null;
}

/** What the start-up sweep found of a run that ended without finishing its work. */
export interface CrashSettlement {
  /** Numbers allocated and not known to have printed: now `unknown`. */
  readonly unknown: Array<{ checkinId: string; number: string; department: string }>;
  /** Check-ins begun and never completed: now outcome `interrupted`. */
  readonly interrupted: number;
}

/** The clock against what the database has seen. */
export interface ClockCheck {
  /** The business day of `now` on the clock. */
  readonly clockDay: string;
  /** The highest business day numbering has used (null on a new database). */
  readonly highDay: string | null;
  /** The newest check-in record's start (null when there is none). */
  readonly newest: Date | null;
  /** The clock is behind what numbering has already used: a business day before `highDay`, or well before the newest record. */
  readonly steppedBack: boolean;
  /** Hours the clock is past the newest record, when that is more than `MAX_PLAUSIBLE_GAP_HOURS` (null otherwise). */
  readonly implausibleAheadHours: number | null;
}

export interface PendingLookup {
  readonly checkinId: string;
  readonly cardId: string;
  readonly fullName: string;
  readonly dateOfBirth: string;
  readonly number: string | null;
  readonly attempts: number;
}

export interface PurgeResult {
  readonly checkins: number;
  readonly lookups: number;
  /** Set when the clock was too far ahead to delete records on: how far, and the newest record. */
  readonly refused: { readonly aheadHours: number; readonly newest: Date } | null;
}

export interface QueueStoreOptions {
  readonly path: string;
  readonly timeZone: string;
  /** "HH:MM" local time at which every sequence starts again at 1. */
  readonly resetAt: string;
  readonly digits: number;
  /** Appended to the department prefix for the priority lane ("A" → "AU"). */
  readonly priorityMark: string;
}
