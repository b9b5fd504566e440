/**
 * The chip read of each check-in (src/chip/card-reading.ts on the kiosk's reader): started when the
 * card is scanned (card-intake) or, at the latest, when the portrait is needed; bound to the
 * check-in's `ended` signal, which also wipes what it holds. Its progress and outcome go to MQTT
 * (`chip.*`, masked), the log and, for a card in doubt, an alert; its facts to the audit row.
 */
import { ALERTING_CODES, readCard, type ChipOutcome, type ChipReading } from '../chip/card-reading.js';
import type { ChipConfig } from '../config/schema.js';
import type { AnyChipReader } from '../hal/ports.js';
import type { Logger } from '../log/logger.js';
import type { KioskPublisher } from '../mqtt/publisher.js';
import type { Clock } from '../util/clock.js';
import type { Sessions } from './sessions.js';

export interface ChipReadsDeps {
  readonly reader: AnyChipReader;
  readonly config: Pick<ChipConfig, 'placeTimeoutMs' | 'readTimeoutMs' | 'retries'>;
  /** CSCA certificates (DER), loaded at start from chip.trustAnchorsDir. */
  readonly anchors: readonly Uint8Array[];
  readonly sessions: Pick<Sessions, 'get'>;
  /** Real time: a device's waits do not jump with hw-sim's clock. */
  readonly clock: Clock;
  readonly publish: Pick<KioskPublisher, 'event'>;
  readonly log: Logger;
  /** The read itself; tests hand in a fake. */
  readonly read?: typeof readCard;
}

export interface ChipReads {
  /** Starts the check-in's read unless it has started (the card was just scanned: the patient may place it while asked for consent). */
  start(sessionId: string): void;
  /** The check-in's reading, starting it if need be; rejects only when `signal` aborts first. */
  reading(sessionId: string, signal: AbortSignal): Promise<ChipReading>;
  /** The patient declined the face check: a read started at the scan stops now and wipes what it holds. */
  cancel(sessionId: string): void;
}

/** What the audit row keeps of a chip read: no content of any group. */
export function chipAudit(o: ChipOutcome): Record<string, unknown> {
  const steps: Record<string, number> = {};
  for (const t of o.timings) steps[t.step] = (steps[t.step] ?? 0) + Math.round(t.ms);
  return {
    outcome: o.kind,
    code: o.kind === 'read' ? null : o.code,
    protocol: o.protocol,
    pa: o.pa,
    groups: o.groups,
    attempts: o.attempts,
    apdus: o.apdus,
    ms: Math.round(o.ms),
    steps_ms: steps,
    reference: false,
  };
}

export function createChipReads(d: ChipReadsDeps): ChipReads {
  const read = d.read ?? readCard;

  const report = (sessionId: string, o: ChipOutcome): void => {
    const facts = { session: sessionId, protocol: o.protocol, pa: o.pa, groups: o.groups.join(','), ms: Math.round(o.ms), apdus: o.apdus };
    if (o.kind === 'read') {
      d.log.info({ ...facts, attempts: o.attempts, pa_detail: o.paDetail }, `chip read (${o.protocol}, pa ${o.pa})`);
      d.publish.event('chip.read', {
        session_id: sessionId,
        protocol: o.protocol,
        pa: o.pa === 'failed' || o.pa === null ? 'unverified' : o.pa,
        groups: [...o.groups],
        ms: Math.round(o.ms),
        apdus: o.apdus,
        attempts: o.attempts,
      });
      return;
    }
    if (o.code === 'cancelled') {
      d.log.debug({ session: sessionId }, o.reason);
      return;
    }
    const counter = o.kind === 'counter';
    d.log[counter ? 'warn' : 'info']({ ...facts, code: o.code, notes: o.notes.join('; ') || undefined }, `chip: ${o.reason}`);
    d.publish.event('chip.failed', { session_id: sessionId, code: o.code, reason: o.reason, counter, pa: o.pa });
    if (counter && ALERTING_CODES.has(o.code)) {
      const what = o.code === 'pa-failed' ? 'a card whose chip fails its signature checks' : "a card whose chip holds another number than its QR's";
      d.publish.event('alert', {
        level: 'error',
        code: `chip.${o.code}`,
        message: `${what} was presented; the patient was sent to the counter: ${o.reason}`,
      });
    }
  };

  /** Reads started and not yet ended, by check-in: what `cancel` stops. */
  const running = new Map<string, AbortController>();

  const start = (sessionId: string): Promise<ChipReading> => {
    const s = d.sessions.get(sessionId);
    if (s.chip) return s.chip.reading;
    const stop = new AbortController();
    running.set(sessionId, stop);
    const reading = read(
      {
        reader: d.reader,
        card: { idNumber: s.identity.idNumber },
        clock: d.clock,
        signal: AbortSignal.any([s.ended, stop.signal]),
        onProgress: (p) => d.publish.event('chip.progress', { session_id: sessionId, step: p.step, attempt: p.attempt }),
      },
      { ...d.config, anchors: d.anchors },
    ).then((r) => {
      running.delete(sessionId);
      if (s.chip) s.chip.audit = chipAudit(r.outcome);
      report(sessionId, r.outcome);
      return r;
    });
    s.chip = { reading, audit: null };
    return reading;
  };

  return {
    start(sessionId) {
      // Called from the scan handler: a failure here must not reach it (the portrait step tries again).
      const failed = (e: unknown): void =>
        d.log.error({ session: sessionId, err: e instanceof Error ? e.message : String(e) }, 'the chip read failed');
      try {
        start(sessionId).catch(failed);
      } catch (e) {
        failed(e);
      }
    },
    cancel(sessionId) {
      running.get(sessionId)?.abort(new Error('the patient declined the face check'));
    },
    reading(sessionId, signal) {
      const reading = start(sessionId);
      return new Promise<ChipReading>((resolve, reject) => {
        const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('the portrait step was left'));
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        reading.then(
          (r) => {
            signal.removeEventListener('abort', onAbort);
            resolve(r);
          },
          (e: unknown) => {
            signal.removeEventListener('abort', onAbort);
            reject(e instanceof Error ? e : new Error(String(e)));
          },
        );
      });
    },
  };
}
