/**
 * What `kioskd monitor` knows about each kiosk, folded from MQTT messages by a reducer:
 * `reduceFleet(fleet, message, now)` never throws, whatever arrives, and depends on nothing but
 * its arguments. It updates `fleet` in place and returns it (a copy of the whole map per message
 * would cost O(kiosks) each, quadratic over a big fleet's retained burst): the caller owns one
 * fleet and keeps no earlier value of it; `copyFleet` makes one to branch from.
 * `now` is wall-clock milliseconds (the caller's clock), so tests drive time by hand.
 *
 * Trust: everything here is what some client published under `<prefix>/<id>/…`, and MQTT does
 * not say who. On a broker without the kioskd ACL (broker/mosquitto/kioskd.acl: a kiosk's user
 * name is its device id and it may write only its own topics; a monitor may only read) any
 * client can publish, and retain, a made-up kiosk id or a real kiosk's `state` ("idle, paper
 * ok" for a kiosk that is out of paper): the monitor cannot tell, and shows it. Nothing the
 * monitor does makes retained values trustworthy; only the broker ACL does.
 *
 * The kiosk cap: at most `maxKiosks` ids are tracked (memory). Past it, an id first heard live
 * (a message the broker forwarded as it was published, not a retained replay) evicts the oldest
 * kiosk known only from retained replay; an id known only from retained replay is turned away.
 * A kiosk that has been heard live is never evicted. What the cap turned away is counted
 * (`kioskLimit`), and the monitor shows it, so a full cap is never silent. So a real kiosk whose
 * retained values are replayed after the ghosts have filled the cap shows at its next live
 * message (health, every `mqtt.healthIntervalSec`: 30 s by default). Without the ACL this only
 * limits the damage: a client that publishes made-up ids live, while the monitor runs, fills
 * the cap with kiosks "heard live", and then every newcomer is turned away (counted).
 */
import { describePortState } from '../hal/ports.js';
import { parseKioskTopic, type Availability, type StatePayload } from '../mqtt/topics.js';
import { admit, capLimit, copyCapBook, newCapBook, type CapBook, type KioskLimit } from './kiosk-cap.js';
import { eventFacts, healthFacts, infoFacts, isErrorAlert, parseJson, readStatus, stateFacts } from './payloads.js';

export type { KioskLimit } from './kiosk-cap.js';
/** A port's state as a kiosk reports it. */
type PortState = StatePayload['ports']['printer'];

export type Paper = 'ok' | 'low' | 'out' | 'unknown';
/** `stale`: says online, but nothing has been heard from it for too long. */
export type RowStatus = Availability | 'stale' | 'unknown';

export interface FleetMessage {
  readonly topic: string;
  readonly payload: Uint8Array | string;
  /** True for a retained value the broker replayed on subscribe: old news, not a sign of life. */
  readonly retain: boolean;
}

interface KioskFacts {
  readonly id: string;
  readonly status: Availability | null;
  /** When something was last heard from the kiosk itself (wall ms). */
  readonly lastSeen: number | null;
  readonly version: string | null;
  readonly state: { readonly mode: string; readonly step: string | null; readonly printer: PortState | null } | null;
  /** The last health's count and when the kiosk took it (its `ts`; the arrival time if it has none). */
  readonly health: { readonly checkinsToday: number | null; readonly at: number } | null;
  /** When the last live health arrived, and the last few gaps between them (its publish interval). */
  readonly healthAt: number | null;
  readonly healthGaps: readonly number[];
  /** Times of errors (alerts error/critical, failed tickets) seen within the last hour, oldest first. */
  readonly errors: readonly number[];
  /** checkin.completed counted per local day: the count when no health of today has one. */
  readonly completed: { readonly day: number; readonly count: number };
  /**
   * The kiosk's times of the checkin.completed later than the last health's (all, before any
   * health): the health's count already has the earlier ones, which a reconnect replays after it.
   */
  readonly afterHealth: readonly number[];
  /** Ids of recent events: QoS 1 may deliver one twice. */
  readonly recentIds: readonly string[];
  /** Heard live (a message not replayed from the broker's retained store): the cap never evicts it. */
  readonly live: boolean;
  /** Which of the cap's ghost queue entries is this kiosk's (see kiosk-cap.ts). */
  readonly seq: number;
}

export interface Fleet {
  readonly prefix: string;
  /** Written by `reduceFleet` only. */
  readonly kiosks: Map<string, KioskFacts>;
  /** The kiosk cap's bookkeeping; written by `reduceFleet` only. */
  readonly cap: CapBook;
}

export interface KioskRow {
  readonly kiosk: string;
  readonly status: RowStatus;
  readonly mode: string | null;
  readonly step: string | null;
  /** Wall ms, null when never heard live. */
  readonly lastSeen: number | null;
  readonly paper: Paper;
  /** The printer port as the kiosk reports it ("ready", "faulted(paper-out)" …), null if unknown. */
  readonly printer: string | null;
  readonly errors1h: number;
  readonly checkinsToday: number;
  readonly version: string | null;
}

const HOUR_MS = 3600_000;
const DEFAULT_STALE_MS = 90_000;
/** Floor for stale detection: a very short health interval must not flap on jitter. */
const MIN_STALE_MS = 10_000;
const MAX_ERRORS = 1000;
const MAX_RECENT_IDS = 64;
/** More check-ins between two health reports than any kiosk can do; only a health-less kiosk reaches it. */
const MAX_AFTER_HEALTH = 1000;
const HEALTH_GAPS_KEPT = 3;
/**
 * A flood of made-up kiosk ids must not eat the monitor's memory; no real broker has this many.
 * What happens at the cap: see the top of this file.
 */
export const MAX_KIOSKS = 10_000;

/**
 * `maxKiosks`: the kiosk cap; `maxIgnoredIds`: how many turned-away ids are told apart (past
 * that the count is a lower bound). Both default to `MAX_KIOSKS`; tests use small ones.
 */
export function emptyFleet(prefix = 'kiosk', opts: { readonly maxKiosks?: number; readonly maxIgnoredIds?: number } = {}): Fleet {
  const max = Math.max(1, Math.floor(opts.maxKiosks ?? MAX_KIOSKS));
  const maxIgnored = Math.max(1, Math.floor(opts.maxIgnoredIds ?? MAX_KIOSKS));
  return { prefix, kiosks: new Map(), cap: newCapBook(max, maxIgnored) };
}

/** An independent fleet with the same facts (they are immutable: the map and the cap's books are all there is to copy). */
export function copyFleet(fleet: Fleet): Fleet {
  return { prefix: fleet.prefix, kiosks: new Map(fleet.kiosks), cap: copyCapBook(fleet.cap) };
}

/** What the cap has turned away, or null while it has turned nothing away. */
export function kioskLimit(fleet: Fleet): KioskLimit | null {
  return capLimit(fleet.cap, fleet.kiosks.size);
}

/** Folds one message into `fleet`, in place, and returns it (see the top of this file). */
export function reduceFleet(fleet: Fleet, msg: FleetMessage, now: number): Fleet {
  const route = routeOf(fleet.prefix, msg.topic);
  if (!route) return fleet;
  const text = typeof msg.payload === 'string' ? msg.payload : Buffer.from(msg.payload).toString('utf8');
  const before = fleet.kiosks.get(route.id);
  if (!route.kind.startsWith('event/') && route.kind !== 'response' && text === '') {
    // An empty retained payload deletes the value (a decommissioned kiosk being cleaned up).
    if (!before) return fleet;
    const after = clearRetained(before, route.kind);
    if (after.status === null && after.version === null && after.state === null && after.health === null) fleet.kiosks.delete(route.id);
    else fleet.kiosks.set(route.id, after);
    return fleet;
  }
  let k = before ?? admit(fleet.cap, fleet.kiosks, route.id, msg.retain, (seq) => newKiosk(route.id, seq));
  if (!k) return fleet;
  if (!msg.retain && !k.live) k = { ...k, live: true };
  fleet.kiosks.set(route.id, apply(seen(k, route.kind, text, msg.retain, now), route.kind, text, msg.retain, now));
  return fleet;
}

/** The rows as they stand at `now`, sorted by kiosk id. */
export function fleetRows(fleet: Fleet, now: number): KioskRow[] {
  return [...fleet.kiosks.keys()].sort().map((id) => kioskRow(fleet, id, now)!);
}

export function kioskRow(fleet: Fleet, id: string, now: number): KioskRow | null {
  const k = fleet.kiosks.get(id);
  if (!k) return null;
  const printer = k.state?.printer ?? null;
  return {
    kiosk: k.id,
    status: statusAt(k, now),
    mode: k.state?.mode ?? null,
    step: k.state?.step ?? null,
    lastSeen: k.lastSeen,
    paper: paperOf(printer),
    printer: printer ? describePortState(printer) : null,
    errors1h: k.errors.filter((t) => t > now - HOUR_MS).length,
    checkinsToday: checkinsAt(k, now),
    version: k.version,
  };
}

/** What a printer port state says about the paper; only the paper sensor's reasons count. */
export function paperOf(s: PortState | null): Paper {
  if (!s) return 'unknown';
  if (s.kind === 'ready') return 'ok';
  // The machine-readable code where the kiosk sends one; older kiosks put it in the reason.
  if (s.kind === 'degraded' && (s.code ?? s.reason) === 'paper-near-end') return 'low';
  if (s.kind === 'faulted' && (s.code ?? s.reason) === 'paper-out') return 'out';
  return 'unknown';
}

type Kind = 'status' | 'info' | 'state' | 'health' | 'response' | `event/${string}`;

/** `<prefix>/<id>/<what the kiosk publishes>`; commands sent *to* kiosks and unknown topics are not ours. */
function routeOf(prefix: string, topic: string): { id: string; kind: Kind } | null {
  const t = parseKioskTopic(prefix, topic);
  if (!t || t.kind === 'command') return null;
  return { id: t.kiosk, kind: t.kind === 'event' ? `event/${t.event}` : t.kind };
}

function newKiosk(id: string, seq: number): KioskFacts {
  return {
    id,
    status: null,
    lastSeen: null,
    version: null,
    state: null,
    health: null,
    healthAt: null,
    healthGaps: [],
    errors: [],
    completed: { day: 0, count: 0 },
    afterHealth: [],
    recentIds: [],
    live: false,
    seq,
  };
}

function clearRetained(k: KioskFacts, kind: Kind): KioskFacts {
  switch (kind) {
    case 'status':
      return { ...k, status: null };
    case 'info':
      return { ...k, version: null };
    case 'state':
      return { ...k, state: null };
    default:
      return { ...k, health: null };
  }
}

/**
 * Last seen moves on live messages from the kiosk. A replayed retained "online" counts too (the
 * broker holds the kiosk's session, or its will would have replaced it); a live "offline" is
 * that will, sent by the broker, so it does not.
 */
function seen(k: KioskFacts, kind: Kind, text: string, retain: boolean, now: number): KioskFacts {
  if (kind === 'status') {
    const s = readStatus(text);
    if (retain ? s !== 'online' : s === 'offline') return k;
  } else if (retain) return k;
  return { ...k, lastSeen: now };
}

function apply(k: KioskFacts, kind: Kind, text: string, retain: boolean, now: number): KioskFacts {
  if (kind === 'status') {
    const s = readStatus(text);
    return s ? { ...k, status: s } : k;
  }
  if (kind === 'response') return k;
  const json = parseJson(text);
  if (kind === 'info') {
    const info = infoFacts.safeParse(json).data;
    return info ? { ...k, version: info.version } : k;
  }
  if (kind === 'state') {
    const s = stateFacts.safeParse(json).data;
    return s ? { ...k, state: { mode: s.mode, step: s.step, printer: s.ports?.printer ?? null } } : k;
  }
  if (kind === 'health') return healthOf(k, json, retain, now);
  return eventOf(k, kind.slice('event/'.length), json, now);
}

function healthOf(k: KioskFacts, json: unknown, retain: boolean, now: number): KioskFacts {
  const h = healthFacts.safeParse(json).data;
  if (!h) return k;
  const health = { checkinsToday: h.checkins_today, at: h.ts ?? now };
  const afterHealth = k.afterHealth.filter((t) => t > health.at);
  if (retain) return { ...k, health, afterHealth };
  const gap = k.healthAt === null ? null : now - k.healthAt;
  // The largest recent gap is the interval: a reconnect replays health early, shortening one gap.
  const healthGaps = gap !== null && gap > 0 ? [...k.healthGaps, gap].slice(-HEALTH_GAPS_KEPT) : k.healthGaps;
  return { ...k, health, healthAt: now, healthGaps, afterHealth };
}

function eventOf(k: KioskFacts, kind: string, json: unknown, now: number): KioskFacts {
  const envelope = eventFacts.safeParse(json).data;
  if (!envelope) return k;
  const { id, data } = envelope;
  if (id !== null) {
    if (k.recentIds.includes(id)) return k;
    k = { ...k, recentIds: [...k.recentIds, id].slice(-MAX_RECENT_IDS) };
  }
  // The kiosk's own timestamp (a replay after an outage is old), never later than now.
  const ts = envelope.ts ?? now;
  const at = Math.min(ts, now);
  const isError = (kind === 'alert' && isErrorAlert(data)) || kind === 'ticket.failed';
  if (isError && at > now - HOUR_MS) {
    const errors = [...k.errors.filter((t) => t > now - HOUR_MS), at].sort((a, b) => a - b).slice(-MAX_ERRORS);
    return { ...k, errors };
  }
  if (kind === 'checkin.completed') {
    const day = dayOf(at);
    if (day < k.completed.day) return k;
    const completed = day === k.completed.day ? { day, count: k.completed.count + 1 } : { day, count: 1 };
    // Compared on the kiosk's own clock, as the health's ts is: a replayed one older than the health is in its count.
    const afterHealth = k.health && ts <= k.health.at ? k.afterHealth : [...k.afterHealth, ts].slice(-MAX_AFTER_HEALTH);
    return { ...k, completed, afterHealth };
  }
  return k;
}

function statusAt(k: KioskFacts, now: number): RowStatus {
  if (k.status !== 'online') return k.status ?? 'unknown';
  if (k.lastSeen !== null && now - k.lastSeen > staleAfterMs(k)) return 'stale';
  return 'online';
}

/** Three health intervals once they have been observed, else 90 s. */
export function staleAfterMs(k: Pick<KioskFacts, 'healthGaps'>): number {
  return k.healthGaps.length === 0 ? DEFAULT_STALE_MS : Math.max(MIN_STALE_MS, 3 * Math.max(...k.healthGaps));
}

/**
 * The kiosk's own count when its health was taken today, plus the tickets after it; else (no
 * count, or a retained health from another day) the tickets seen since local midnight.
 */
function checkinsAt(k: KioskFacts, now: number): number {
  const today = dayOf(now);
  const h = k.health;
  if (h && h.checkinsToday !== null && dayOf(Math.min(h.at, now)) === today) {
    return h.checkinsToday + k.afterHealth.filter((t) => t > h.at && dayOf(Math.min(t, now)) === today).length;
  }
  return k.completed.day === today ? k.completed.count : 0;
}

/** Local midnight (the monitor's time zone) as wall ms: the key of a day. */
function dayOf(ms: number): number {
  return new Date(ms).setHours(0, 0, 0, 0);
}
