import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { maskId } from '../log/mask.js';
import type { Clock } from '../util/clock.js';
import { cardOf, gatewayBirthDate, type BhytCard } from './answer.js';
import { createBreaker, type Breaker, type BreakerState } from './breaker.js';
import { NOT_CHECKED_WORDS, routeOf, type BhytFault } from './codes.js';
import { abortError, codeOf, createGatewayPost, parseJson, Problem, Unavailable, type GatewayPost, type GatewayProblem } from './http.js';
import { createTokenKeeper, TokenRefused, type TokenKeeper } from './token.js';

export type { BhytCard } from './answer.js';
export type { GatewayProblem } from './http.js';

/**
 * Client for the VSS gateway card check (`KQNhanLichSuKCB2024`). It hides the token dance,
 * bounds every request in time, and turns every way the gateway can fail into one
 * 'unavailable' answer, so the check-in never hangs on it and a downed gateway trips a
 * circuit breaker instead of costing each patient a timeout.
 *
 * Privacy: names, card numbers, dates of birth, the token and the password never reach a
 * log line or a `reason`; logs carry the card's last 4 characters, the code and the time.
 *
 * Every request carries personal data (the lookup: the patient's ID number, name and birth
 * date and the officer's CCCD; the token request: the account and its password hash), so:
 * redirects are never followed (a 3xx is a gateway error: the data would go to wherever the
 * Location says); an answer is read only if it says it is JSON, and only up to
 * MAX_ANSWER_BYTES, counted as it streams in (a Content-Length is not trusted). These three
 * are `problem`s in the result: logged once per kind until the gateway answers properly again.
 */

export interface BhytQuery {
  /** BHYT card code (15 characters) or the 12-digit CCCD number, which the gateway also takes. */
  readonly cardId: string;
  readonly fullName: string;
  /** ISO `YYYY-MM-DD`, or `YYYY` when only the birth year is known. */
  readonly dateOfBirth: string;
}

export type BhytLookup =
  | {
      readonly kind: 'checked';
      readonly code: string;
      readonly route: 'proceed' | 'counter';
      readonly words: string;
      readonly reason: string;
      readonly fault?: BhytFault;
      readonly ms: number;
      readonly card: BhytCard;
    }
  | { readonly kind: 'unavailable'; readonly reason: string; readonly ms: number; readonly problem?: GatewayProblem };

export interface BhytClient {
  /**
   * Checks one card. Resolves 'checked' whenever the gateway gave a result code and
   * 'unavailable' whenever it could not be asked. Rejects only when `signal` is aborted,
   * with an AbortError (the signal's own reason if that is one), so a cancelled check-in
   * is not mistaken for a gateway outage; a cancel does not count against the gateway.
   */
  lookup(q: BhytQuery, signal: AbortSignal): Promise<BhytLookup>;
  /** Takes a fresh token and nothing else (`kioskd selftest`): no card leaves the kiosk. */
  login(
    signal: AbortSignal,
  ): Promise<{ readonly ok: true; readonly ms: number } | { readonly ok: false; readonly reason: string; readonly ms: number }>;
  breakerState(): BreakerState;
}

export interface BhytClientOptions {
  readonly url: string;
  readonly username: string;
  /** Plain text; the gateway is sent its MD5. */
  readonly password: string;
  /** Clients disagree on the hex case the gateway wants; lower-case works on egw. */
  readonly passwordHash?: 'md5-lower' | 'md5-upper';
  /** hoTenCb / cccdCb: the registered staff member the kiosk looks cards up as. */
  readonly officerName: string;
  readonly officerId: string;
  /** Per HTTP request (token and lookup each). */
  readonly timeoutMs: number;
  readonly breaker: { readonly failures: number; readonly openSec: number };
  readonly clock: Clock;
  /** For token expiry given as a wall-clock time (the live gateway does this). */
  readonly wallClock: () => Date;
  readonly log: Logger;
  readonly fetch?: typeof fetch;
}

const LOOKUP_PATH = '/api/egw/KQNhanLichSuKCB2024';
/** Lookup codes that mean "your token is no good": take a new one and retry once. */
const TOKEN_CODES: ReadonlySet<string> = new Set(['401', '501', '999']);

type LoginResult = { ok: true; ms: number } | { ok: false; reason: string; ms: number };

export function createBhytClient(opts: BhytClientOptions): BhytClient {
  const base = opts.url.replace(/\/+$/, '');
  const md5 = createHash('md5').update(opts.password, 'utf8').digest('hex');
  const passwordHash = opts.passwordHash === 'md5-upper' ? md5.toUpperCase() : md5;
  const { clock, log } = opts;
  const breaker = createBreaker({ failures: opts.breaker.failures, openMs: opts.breaker.openSec * 1000, clock });
  const post = createGatewayPost({ fetch: opts.fetch ?? fetch, base, timeoutMs: opts.timeoutMs, clock });
  const tokens = createTokenKeeper({ post, base, username: opts.username, passwordHash, clock, wallClock: opts.wallClock, log });
  const gateway: Gateway = { post, tokens, base, username: opts.username, passwordHash, officerName: opts.officerName, officerId: opts.officerId };
  /** Problems already logged at error level; cleared when the gateway answers properly again. */
  const reported = new Set<GatewayProblem>();

  async function lookup(q: BhytQuery, signal: AbortSignal): Promise<BhytLookup> {
    if (signal.aborted) throw abortError(signal);
    const started = clock.now();
    const ms = (): number => Math.round(clock.now() - started);
    const card = maskId(q.cardId);
    const ngaySinh = gatewayBirthDate(q.dateOfBirth);
    if (ngaySinh === null) {
      // Our caller's bug, not the gateway's: no breaker count.
      log.warn({ card }, 'BHYT lookup skipped: date of birth is neither YYYY-MM-DD nor YYYY');
      return { kind: 'unavailable', reason: 'date of birth is neither YYYY-MM-DD nor YYYY', ms: 0 };
    }
    const admission = breaker.admit();
    if (!admission.ok) {
      log.debug({ card, reason: admission.reason }, 'BHYT lookup not tried');
      return { kind: 'unavailable', reason: admission.reason, ms: 0 };
    }
    try {
      const { code, json } = await ask(gateway, q, ngaySinh, signal);
      breaker.success();
      reported.clear();
      const r = routeOf(code);
      const result: BhytLookup = {
        kind: 'checked',
        code,
        route: r.route,
        words: r.words,
        reason: r.reason,
        ...(r.fault ? { fault: r.fault } : {}),
        ms: ms(),
        card: cardOf(code, json),
      };
      if (r.fault) log.warn({ card, code, fault: r.fault, reason: r.reason, ms: result.ms }, 'BHYT lookup: not the patient’s problem');
      else log.info({ card, code, route: r.route, ms: result.ms }, 'BHYT lookup');
      return result;
    } catch (e) {
      if (signal.aborted && !(e instanceof TokenRefused)) {
        breaker.release(admission.probe);
        throw abortError(signal);
      }
      return failedLookup(e, { card, ms: ms(), breaker, reported, log });
    }
  }

  async function login(signal: AbortSignal): Promise<LoginResult> {
    const started = clock.now();
    const ms = (): number => Math.round(clock.now() - started);
    tokens.forget();
    try {
      await tokens.current(signal);
      return { ok: true, ms: ms() };
    } catch (e) {
      if (signal.aborted) throw abortError(signal);
      if (e instanceof TokenRefused) return { ok: false, reason: `token request refused: ${routeOf(e.code).reason}`, ms: ms() };
      return { ok: false, reason: reasonOf(e), ms: ms() };
    }
  }

  return { lookup, login, breakerState: breaker.state };
}

interface Gateway {
  readonly post: GatewayPost;
  readonly tokens: TokenKeeper;
  readonly base: string;
  readonly username: string;
  readonly passwordHash: string;
  readonly officerName: string;
  readonly officerId: string;
}

/** Asks the gateway; returns its parsed answer and code, retrying once with a new token. */
async function ask(g: Gateway, q: BhytQuery, ngaySinh: string, signal: AbortSignal): Promise<{ code: string; json: unknown }> {
  const body = JSON.stringify({
    maThe: q.cardId.trim().toUpperCase(),
    hoTen: q.fullName.normalize('NFC').trim(),
    ngaySinh,
    hoTenCb: g.officerName,
    cccdCb: g.officerId,
  });
  for (let attempt = 0; ; attempt++) {
    const t = await g.tokens.current(signal);
    const qs = new URLSearchParams({ token: t.access, id_token: t.id, username: g.username, password: g.passwordHash });
    const reply = await g.post(`${g.base}${LOOKUP_PATH}?${qs}`, { headers: { 'content-type': 'application/json' }, body }, signal);
    const retry = attempt === 0;
    if (reply.status === 401 || reply.status === 403) {
      g.tokens.drop(t);
      if (retry) continue;
      throw new Unavailable(`gateway refused a fresh token (HTTP ${reply.status})`);
    }
    if (reply.status >= 500) throw new Unavailable(`gateway answered HTTP ${reply.status}`);
    // Other 4xx answers may still carry a result code (some clients read it from error bodies).
    const json = parseJson(reply, 'lookup');
    const code = codeOf(json);
    if (code === null) throw new Unavailable(`gateway answer without maKetQua (HTTP ${reply.status})`);
    if (TOKEN_CODES.has(code) && retry) {
      g.tokens.drop(t);
      continue;
    }
    return { code, json };
  }
}

/** Anything unexpected is reported by its class only: its message could quote data. */
function reasonOf(e: unknown): string {
  return e instanceof Unavailable ? e.message : `unexpected ${e instanceof Error ? e.name : typeof e} in the BHYT client`;
}

/** A lookup that did not get a result code: a refused token (checked, to the counter) or the gateway unavailable. */
function failedLookup(
  e: unknown,
  c: { readonly card: string; readonly ms: number; readonly breaker: Breaker; readonly reported: Set<GatewayProblem>; readonly log: Logger },
): BhytLookup {
  const { card, ms, breaker, reported, log } = c;
  if (e instanceof TokenRefused) {
    // Wrong credentials (or a broken gateway) are never the patient's problem.
    breaker.success();
    const r = routeOf(e.code);
    const reason = `token request refused: ${r.reason}`;
    const fault = r.fault ?? 'gateway';
    log.warn({ card, code: e.code, fault, reason, ms }, 'BHYT lookup: not the patient’s problem');
    return {
      kind: 'checked',
      code: e.code,
      route: 'counter',
      words: NOT_CHECKED_WORDS,
      reason,
      fault,
      ms,
      card: { validTo: null, registeredFacility: null },
    };
  }
  breaker.failure();
  const reason = reasonOf(e);
  if (e instanceof Problem) {
    if (!reported.has(e.problem)) {
      reported.add(e.problem);
      log.error(
        { card, problem: e.problem, reason, ms, breaker: breaker.state() },
        'BHYT gateway answer refused; lookups stay unchecked until it answers properly (logged once)',
      );
    } else {
      log.debug({ card, problem: e.problem, ms, breaker: breaker.state() }, 'BHYT gateway answer refused again');
    }
    return { kind: 'unavailable', reason, ms, problem: e.problem };
  }
  log.warn({ card, reason, ms, breaker: breaker.state() }, 'BHYT gateway unavailable');
  return { kind: 'unavailable', reason, ms };
}
