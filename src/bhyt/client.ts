import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { maskId } from '../hal/card/types.js';
import type { Clock } from '../util/clock.js';
import { createBreaker, type BreakerState } from './breaker.js';
import { NOT_CHECKED_WORDS, routeOf, type BhytFault } from './codes.js';

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

export interface BhytCard {
  /** Last day of validity, ISO `YYYY-MM-DD` (gtTheDen; of the new card for 003/004). */
  readonly validTo: string | null;
  /** Initial registered facility code (maDKBD; of the new card for 003/004). */
  readonly registeredFacility: string | null;
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

/**
 * The gateway answered in a way the kiosk refuses to act on: a redirect, an answer that is not
 * JSON, or one larger than MAX_ANSWER_BYTES. A misconfigured URL, a proxy or a compromised
 * front end, not an outage: staff should be told (once), and the lookups wait to be reconciled.
 */
export type GatewayProblem = 'redirect' | 'not-json' | 'too-large';

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

const TOKEN_PATH = '/api/token/take';
const LOOKUP_PATH = '/api/egw/KQNhanLichSuKCB2024';
/** Lookup codes that mean "your token is no good": take a new one and retry once. */
const TOKEN_CODES: ReadonlySet<string> = new Set(['401', '501', '999']);
const DEFAULT_TOKEN_LIFE_MS = 50 * 60_000;
/**
 * A lookup answer is a few KB (the card, and a visit history of a few hundred bytes per
 * visit); 1 MiB is thousands of visits. Past it the answer is abandoned, not read.
 */
export const MAX_ANSWER_BYTES = 1024 * 1024;
const MAX_TOKEN_LIFE_MS = 24 * 3600_000;

/** The gateway could not be asked. The message goes into logs and results: keep it free of personal data. */
class Unavailable extends Error {}

/** The gateway answered, but not in a way the kiosk may act on. */
class Problem extends Unavailable {
  constructor(
    readonly problem: GatewayProblem,
    message: string,
  ) {
    super(message);
  }
}

/** The token request was answered, with a refusal. */
class TokenRefused extends Error {
  constructor(readonly code: string) {
    super(`token refused (${code})`);
  }
}

interface Token {
  readonly access: string;
  readonly id: string;
  /** Monotonic clock time after which it is not used any more. */
  readonly until: number;
}

interface Reply {
  readonly status: number;
  readonly text: string;
}

export function createBhytClient(opts: BhytClientOptions): BhytClient {
  const doFetch = opts.fetch ?? fetch;
  const base = opts.url.replace(/\/+$/, '');
  const md5 = createHash('md5').update(opts.password, 'utf8').digest('hex');
  const passwordHash = opts.passwordHash === 'md5-upper' ? md5.toUpperCase() : md5;
  const { clock, log } = opts;
  const breaker = createBreaker({ failures: opts.breaker.failures, openMs: opts.breaker.openSec * 1000, clock });
  let token: Token | null = null;
  // Concurrent lookups share one token request rather than each logging in.
  let tokenInFlight: Promise<Token> | null = null;
  /** Problems already logged at error level; cleared when the gateway answers properly again. */
  const reported = new Set<GatewayProblem>();

  /** One HTTP request bounded by timeoutMs; the caller's abort (if given) cuts it short. */
  async function post(url: string, init: RequestInit, caller: AbortSignal | null): Promise<Reply> {
    const timer = new AbortController();
    const handle = clock.setTimeout(() => timer.abort(), opts.timeoutMs);
    const signal = caller ? AbortSignal.any([caller, timer.signal]) : timer.signal;
    try {
      // Never followed: a redirected request would carry its personal data to the Location.
      const res = await doFetch(url, { ...init, method: 'POST', redirect: 'manual', signal });
      return await readReply(res, base);
    } catch (e) {
      if (caller?.aborted) throw abortError(caller);
      if (e instanceof Problem) throw e;
      if (timer.signal.aborted) throw new Unavailable(`gateway did not answer within ${opts.timeoutMs} ms`);
      throw new Unavailable(`cannot reach the gateway (${errorCode(e)})`);
    } finally {
      clock.clearTimeout(handle);
    }
  }

  async function takeToken(): Promise<Token> {
    const started = clock.now();
    const reply = await post(base + TOKEN_PATH, { body: new URLSearchParams({ username: opts.username, password: passwordHash }) }, null);
    if (reply.status >= 500) throw new Unavailable(`gateway answered HTTP ${reply.status} to the token request`);
    const json = parseJson(reply, 'token');
    const key = field(json, 'APIKey');
    const access = field(key, 'access_token');
    const id = field(key, 'id_token');
    if (typeof access !== 'string' || access === '' || typeof id !== 'string' || id === '') {
      const code = codeOf(json);
      if (code !== null) throw new TokenRefused(code);
      throw new Unavailable(`token answer without a token or maKetQua (HTTP ${reply.status})`);
    }
    const life = tokenLifeMs(field(key, 'expires_in'), opts.wallClock().getTime());
    // Renew a little early so a token does not expire between our check and the gateway's.
    const until = clock.now() + life - Math.min(60_000, life / 10);
    log.debug({ ms: Math.round(clock.now() - started), lifeSec: Math.round(life / 1000) }, 'BHYT gateway token taken');
    return { access, id, until };
  }

  function currentToken(caller: AbortSignal): Promise<Token> {
    if (token && clock.now() < token.until) return Promise.resolve(token);
    tokenInFlight ??= takeToken()
      .then((t) => (token = t))
      .finally(() => (tokenInFlight = null));
    // The shared request is not the caller's to cancel; the caller only stops waiting.
    return raceAbort(tokenInFlight, caller);
  }

  /** Asks the gateway; returns its parsed answer and code, retrying once with a new token. */
  async function ask(q: BhytQuery, ngaySinh: string, signal: AbortSignal): Promise<{ code: string; json: unknown }> {
    const body = JSON.stringify({
      maThe: q.cardId.trim().toUpperCase(),
      hoTen: q.fullName.normalize('NFC').trim(),
      ngaySinh,
      hoTenCb: opts.officerName,
      cccdCb: opts.officerId,
    });
    for (let attempt = 0; ; attempt++) {
      const t = await currentToken(signal);
      const qs = new URLSearchParams({ token: t.access, id_token: t.id, username: opts.username, password: passwordHash });
      const reply = await post(`${base}${LOOKUP_PATH}?${qs}`, { headers: { 'content-type': 'application/json' }, body }, signal);
      const retry = attempt === 0;
      if (reply.status === 401 || reply.status === 403) {
        dropToken(t);
        if (retry) continue;
        throw new Unavailable(`gateway refused a fresh token (HTTP ${reply.status})`);
      }
      if (reply.status >= 500) throw new Unavailable(`gateway answered HTTP ${reply.status}`);
      // Other 4xx answers may still carry a result code (some clients read it from error bodies).
      const json = parseJson(reply, 'lookup');
      const code = codeOf(json);
      if (code === null) throw new Unavailable(`gateway answer without maKetQua (HTTP ${reply.status})`);
      if (TOKEN_CODES.has(code) && retry) {
        dropToken(t);
        continue;
      }
      return { code, json };
    }
  }

  function dropToken(t: Token): void {
    if (token === t) token = null;
  }

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
      const { code, json } = await ask(q, ngaySinh, signal);
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
      if (e instanceof TokenRefused) {
        // Wrong credentials (or a broken gateway) are never the patient's problem.
        breaker.success();
        const r = routeOf(e.code);
        const reason = `token request refused: ${r.reason}`;
        const fault = r.fault ?? 'gateway';
        log.warn({ card, code: e.code, fault, reason, ms: ms() }, 'BHYT lookup: not the patient’s problem');
        return {
          kind: 'checked',
          code: e.code,
          route: 'counter',
          words: NOT_CHECKED_WORDS,
          reason,
          fault,
          ms: ms(),
          card: { validTo: null, registeredFacility: null },
        };
      }
      if (signal.aborted) {
        breaker.release(admission.probe);
        throw abortError(signal);
      }
      breaker.failure();
      // Anything unexpected is reported by its class only: its message could quote data.
      const reason = e instanceof Unavailable ? e.message : `unexpected ${e instanceof Error ? e.name : typeof e} in the BHYT client`;
      if (e instanceof Problem) {
        if (!reported.has(e.problem)) {
          reported.add(e.problem);
          log.error(
            { card, problem: e.problem, reason, ms: ms(), breaker: breaker.state() },
            'BHYT gateway answer refused; lookups stay unchecked until it answers properly (logged once)',
          );
        } else {
          log.debug({ card, problem: e.problem, ms: ms(), breaker: breaker.state() }, 'BHYT gateway answer refused again');
        }
        return { kind: 'unavailable', reason, ms: ms(), problem: e.problem };
      }
      log.warn({ card, reason, ms: ms(), breaker: breaker.state() }, 'BHYT gateway unavailable');
      return { kind: 'unavailable', reason, ms: ms() };
    }
  }

  async function login(signal: AbortSignal): Promise<{ ok: true; ms: number } | { ok: false; reason: string; ms: number }> {
    const started = clock.now();
    const ms = (): number => Math.round(clock.now() - started);
    token = null;
    try {
      await currentToken(signal);
      return { ok: true, ms: ms() };
    } catch (e) {
      if (signal.aborted) throw abortError(signal);
      if (e instanceof TokenRefused) return { ok: false, reason: `token request refused: ${routeOf(e.code).reason}`, ms: ms() };
      return {
        ok: false,
        reason: e instanceof Unavailable ? e.message : `unexpected ${e instanceof Error ? e.name : typeof e} in the BHYT client`,
        ms: ms(),
      };
    }
  }

  return { lookup, login, breakerState: breaker.state };
}

/** ISO `YYYY-MM-DD` → `dd/MM/yyyy`; `YYYY` stays `yyyy` (the gateway's form for a birth year only). */
export function gatewayBirthDate(iso: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (m) return `${m[3]}/${m[2]}/${m[1]}`;
  return /^\d{4}$/.test(iso) ? iso : null;
}

/** The gateway's `dd/MM/yyyy` → ISO; anything else → null. */
function isoDate(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(v.trim());
  return m ? `${m[3]}-${m[2]}-${m[1]}` : null;
}

function cardOf(code: string, json: unknown): BhytCard {
  // 003/004: a new card was issued; what matters from now on is the new one.
  const renewed = code === '003' || code === '004';
  const validTo = (renewed ? isoDate(field(json, 'gtTheDenMoi')) : null) ?? isoDate(field(json, 'gtTheDen'));
  const facility = (renewed ? facilityCode(field(json, 'maDKBDMoi')) : null) ?? facilityCode(field(json, 'maDKBD'));
  return { validTo, registeredFacility: facility };
}

function facilityCode(v: unknown): string | null {
  return typeof v === 'string' && /^[0-9A-Za-z]{1,10}$/.test(v.trim()) ? v.trim() : null;
}

/**
 * The answer's text, if the kiosk may act on it: not a redirect, JSON, at most
 * MAX_ANSWER_BYTES. A 5xx or 401/403 answer that is not JSON is not read: its status says enough.
 */
async function readReply(res: Response, base: string): Promise<Reply> {
  const { status } = res;
  if (status >= 300 && status < 400) {
    await res.body?.cancel().catch(() => {});
    throw new Problem(
      'redirect',
      `gateway answered HTTP ${status}, a redirect${whither(res.headers.get('location'), base)}; redirects are not followed: the request carries personal data`,
    );
  }
  const type = res.headers.get('content-type');
  // Error statuses are acted on by their status; their body is read only when it is JSON
  // (a token refusal may carry maKetQua), an HTML error page is dropped unread.
  const errorStatus = status >= 500 || status === 401 || status === 403;
  if (errorStatus && !isJson(type)) {
    await res.body?.cancel().catch(() => {});
    return { status, text: '' };
  }
  if (!isJson(type)) {
    await res.body?.cancel().catch(() => {});
    throw new Problem('not-json', `gateway answered HTTP ${status} with ${mediaType(type)}, not JSON`);
  }
  const tooLarge = (): Problem => new Problem('too-large', `gateway answer larger than ${MAX_ANSWER_BYTES} bytes (HTTP ${status}); not read`);
  if (Number(res.headers.get('content-length') ?? 0) > MAX_ANSWER_BYTES) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!res.body) return { status, text: '' };
  const reader = res.body.getReader();
  const decoder = new TextDecoder('utf-8');
  let size = 0;
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    text += decoder.decode(value, { stream: true });
  }
  return { status, text: text + decoder.decode() };
}

/** application/json, text/json or application/…+json, with or without parameters. */
function isJson(contentType: string | null): boolean {
  const t = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return t === 'application/json' || t === 'text/json' || /^application\/[\w.-]+\+json$/.test(t);
}

/** The media type for a reason: a plain token, or a word for anything else (it is the gateway's text). */
function mediaType(contentType: string | null): string {
  if (contentType === null) return 'no content type';
  const t = contentType.split(';')[0]!.trim().toLowerCase();
  return /^[a-z0-9.+-]{1,40}\/[a-z0-9.+-]{1,60}$/.test(t) ? t : 'an unrecognised content type';
}

/** Where a redirect points, in words, without quoting it (the Location is the gateway's text). */
function whither(location: string | null, base: string): string {
  if (!location) return ' without a Location';
  let to: URL;
  const from = new URL(base);
  try {
    to = new URL(location, base);
  } catch {
    return ' to an unparsable Location';
  }
  if (to.host !== from.host) return ' to another host';
  if (from.protocol === 'http:' && to.protocol === 'https:') return ' to https on the same host (set bhyt.url to https://…)';
  return ' on the same host';
}

function field(obj: unknown, key: string): unknown {
  return obj !== null && typeof obj === 'object' ? (obj as Record<string, unknown>)[key] : undefined;
}

function parseJson(reply: Reply, what: string): unknown {
  try {
    return JSON.parse(reply.text) as unknown;
  } catch {
    throw new Unavailable(`malformed JSON in the gateway's ${what} answer (HTTP ${reply.status})`);
  }
}

/** `maKetQua` as a 3-digit string ("000"); some gateways send a number. */
function codeOf(json: unknown): string | null {
  const v = field(json, 'maKetQua');
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return String(v).padStart(3, '0');
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  return null;
}

/**
 * How long a token lives. `expires_in` is seconds in the documentation but an ISO time on the
 * live gateway ("2024-08-29T08:33:08.5454145Z"); missing, odd, or a time already past by our
 * wall clock (a kiosk with a wrong clock) → 50 minutes, which a 401 corrects anyway.
 */
export function tokenLifeMs(expiresIn: unknown, wallNowMs: number): number {
  let ms: number | null = null;
  if (typeof expiresIn === 'number') ms = expiresIn * 1000;
  else if (typeof expiresIn === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(expiresIn)) ms = Number(expiresIn) * 1000;
  else if (typeof expiresIn === 'string') ms = Date.parse(expiresIn) - wallNowMs;
  if (ms === null || !Number.isFinite(ms) || ms <= 0) return DEFAULT_TOKEN_LIFE_MS;
  return Math.min(ms, MAX_TOKEN_LIFE_MS);
}

/** "ECONNREFUSED", "UND_ERR_SOCKET" …: the cause's code only (messages can quote URLs, which carry the token). */
function errorCode(e: unknown): string {
  const cause = field(e, 'cause');
  for (const c of [field(cause, 'code'), field(e, 'code')]) if (typeof c === 'string' && /^[A-Z0-9_]{2,40}$/.test(c)) return c;
  return e instanceof Error ? e.name : 'unknown error';
}

function abortError(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error && r.name === 'AbortError' ? r : new DOMException('BHYT lookup cancelled', 'AbortError');
}

/** Waits for `p` unless `signal` aborts first (then rejects with an AbortError); `p` itself runs on. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    void p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
