import type { BhytClient } from '../bhyt/client.js';
import type { ChipCounterCode } from '../chip/card-reading.js';
import type { PortraitSource } from '../config/sections/chip.js';
import type { CheckinConfig } from '../config/schema.js';
import type { FaceEngine } from '../faceid/engine.js';
import type { Camera } from '../hal/ports.js';
import type { PortraitClient } from '../identity/portrait-client.js';
import type { Logger } from '../log/logger.js';
import { maskId } from '../log/mask.js';
import { PRIORITY_WORDS } from '../pipeline/priority.js';
import type { CheckinSteps, NumberInput, PortraitResult, PrintInput, VerifyResult } from '../pipeline/step-ports.js';
import { COUNTER_WORDS } from '../pipeline/wording.js';
import type { SubmitResult } from '../printing/spooler.js';
import type { Ticket } from '../printing/ticket/ticket.js';
import { insuranceWords, NOTES } from '../printing/ticket/wording.js';
import type { QueueStore } from '../queue/store.js';
import type { ChipReads } from './chip-reads.js';
import { createInsuranceLookup } from './insurance.js';
import type { Sessions } from './sessions.js';

export interface StepDeps {
  readonly sessions: Sessions;
  readonly camera: Camera;
  /** Null when face verification is off or its models did not load. */
  readonly faces: () => Pick<FaceEngine, 'verify'> | null;
  readonly portraits: PortraitClient | null;
  /** The chip reads; null or absent when chip.enabled is false. */
  readonly chip?: ChipReads | null;
  /** Where the reference portrait comes from, in order (chip.portraitSources); chip, then identity by default. */
  readonly portraitSources?: readonly PortraitSource[];
  readonly bhyt: BhytClient | null;
  readonly store: Pick<QueueStore, 'allocate'>;
  /** The spooler's submit: it records the ticket's fate (journal, audit, events) itself. */
  readonly submit: (ticket: Ticket, signal: AbortSignal) => Promise<SubmitResult>;
  readonly checkin: CheckinConfig;
  readonly wallClock: () => Date;
  /** The kiosk's configuration is at fault (e.g. the BHYT officer is not registered): staff must be told. */
  readonly alert: (code: string, message: string) => void;
  /** A number could not be recorded: look at the disk now, not at its next check (hal/storage.ts). */
  readonly writeFailed?: () => void;
  readonly log: Logger;
}

/** The check-in steps on real devices and services (the machine's step ports); the state machine sequences and times them. */
export function createCheckinSteps(d: StepDeps): CheckinSteps {
  const lookup = createInsuranceLookup(d);
  return {
    ...faceSteps(d),
    insurance: ({ sessionId }, signal) => lookup(d.sessions.get(sessionId).identity, signal),
    number: numberStep(d),
    print: printStep(d),
  };
}

const departmentOf = (d: StepDeps, id: string) => d.checkin.departments.find((x) => x.id === id) ?? d.checkin.departments[0]!;

/** The reference portrait, the camera frame, and the comparison of the two. */
function faceSteps(d: StepDeps): Pick<CheckinSteps, 'portrait' | 'capture' | 'verify'> {
  return {
    async portrait({ sessionId }, signal) {
      const s = d.sessions.get(sessionId);
      if (!d.faces()) return { kind: 'unavailable', reason: 'face verification is not available on this kiosk' };
      // The patient said yes: the camera starts now if it did not at the card (hal.camera.warmUp).
      d.camera.prepare(s.ended);
      // A chip reader may have handed the portrait in with the card.
      if (s.identity.portrait) {
        s.portrait = s.identity.portrait;
        return { kind: 'found' };
      }
      // The sources in the configured order; after the last, the machine applies checkin.noPortrait.
      const missed: string[] = [];
      let kind: 'none' | 'unavailable' = 'none';
      for (const source of d.portraitSources ?? DEFAULT_SOURCES) {
        if (source === 'chip' && !d.chip) continue; // chip reading is off: not a source at all
        const r = source === 'chip' ? await chipPortrait(d, sessionId, signal) : await identityPortrait(d, sessionId, signal);
        if (r.kind === 'found' || r.kind === 'counter') return r;
        missed.push(`${source}: ${r.reason}`);
        kind = r.kind;
      }
      return { kind, reason: missed.join('; ') || 'no portrait source is configured' };
    },

    async capture({ sessionId }, signal) {
      const r = await d.camera.capture(signal);
      if (!r.ok) return { ok: false, reason: r.reason };
      d.sessions.setFrames(sessionId, r.frames);
      return { ok: true };
    },

    async verify({ sessionId }, signal): Promise<VerifyResult> {
      const s = d.sessions.get(sessionId);
      const faces = d.faces();
      if (!faces || !s.portrait || !s.frames) return { kind: 'unavailable', reason: 'nothing to compare' };
      try {
        const v = await faces.verify(s.frames, s.portrait, signal);
        if (v.ok) {
          return v.match ? { kind: 'match', score: v.score } : { kind: 'mismatch', score: v.score };
        }
        if (v.which === 'reference')
          return { kind: 'unavailable', reason: `the reference portrait cannot be used (${v.reason === 'error' ? v.detail : v.reason})` };
        if (v.reason === 'error') return { kind: 'unavailable', reason: `face verification failed: ${v.detail}` };
        return { kind: 'refused', reason: `${v.reason}: ${v.detail}` };
      } finally {
        // The burst has served its purpose: it is wiped whatever the result.
        d.sessions.setFrames(sessionId, null);
      }
    },
  };
}

const DEFAULT_SOURCES: readonly PortraitSource[] = ['chip', 'identity'];

/** The Vietnamese words of the counter ticket for a card in doubt. */
const CHIP_WORDS: Readonly<Record<ChipCounterCode, string>> = {
  'wrong-can': COUNTER_WORDS.chipWrongCard,
  'number-mismatch': COUNTER_WORDS.chipNumberMismatch,
  'pa-failed': COUNTER_WORDS.chipNotAuthentic,
  'card-removed': COUNTER_WORDS.chipRemoved,
};

/** The chip's DG2, when the read gave one; a card in doubt sends the patient to the counter. */
async function chipPortrait(d: StepDeps, sessionId: string, signal: AbortSignal): Promise<PortraitResult> {
  const r = await d.chip!.reading(sessionId, signal);
  const o = r.outcome;
  if (o.kind === 'counter') return { kind: 'counter', words: CHIP_WORDS[o.code], reason: `chip ${o.code}: ${o.reason}` };
  if (o.kind === 'fallback') return { kind: 'unavailable', reason: `${o.code}: ${o.reason}` };
  const jpeg = r.takePortrait();
  r.wipe();
  if (!jpeg) return { kind: 'unavailable', reason: 'the chip portrait was already used' };
  const s = d.sessions.get(sessionId);
  s.portrait = jpeg;
  if (s.chip?.audit) s.chip.audit = { ...s.chip.audit, reference: true };
  return { kind: 'found' };
}

async function identityPortrait(d: StepDeps, sessionId: string, signal: AbortSignal): Promise<PortraitResult> {
  if (!d.portraits) return { kind: 'none', reason: 'no identity service is configured' };
  const s = d.sessions.get(sessionId);
  const r = await d.portraits.fetchPortrait(s.identity.idNumber, signal);
  if (r.kind !== 'found') return { kind: r.kind, reason: r.reason };
  s.portrait = r.jpeg;
  return { kind: 'found' };
}

/** A queue number in the ticket's lane; the check-in's outcome facts are recorded when it ends (store.finish). */
function numberStep(d: StepDeps): CheckinSteps['number'] {
  /** The clock was found behind numbering's day at the last allocation (alerted once per episode). */
  let clockBehind = false;
  return async ({ sessionId, ticket, department: depId }: NumberInput) => {
    const s = d.sessions.get(sessionId);
    const dep = departmentOf(d, depId);
    try {
      const r = d.store.allocate({
        checkinId: sessionId,
        lane: { prefix: ticket === 'counter' ? d.checkin.counter.prefix : dep.prefix, priority: s.priority !== null },
        department: ticket === 'counter' ? 'counter' : dep.id,
        ticket,
        card: maskId(s.identity.idNumber),
        startedAt: s.startedAt,
        at: d.wallClock(),
        priority: s.priority,
      });
      if (r.steppedBack && !clockBehind) {
        d.log.warn({ clock_day: r.steppedBack.clockDay, numbering_day: r.day }, 'the clock stepped back: numbers carry on in the later day');
        d.alert(
          'clock.stepped-back',
          `the clock (${r.steppedBack.clockDay}) went back behind the queue numbering's day (${r.day}): numbers carry on without a reset until the clock catches up; check the time source`,
        );
      }
      clockBehind = r.steppedBack !== null;
      return { ok: true, number: r.number };
    } catch (err) {
      d.log.error({ err: err instanceof Error ? err.message : String(err) }, 'queue number allocation failed');
      d.writeFailed?.();
      return { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
  };
}

/** The ticket, handed to the spooler, which records its fate (printed, held, void) itself. */
function printStep(d: StepDeps): CheckinSteps['print'] {
  return async (input: PrintInput, signal) => {
    const s = d.sessions.get(input.sessionId);
    const place = input.ticket === 'counter' ? d.checkin.counter : departmentOf(d, input.department);
    const notes: string[] = [];
    if (input.ticket === 'counter' && input.counterReason) notes.push(NOTES.counterReason(input.counterReason));
    if (input.ticket === 'queue' && !input.faceVerified) notes.push(NOTES.faceNotVerified);
    const ticket: Ticket = {
      ticketId: input.sessionId,
      // No number could be recorded: the counter ticket says so (the reason is in the notes).
      number: input.number ?? '—',
      department: place.name,
      room: place.room,
      priority: s.priority ? PRIORITY_WORDS[s.priority] : null,
      issuedAt: d.wallClock(),
      insurance: insuranceWords(input.insurance),
      patientName: s.identity.fullName,
      idLast4: s.identity.idNumber.slice(-4),
      notes,
    };
    const r = await d.submit(ticket, signal);
    return r.outcome === 'printed' ? { ok: true } : { ok: false, reason: r.reason };
  };
}
