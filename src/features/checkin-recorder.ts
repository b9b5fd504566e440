/**
 * Where a check-in's outcome is written down: the audit row (begun at the start, finished at
 * the end), the deferred BHYT lookup, the `checkin.*` events and one log line. The machine's
 * session is the only source of these facts.
 */
import { bhytCodeOf, bhytState } from '../checkin/insurance.js';
import type { Sessions } from '../checkin/sessions.js';
import type { Logger } from '../log/logger.js';
import type { KioskPublisher } from '../mqtt/publisher.js';
import type { Session } from '../pipeline/session.js';
import type { KioskRuntime, SessionReport } from '../pipeline/runtime.js';
import type { QueueStore } from '../queue/store.js';
import type { Feature } from '../daemon/feature.js';
import { guarded } from './guard.js';

export interface CheckinRecorderDeps {
  readonly runtime: Pick<KioskRuntime, 'onSession'>;
  readonly sessions: Pick<Sessions, 'get' | 'drop'>;
  readonly store: Pick<QueueStore, 'begin' | 'finish' | 'queueLookup'>;
  readonly publish: KioskPublisher;
  readonly wallClock: () => Date;
  readonly log: Logger;
}

/** The department a check-in is recorded under: a counter ticket is the counter's. */
const departmentOf = (s: Session) => (s.ticket === 'counter' ? 'counter' : s.department);

export function checkinRecorder(d: CheckinRecorderDeps): Feature {
  let unsubscribe = () => {};
  const started = (s: Session): void => {
    const data = d.sessions.get(s.id);
    // The audit row exists from the first moment: a check-in killed before numbering is still recorded (completed by store.finish).
    guarded(d.log, 'the check-in could not be recorded', () => d.store.begin({ checkinId: s.id, card: s.card, startedAt: data.startedAt }));
    d.publish.event('checkin.started', { session_id: s.id, card: s.card, priority: data.priority !== null });
  };
  const ended = (r: Extract<SessionReport, { type: 'ended' }>): void => {
    const s = r.session;
    const data = d.sessions.get(s.id);
    const stepsMs = Object.fromEntries(Object.entries(r.stepsMs).map(([k, v]) => [k, Math.round(v)]));
    const bhytCode = bhytCodeOf(s.insurance);
    try {
      d.store.finish({
        checkinId: s.id,
        card: s.card,
        startedAt: data.startedAt,
        endedAt: d.wallClock(),
        outcome: s.outcome!,
        reason: s.reason,
        department: departmentOf(s),
        ticket: s.ticket,
        faceVerified: s.faceVerified,
        faceScore: s.score,
        bhytCode,
        bhytState: bhytState(s.insurance),
        stepsMs,
        totalMs: r.totalMs,
        chip: data.chip?.audit ?? null,
      });
      // Only a patient who holds a ticket needs the lookup made later; the queue row is the
      // only personal data on disk and goes once the gateway has answered.
      if (s.number !== null && s.insurance?.kind === 'unchecked') {
        const { idNumber, fullName, dateOfBirth } = data.identity;
        d.store.queueLookup(s.id, { cardId: idNumber, fullName, dateOfBirth }, d.wallClock());
      }
    } catch (err) {
      d.log.error({ err: err instanceof Error ? err.message : String(err), session: s.id }, 'the check-in could not be recorded');
    }
    d.publish.event(s.outcome === 'printed' ? 'checkin.completed' : 'checkin.failed', {
      session_id: s.id,
      outcome: s.outcome!,
      reason: s.reason,
      ticket: s.number === null && !s.printed ? null : s.ticket,
      number: s.number,
      ticket_printed: s.printed,
      department: departmentOf(s),
      face_verified: s.faceVerified,
      attempts: s.attempt,
      bhyt_code: bhytCode,
      bhyt: bhytState(s.insurance),
      steps_ms: stepsMs,
      total_ms: Math.round(r.totalMs),
    });
    // steps_ms as text: the logger redacts any key named "portrait", and one step is called that.
    const line = { session: s.id, card: s.card, outcome: s.outcome, reason: s.reason, number: s.number };
    d.log.info({ ...line, steps_ms: JSON.stringify(stepsMs), total_ms: Math.round(r.totalMs) }, `check-in ${s.outcome}`);
    d.sessions.drop(s.id);
  };
  return {
    name: 'checkin-recorder',
    start() {
      unsubscribe = d.runtime.onSession((r) => (r.type === 'started' ? started(r.session) : ended(r)));
    },
    stop: () => unsubscribe(),
  };
}
