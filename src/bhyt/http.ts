import type { Clock } from '../util/clock.js';

/**
 * The gateway's HTTP, as the kiosk allows it: one POST bounded in time, never following a
 * redirect, reading only JSON and only up to MAX_ANSWER_BYTES; and the errors a request ends in,
 * whose messages go into logs and results, so they never quote the gateway's text or a URL.
 */

/**
 * The gateway answered in a way the kiosk refuses to act on: a redirect, an answer that is not
 * JSON, or one larger than MAX_ANSWER_BYTES. A misconfigured URL, a proxy or a compromised
 * front end, not an outage: staff should be told (once), and the lookups wait to be reconciled.
 */
export type GatewayProblem = 'redirect' | 'not-json' | 'too-large';

/**
 * A lookup answer is a few KB (the card, and a visit history of a few hundred bytes per
 * visit); 1 MiB is thousands of visits. Past it the answer is abandoned, not read.
 */
export const MAX_ANSWER_BYTES = 1024 * 1024;
/** The gateway could not be asked. The message goes into logs and results: keep it free of personal data. */
export class Unavailable extends Error {}

/** The gateway answered, but not in a way the kiosk may act on. */
export class Problem extends Unavailable {
  constructor(
    readonly problem: GatewayProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface Reply {
  readonly status: number;
  readonly text: string;
}

export interface GatewayPost {
  /** One HTTP request bounded by timeoutMs; the caller's abort (if given) cuts it short. */
  (url: string, init: RequestInit, caller: AbortSignal | null): Promise<Reply>;
}

export function createGatewayPost(o: {
  readonly fetch: typeof fetch;
  readonly base: string;
  readonly timeoutMs: number;
  readonly clock: Clock;
}): GatewayPost {
  const { clock, fetch: doFetch } = o;
  return async (url, init, caller) => {
    const timer = new AbortController();
    const handle = clock.setTimeout(() => timer.abort(), o.timeoutMs);
    const signal = caller ? AbortSignal.any([caller, timer.signal]) : timer.signal;
    try {
      // Never followed: a redirected request would carry its personal data to the Location.
      const res = await doFetch(url, { ...init, method: 'POST', redirect: 'manual', signal });
      return await readReply(res, o.base);
    } catch (e) {
      if (caller?.aborted) throw abortError(caller);
      if (e instanceof Problem) throw e;
      if (timer.signal.aborted) throw new Unavailable(`gateway did not answer within ${o.timeoutMs} ms`);
      throw new Unavailable(`cannot reach the gateway (${errorCode(e)})`);
    } finally {
      clock.clearTimeout(handle);
    }
  };
}

/**
 * The answer's text, if the kiosk may act on it: not a redirect, JSON, at most
 * MAX_ANSWER_BYTES. A 5xx or 401/403 answer that is not JSON is not read: its status says enough.
 */
export async function readReply(res: Response, base: string): Promise<Reply> {
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
export function isJson(contentType: string | null): boolean {
  const t = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return t === 'application/json' || t === 'text/json' || /^application\/[\w.-]+\+json$/.test(t);
}

/** The media type for a reason: a plain token, or a word for anything else (it is the gateway's text). */
export function mediaType(contentType: string | null): string {
  if (contentType === null) return 'no content type';
  const t = contentType.split(';')[0]!.trim().toLowerCase();
  return /^[a-z0-9.+-]{1,40}\/[a-z0-9.+-]{1,60}$/.test(t) ? t : 'an unrecognised content type';
}

/** Where a redirect points, in words, without quoting it (the Location is the gateway's text). */
export function whither(location: string | null, base: string): string {
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

export function field(obj: unknown, key: string): unknown {
  return obj !== null && typeof obj === 'object' ? (obj as Record<string, unknown>)[key] : undefined;
}

export function parseJson(reply: Reply, what: string): unknown {
  try {
    return JSON.parse(reply.text) as unknown;
  } catch {
    throw new Unavailable(`malformed JSON in the gateway's ${what} answer (HTTP ${reply.status})`);
  }
}

/** `maKetQua` as a 3-digit string ("000"); some gateways send a number. */
export function codeOf(json: unknown): string | null {
  const v = field(json, 'maKetQua');
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return String(v).padStart(3, '0');
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  return null;
}

/** "ECONNREFUSED", "UND_ERR_SOCKET" …: the cause's code only (messages can quote URLs, which carry the token). */
export function errorCode(e: unknown): string {
  const cause = field(e, 'cause');
  for (const c of [field(cause, 'code'), field(e, 'code')]) if (typeof c === 'string' && /^[A-Z0-9_]{2,40}$/.test(c)) return c;
  return e instanceof Error ? e.name : 'unknown error';
}

export function abortError(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error && r.name === 'AbortError' ? r : new DOMException('BHYT lookup cancelled', 'AbortError');
}

/** Waits for `p` unless `signal` aborts first (then rejects with an AbortError); `p` itself runs on. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    void p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
