import type { BhytClient } from '../bhyt/client.js';
import type { CheckinConfig } from '../config/schema.js';
import type { FaceEngine } from '../faceid/engine.js';
import { maskId } from '../hal/card/types.js';
import type { Camera } from '../hal/ports.js';
import type { Ticket } from '../hal/printer/ticket.js';
import type { PortraitClient } from '../identity/portrait-client.js';
import type { Logger } from '../log/logger.js';
import { PRIORITY_WORDS } from '../pipeline/priority.js';
import type { CheckinSteps, InsuranceResult, VerifyResult } from '../pipeline/steps.js';
import type { SubmitResult } from '../printing/spooler.js';
import type { QueueStore } from '../queue/store.js';
import type { Sessions } from './sessions.js';

export interface StepDeps {
  readonly sessions: Sessions;
  readonly camera: Camera;
  /** Null when face verification is off or its models did not load. */
  readonly faces: () => FaceEngine | null;
  readonly portraits: PortraitClient | null;
  readonly bhyt: BhytClient | null;
  readonly store: QueueStore;
  readonly submit: (ticket: Ticket, signal: AbortSignal) => Promise<SubmitResult>;
  readonly checkin: CheckinConfig;
  readonly wallClock: () => Date;
  /** The kiosk's configuration is at fault (e.g. the BHYT officer is not registered): staff must be told. */
  readonly alert: (code: string, message: string) => void;
  /** A number could not be recorded: look at the disk now, not at its next check (hal/storage.ts). */
  readonly writeFailed?: () => void;
  readonly log: Logger;
}

/** What the ticket says when the gateway was not asked or did not answer (domain.md §2). */
export const UNCHECKED_WORDS = 'BHYT chưa kiểm tra';

/** The check-in steps on real devices and services; the state machine sequences and times them. */
export function createCheckinSteps(d: StepDeps): CheckinSteps {
  const department = (id: string) => d.checkin.departments.find((x) => x.id === id) ?? d.checkin.departments[0]!;
  /** Gateway problems staff were alerted about; one alert per kind until the gateway answers properly again. */
  const alerted = new Set<string>();
  /** The clock was found behind numbering's day at the last allocation (alerted once per episode). */
  let clockBehind = false;

  return {
    async portrait({ sessionId }, signal) {
      const s = d.sessions.get(sessionId);
      if (!d.faces()) return { kind: 'unavailable', reason: 'face verification is not available on this kiosk' };
      // A chip reader may have handed the portrait in with the card.
      if (s.identity.portrait) {
        s.portrait = s.identity.portrait;
        return { kind: 'found' };
      }
      if (!d.portraits) return { kind: 'none', reason: 'no identity service is configured' };
      const r = await d.portraits.fetchPortrait(s.identity.idNumber, signal);
      if (r.kind !== 'found') return { kind: r.kind, reason: r.reason };
      s.portrait = r.jpeg;
      return { kind: 'found' };
    },

    async capture({ sessionId }, signal) {
      const r = await d.camera.capture(signal);
      if (!r.ok) return { ok: false, reason: r.reason };
      d.sessions.setFrame(sessionId, r.jpeg);
      return { ok: true };
    },

    async verify({ sessionId }, signal): Promise<VerifyResult> {
      const s = d.sessions.get(sessionId);
      const faces = d.faces();
      if (!faces || !s.portrait || !s.frame) return { kind: 'unavailable', reason: 'nothing to compare' };
      try {
        const v = await faces.verify(s.frame, s.portrait, signal);
        if (v.ok) {
          return v.match ? { kind: 'match', score: v.score } : { kind: 'mismatch', score: v.score };
        }
        if (v.which === 'reference')
          return { kind: 'unavailable', reason: `the reference portrait cannot be used (${v.reason === 'error' ? v.detail : v.reason})` };
        if (v.reason === 'error') return { kind: 'unavailable', reason: `face verification failed: ${v.detail}` };
        return { kind: 'refused', reason: `${v.reason}: ${v.detail}` };
      } finally {
        // The frame has served its purpose: it is wiped whatever the result.
        d.sessions.setFrame(sessionId, null);
      }
    },

    async insurance({ sessionId }, signal): Promise<InsuranceResult> {
      return lookup(d.sessions.get(sessionId).identity, signal);
    },

    async number({ sessionId, ticket, department: depId, faceVerified, insurance }) {
      const s = d.sessions.get(sessionId);
      const dep = department(depId);
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
          faceVerified,
          bhytCode: bhytCodeOf(insurance),
          bhytState: bhytState(insurance),
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
    },

    async print(input, signal) {
      const s = d.sessions.get(input.sessionId);
      const dep = department(input.department);
      const place = input.ticket === 'counter' ? d.checkin.counter : dep;
      const notes: string[] = [];
      if (input.ticket === 'counter' && input.counterReason) notes.push(`Lý do: ${input.counterReason}`);
      if (input.ticket === 'queue' && !input.faceVerified) notes.push('Chưa xác thực khuôn mặt');
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
      if (r.outcome === 'printed') {
        // The patient holds the ticket whatever the database says: an error here is logged, not reported as a failed print.
        try {
          d.store.markPrinted(input.sessionId);
        } catch (err) {
          d.log.error({ err: err instanceof Error ? err.message : String(err) }, 'a printed ticket could not be recorded');
        }
        return { ok: true };
      }
      // A void ticket is recorded from the spooler's ticket.voided event (main.ts), like a reprint.
      return { ok: false, reason: r.reason };
    },
  };

  async function lookup(identity: { idNumber: string; fullName: string; dateOfBirth: string }, signal: AbortSignal): Promise<InsuranceResult> {
    if (!d.bhyt) return { kind: 'skipped' };
    const r = await d.bhyt.lookup({ cardId: identity.idNumber, fullName: identity.fullName, dateOfBirth: identity.dateOfBirth }, signal);
    if (r.kind === 'unavailable') {
      // A redirect, an answer that is not JSON or too large: not an outage but something for
      // staff to look at (a wrong URL, a proxy). Alerted once, not at every patient.
      if (r.problem && !alerted.has(r.problem)) {
        alerted.add(r.problem);
        d.alert(`bhyt.gateway-${r.problem}`, `the BHYT gateway's answer was refused: ${r.reason}; lookups are made later`);
      }
      return { kind: 'unchecked', reason: r.reason };
    }
    alerted.clear();
    if (r.fault === 'gateway') return { kind: 'unchecked', reason: `gateway error ${r.code}: ${r.reason}` };
    if (r.fault === 'kiosk') d.alert('bhyt.kiosk-refused', `the BHYT gateway refused the kiosk's lookup (${r.code}): ${r.reason}`);
    return r.route === 'proceed'
      ? { kind: 'proceed', code: r.code, words: r.words }
      : { kind: 'counter', code: r.code, words: r.words, reason: r.reason };
  }
}

export function insuranceWords(i: InsuranceResult | null): string {
  if (!i || i.kind === 'unchecked' || i.kind === 'skipped') return UNCHECKED_WORDS;
  return i.words;
}

/** The gateway's result code, when it answered. */
export function bhytCodeOf(i: InsuranceResult | null): string | null {
  return i && 'code' in i ? i.code : null;
}

export function bhytState(i: InsuranceResult | null): 'checked' | 'unchecked' | 'skipped' | 'not-asked' {
  if (!i) return 'not-asked';
  return i.kind === 'proceed' || i.kind === 'counter' ? 'checked' : i.kind;
}
