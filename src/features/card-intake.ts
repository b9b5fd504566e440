/**
 * Where a scanned card and a pressed button enter the check-in. A scan opens a session: the
 * identity stays in memory in the session store for this check-in, and only the masked number
 * leaves (log, `card.read`). The patient's consent comes only from the kiosk's own buttons.
 */
import { randomUUID } from 'node:crypto';
import type { Sessions } from '../checkin/sessions.js';
import type { ScanResult } from '../hal/card/types.js';
import { maskId } from '../log/mask.js';
import type { ButtonId, CardReader, Indicators } from '../hal/ports.js';
import type { Logger } from '../log/logger.js';
import type { KioskPublisher } from '../mqtt/publisher.js';
import { priorityOf } from '../pipeline/priority.js';
import type { KioskRuntime } from '../pipeline/runtime.js';
import type { Clock } from '../util/clock.js';
import { rateGate } from '../util/rate-gate.js';
import type { Feature } from '../daemon/feature.js';

export interface CardIntakeDeps {
  readonly card: Pick<CardReader, 'onScan'>;
  readonly indicators: Pick<Indicators, 'onButton'>;
  readonly runtime: Pick<KioskRuntime, 'status' | 'cardRead' | 'consent'>;
  readonly sessions: Pick<Sessions, 'open' | 'drop'>;
  readonly publish: Pick<KioskPublisher, 'event'>;
  readonly clock: Clock;
  readonly wallClock: () => Date;
  /** The hospital's calendar date: a patient's age (priority lane) is counted on it. */
  readonly today: () => { year: number; month: number; day: number };
  readonly log: Logger;
  readonly buttonLog: Logger;
  /** Starts the camera for a new check-in (hal.camera.warmUp: card-read), so its exposure settles during the consent question; null: not at the card. */
  readonly warmCamera: ((checkinEnded: AbortSignal) => void) | null;
  /** Starts the check-in's chip read (chip.enabled), so the patient can place the card while asked for consent; absent or null: off. */
  readonly startChipRead?: ((sessionId: string) => void) | null;
  /** Stops the check-in's chip read when the patient answers no: the portrait is not read without consent to the face check. */
  readonly cancelChipRead?: ((sessionId: string) => void) | null;
}

export function cardIntake(d: CardIntakeDeps): Feature {
  const unsubscribe: Array<() => void> = [];
  // A scanner streaming garbage makes thousands of rejections a second: every one is handled,
  // at most 20 a minute are logged and published, the rest are counted once a minute.
  let rejections: ReturnType<typeof rateGate> | null = null;
  const suppressed = (n: number): void => {
    d.log.warn({ suppressed: n }, `${n} more scans rejected in the last minute (not logged one by one)`);
    const message = `${n} more scans were rejected in the last minute than were reported one by one: is something wrong with the scanner?`;
    d.publish.event('alert', { level: 'warning', code: 'card.rejected_flood', message, port: 'card', count: n });
  };
  const rejected = (scan: Extract<ScanResult, { kind: 'rejected' }>): void => {
    if (!rejections?.allow()) return;
    const { rejection: r, summary } = scan;
    d.log.info(
      { code: r.code, bytes: summary.bytes, fields: summary.fields, card: summary.idLast4 ? `********${summary.idLast4}` : null },
      `scan rejected: ${r.message}`,
    );
    d.publish.event('card.rejected', { code: r.code, message: r.message, bytes: summary.bytes, fields: summary.fields, card_last4: summary.idLast4 });
  };
  const scanned = (scan: ScanResult): boolean | void => {
    if (scan.kind === 'rejected') return rejected(scan);
    const card = maskId(scan.identity.idNumber);
    const mode = d.runtime.status().mode;
    const sessionId = randomUUID();
    const session = d.sessions.open(sessionId, scan.identity, d.wallClock(), priorityOf(scan.identity.dateOfBirth, d.today()));
    const started = d.runtime.cardRead(sessionId, card);
    if (!started) d.sessions.drop(sessionId);
    else {
      d.warmCamera?.(session.ended);
      d.startChipRead?.(sessionId);
    }
    const { form, repairs } = scan.identity;
    d.log.info(
      { card, form, repairs, session: started ? sessionId : null },
      started ? 'card read; session started' : `card read while ${mode}; ignored`,
    );
    d.publish.event('card.read', { card, form, repairs, session_id: started ? sessionId : null, mode });
    return started;
  };
  const pressed = (button: ButtonId): void => {
    const st = d.runtime.status();
    d.buttonLog.info({ button, mode: st.mode, step: st.step }, 'button pressed');
    if (button === 'help') d.publish.event('help.requested', { mode: st.mode, step: st.step, session_id: st.sessionId });
    else if (st.step === 'consent') {
      const yes = button === 'consent-yes';
      if (!yes && st.sessionId) d.cancelChipRead?.(st.sessionId);
      d.runtime.consent(yes);
    }
  };
  return {
    name: 'card-intake',
    start() {
      rejections = rateGate(d.clock, 20, 60_000, suppressed);
      unsubscribe.push(d.indicators.onButton(pressed), d.card.onScan(scanned));
    },
    stop() {
      for (const u of unsubscribe.splice(0)) u();
      rejections?.stop();
    },
  };
}
