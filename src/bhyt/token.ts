import type { Logger } from 'pino';
import type { Clock } from '../util/clock.js';
import { codeOf, field, parseJson, raceAbort, Unavailable, type GatewayPost } from './http.js';

/**
 * The gateway's token: taken with the account and its password hash, shared by concurrent
 * lookups (one request, not one each), renewed a little before it expires, dropped when the
 * gateway refuses it. The token and the password hash never reach a log line.
 */

const TOKEN_PATH = '/api/token/take';
const DEFAULT_TOKEN_LIFE_MS = 50 * 60_000;
const MAX_TOKEN_LIFE_MS = 24 * 3600_000;

/** The token request was answered, with a refusal. */
export class TokenRefused extends Error {
  constructor(readonly code: string) {
    super(`token refused (${code})`);
  }
}

export interface Token {
  readonly access: string;
  readonly id: string;
  /** Monotonic clock time after which it is not used any more. */
  readonly until: number;
}

export interface TokenKeeper {
  /** A token that is still good, taking one if needed; the caller's abort only stops the wait. */
  current(caller: AbortSignal): Promise<Token>;
  /** The gateway refused `t`: the next call takes a new one (unless another already did). */
  drop(t: Token): void;
  /** Forgets the token (kioskd selftest takes a fresh one). */
  forget(): void;
}

export function createTokenKeeper(o: {
  readonly post: GatewayPost;
  readonly base: string;
  readonly username: string;
  readonly passwordHash: string;
  readonly clock: Clock;
  readonly wallClock: () => Date;
  readonly log: Logger;
}): TokenKeeper {
  const { post, base, passwordHash, clock, log } = o;
  let token: Token | null = null;
  // Concurrent lookups share one token request rather than each logging in.
  let tokenInFlight: Promise<Token> | null = null;

  async function takeToken(): Promise<Token> {
    const started = clock.now();
    const reply = await post(base + TOKEN_PATH, { body: new URLSearchParams({ username: o.username, password: passwordHash }) }, null);
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
    const life = tokenLifeMs(field(key, 'expires_in'), o.wallClock().getTime());
    // Renew a little early so a token does not expire between our check and the gateway's.
    const until = clock.now() + life - Math.min(60_000, life / 10);
    log.debug({ ms: Math.round(clock.now() - started), lifeSec: Math.round(life / 1000) }, 'BHYT gateway token taken');
    return { access, id, until };
  }

  return {
    current(caller) {
      if (token && clock.now() < token.until) return Promise.resolve(token);
      tokenInFlight ??= takeToken()
        .then((t) => (token = t))
        .finally(() => (tokenInFlight = null));
      // The shared request is not the caller's to cancel; the caller only stops waiting.
      return raceAbort(tokenInFlight, caller);
    },
    drop(t) {
      if (token === t) token = null;
    },
    forget() {
      token = null;
    },
  };
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
