import type { KioskMode } from '../pipeline/machine.js';
import type { Outcome } from '../pipeline/steps.js';
import type { Leds, PortId, PortState } from '../hal/ports.js';

/**
 * The MQTT contract: every topic a kiosk publishes and the payload it carries. Publishing goes
 * through these types only. No payload may carry personal data (names, ID numbers, dates of
 * birth, images): only device health, states and anonymous counters. Field names are
 * snake_case JSON; changes are additive, a breaking change bumps `schema` in info.
 */
export type Availability = 'online' | 'stopped' | 'offline';

export interface InfoPayload {
  readonly schema: 1;
  readonly version: string;
  readonly hal_mode: 'real' | 'sim';
  readonly drivers: Readonly<Record<string, string>>;
  readonly mqtt_protocol: 4 | 5;
  readonly started_at: string;
  /** The face engine as loaded at boot: null while loading or when disabled. */
  readonly faceid?: FaceIdInfo | null;
  /** Starts since the machine booted, this one excluded (crash restarts show here). */
  readonly restarts_since_boot?: number;
}

export interface FaceIdInfo {
  readonly backend: string;
  readonly recognizer: string;
  readonly model_sha256: string;
  readonly threshold: number;
  readonly target_far: number;
  readonly load_ms: number;
  readonly warmup_ms: number;
}

export interface StatePayload {
  readonly mode: KioskMode;
  readonly step: string | null;
  readonly session_id: string | null;
  readonly ports: Readonly<Record<PortId, PortState>>;
  readonly leds?: Leds;
  readonly since: string;
}

export interface HealthPayload {
  readonly uptime_s: number;
  readonly rss_mb: number;
  readonly heap_used_mb: number;
  readonly loop_lag_p99_ms: number;
  /** tf.memory().numTensors of the face engine; null while no engine is loaded. */
  readonly tensors: number | null;
  /** Times the face worker was restarted (call timeout, tensor leak, crash). */
  readonly faceid_restarts?: number;
  /** Queue tickets printed since the day's numbering reset. */
  readonly checkins_today?: number;
  readonly mqtt: { readonly queued: number; readonly dropped: number };
  readonly liveness: { readonly ok: boolean; readonly reason: string | null };
  /**
   * When these figures were taken (ISO 8601 UTC, the daemon's wall clock). A health taken during
   * a broker outage is sent on reconnect before the events queued meanwhile: a monitor counts only
   * events after this time on top of `checkins_today`, and knows a retained value from yesterday.
   */
  readonly ts: string;
}

/** Retained topics: the latest value is what a monitor needs, and it is republished on every connect. */
export interface RetainedTopics {
  readonly status: Availability;
  readonly info: InfoPayload;
  readonly state: StatePayload;
  readonly health: HealthPayload;
}

export interface AlertPayload {
  readonly level: 'warning' | 'error' | 'critical';
  readonly code: string;
  readonly message: string;
  readonly port?: PortId;
  readonly count?: number;
}

/** Non-retained events, under kiosk/<id>/event/<kind>. Each carries an id and expires. */
export interface EventTopics {
  readonly alert: AlertPayload;
  readonly lifecycle: { readonly phase: 'started' | 'stopping'; readonly reason?: string };
  /** A card was read and parsed. `card` is masked to its last 4 digits; no other card data. */
  readonly 'card.read': {
    readonly card: string;
    readonly form: string;
    readonly repairs: readonly string[];
    /** The session it started, or null when the kiosk was not idle (out of service, busy …). */
    readonly session_id: string | null;
    readonly mode: KioskMode;
  };
  /** A scan that is not a valid CCCD, with the reason; only sizes and the last 4 digits. */
  readonly 'card.rejected': {
    readonly code: string;
    readonly message: string;
    readonly bytes: number;
    readonly fields: number;
    readonly card_last4: string | null;
  };
  /** A card started a check-in. Only the masked card number. */
  readonly 'checkin.started': { readonly session_id: string; readonly card: string; readonly priority: boolean };
  /** A queue ticket printed for the department: the patient is checked in. */
  readonly 'checkin.completed': CheckinEndEvent;
  /** Any other end (counter, declined, mismatch, no face, timeout, device error, cancelled). */
  readonly 'checkin.failed': CheckinEndEvent;
  /** A BHYT lookup that could not be made at check-in was made later. */
  readonly 'checkin.reconciled': {
    readonly session_id: string;
    readonly number: string | null;
    readonly bhyt_code: string;
    readonly route: 'proceed' | 'counter';
    readonly reason: string;
  };
  /** The patient pressed the help button. */
  readonly 'help.requested': { readonly mode: KioskMode; readonly step: string | null; readonly session_id: string | null };
  /** The printer took the whole ticket and still had paper afterwards. */
  readonly 'ticket.printed': TicketEvent & { readonly bytes: number; readonly ms: number; readonly reprint: boolean };
  /** It did not: the number is held for a reprint when the printer recovers. */
  readonly 'ticket.failed': TicketEvent & { readonly reason: string };
  /** A held ticket was printed after the printer recovered. */
  readonly 'ticket.reprinted': TicketEvent & { readonly held_s: number };
  /** A held ticket was not reprinted in time (or the daemon stopped): the number is void. */
  readonly 'ticket.voided': TicketEvent & { readonly reason: string };
}

export interface CheckinEndEvent {
  readonly session_id: string;
  readonly outcome: Outcome;
  /** For technicians, no personal data. */
  readonly reason: string | null;
  readonly ticket: 'queue' | 'counter' | null;
  readonly number: string | null;
  /** The ticket came out of the printer (false: it is held for a reprint, or none was given). */
  readonly ticket_printed: boolean;
  readonly department: string;
  readonly face_verified: boolean;
  readonly attempts: number;
  readonly bhyt_code: string | null;
  readonly bhyt: 'checked' | 'unchecked' | 'skipped' | 'not-asked';
  /** Milliseconds per step (summed over attempts), and in all. */
  readonly steps_ms: Readonly<Record<string, number>>;
  readonly total_ms: number;
}

/** A queue ticket's life: no personal data, only the ticket id, its number and department. */
export interface TicketEvent {
  readonly ticket_id: string;
  readonly number: string;
  readonly department: string;
}

export interface EventEnvelope<T> {
  readonly id: string;
  readonly ts: string;
  readonly data: T;
}

export interface CommandResponse {
  readonly transaction: string | number | null;
  readonly status: 'ok' | 'error';
  readonly data?: unknown;
  readonly error?: string;
}

export interface KioskTopicNames {
  readonly base: string;
  retained(kind: keyof RetainedTopics): string;
  event(kind: keyof EventTopics): string;
  readonly commandFilter: string;
  /** The command name if `topic` is a command for this kiosk, else null. */
  commandName(topic: string): string | null;
  response(command: string): string;
}

export function kioskTopics(prefix: string, deviceId: string): KioskTopicNames {
  for (const [what, level] of [
    ['prefix', prefix],
    ['device id', deviceId],
  ] as const) {
    if (level === '' || /[+#/]/.test(level)) throw new Error(`MQTT ${what} "${level}" must be one non-empty topic level without + # /`);
  }
  const base = `${prefix}/${deviceId}`;
  const cmdPrefix = `${base}/cmd/`;
  return {
    base,
    retained: (kind) => `${base}/${kind}`,
    event: (kind) => `${base}/event/${kind}`,
    commandFilter: `${cmdPrefix}+`,
    commandName: (topic) => {
      if (!topic.startsWith(cmdPrefix)) return null;
      const name = topic.slice(cmdPrefix.length);
      return name === '' || name.includes('/') ? null : name;
    },
    response: (command) => `${cmdPrefix}${command}/response`,
  };
}
