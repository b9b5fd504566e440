import type { Logger } from 'pino';
import { checkJpeg, PORTRAIT_LIMIT } from '../faceid/jpeg-header.js';
import { maskId } from '../log/mask.js';

/**
 * Client for the identity service that holds the card holder's reference portrait. That is the
 * hospital's patient registry, or a bridge to a chip reader. The face check compares the
 * camera frame with this portrait.
 *
 * Protocol. A hospital's registry or bridge must implement this:
 *
 *   POST {url}/portrait
 *   Content-Type: application/json
 *   Accept: image/jpeg
 *   Authorization: Bearer <token>          (only when the kiosk is configured with a token)
 *
 *   {"cccd":"001190900001"}                (the 12-digit CCCD number)
 *
 *   200  Content-Type: image/jpeg. The body is the portrait: a JPEG (it must start FF D8 FF) of
 *        at most 2 MB and 1024×1280 pixels (either way round; PORTRAIT_LIMIT), e.g. the chip's
 *        DG2 photo or the registry's photo, as it is. Its size is read from its header, never
 *        by decoding it: a larger one is refused, not scaled.
 *   404  The service has no portrait for this card. The body is ignored.
 *   Any other answer (401/403 for a bad token, 5xx, a redirect), no answer within the timeout,
 *   or a body that is not a JPEG: the kiosk goes on without a portrait.
 *
 * The number goes in a POST body so that it never appears in a URL or in an access log.
 * Redirects are not followed, because a redirected POST could carry the number elsewhere.
 *
 * Privacy: logs carry the card's last 4 digits only. A `reason` never holds the number, the
 * token or the image.
 */

export type PortraitResult =
  | { readonly kind: 'found'; readonly jpeg: Uint8Array; readonly ms: number }
  /** The service has no portrait for this card (404). */
  | { readonly kind: 'none'; readonly reason: string; readonly ms: number }
  /** Network error, timeout, 5xx, refused token, or not an image. */
  | { readonly kind: 'unavailable'; readonly reason: string; readonly ms: number };

export interface PortraitClient {
  /**
   * Never rejects because of the service: the result says what happened. It rejects only when
   * `signal` aborts, with the signal's reason, so that a cancelled check-in is not mistaken
   * for an outage.
   */
  fetchPortrait(idNumber: string, signal: AbortSignal): Promise<PortraitResult>;
}

export interface PortraitClientOptions {
  readonly url: string;
  readonly timeoutMs: number;
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
  readonly log: Logger;
  readonly fetch?: typeof fetch;
}

/** A chip portrait is 15–30 KB and a registry photo a few hundred: a larger answer is not a portrait. */
export const MAX_PORTRAIT_BYTES = PORTRAIT_LIMIT.maxBytes;

/** The service could not be asked, or gave no usable answer. The message is a `reason`: no personal data. */
class Unavailable extends Error {}

export function createPortraitClient(opts: PortraitClientOptions): PortraitClient {
  const doFetch = opts.fetch ?? fetch;
  const endpoint = `${opts.url.replace(/\/+$/, '')}/portrait`;
  const { log } = opts;
  const { protocol, hostname } = new URL(endpoint);
  if (protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(hostname)) {
    log.warn({ host: hostname }, 'the identity service is on plain http: ID numbers and portraits cross the network unencrypted');
  }
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'image/jpeg' };
  if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;

  async function ask(idNumber: string, signal: AbortSignal): Promise<Uint8Array | null> {
    let res: Response;
    try {
      res = await doFetch(endpoint, { method: 'POST', headers, body: JSON.stringify({ cccd: idNumber }), redirect: 'manual', signal });
    } catch (e) {
      throw new Unavailable(`cannot reach the identity service (${errorCode(e)})`);
    }
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      const why =
        res.status === 401 || res.status === 403
          ? ': the token was refused'
          : res.status >= 300 && res.status < 400
            ? ': redirects are not followed'
            : '';
      throw new Unavailable(`the identity service answered HTTP ${res.status}${why}`);
    }
    const body = await readCapped(res, MAX_PORTRAIT_BYTES);
    if (body === null) throw new Unavailable(`the portrait is larger than ${MAX_PORTRAIT_BYTES} bytes`);
    if (!(body[0] === 0xff && body[1] === 0xd8 && body[2] === 0xff)) {
      throw new Unavailable(`the answer is not a JPEG image (${body.byteLength} bytes, ${res.headers.get('content-type') ?? 'no content type'})`);
    }
    // Measured by its header before anything decodes it: a few hundred bytes can declare a
    // picture that takes a gigabyte to decode.
    const checked = checkJpeg(body, PORTRAIT_LIMIT, 'the portrait');
    if (!checked.ok) {
      body.fill(0);
      throw new Unavailable(checked.reason);
    }
    return body;
  }

  async function fetchPortrait(idNumber: string, signal: AbortSignal): Promise<PortraitResult> {
    if (signal.aborted) throw signal.reason;
    const started = performance.now();
    const ms = (): number => Math.round(performance.now() - started);
    const card = maskId(idNumber);
    if (!/^\d{12}$/.test(idNumber)) {
      // The caller's bug, not the service's: the service is not asked.
      log.warn({ card }, 'portrait not requested: the ID number is not 12 digits');
      return { kind: 'unavailable', reason: 'the ID number is not 12 digits', ms: 0 };
    }
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    try {
      const jpeg = await ask(idNumber, AbortSignal.any([signal, timeout]));
      if (jpeg === null) {
        log.info({ card, ms: ms() }, 'no portrait for this card at the identity service');
        return { kind: 'none', reason: 'the identity service has no portrait for this card', ms: ms() };
      }
      log.info({ card, bytes: jpeg.byteLength, ms: ms() }, 'portrait received');
      return { kind: 'found', jpeg, ms: ms() };
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      // The timeout can also strike while the body is read, after `ask` got its answer.
      // Anything unexpected is reported by its class only: its message could quote data.
      const reason = timeout.aborted
        ? `the identity service did not answer within ${opts.timeoutMs} ms`
        : e instanceof Unavailable
          ? e.message
          : `unexpected ${e instanceof Error ? e.name : typeof e} in the portrait client`;
      log.warn({ card, reason, ms: ms() }, 'identity service unavailable');
      return { kind: 'unavailable', reason, ms: ms() };
    }
  }

  return { fetchPortrait };
}

/** The body, or null once it passes `cap` bytes. A Content-Length header is not trusted. */
async function readCapped(res: Response, cap: number): Promise<Uint8Array | null> {
  if (Number(res.headers.get('content-length') ?? 0) > cap) {
    await res.body?.cancel();
    return null;
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > cap) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** "ECONNREFUSED", "UND_ERR_SOCKET" …: the cause's code only; messages could quote the URL. */
function errorCode(e: unknown): string {
  const field = (o: unknown, k: string): unknown => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined);
  for (const c of [field(field(e, 'cause'), 'code'), field(e, 'code')]) if (typeof c === 'string' && /^[A-Z0-9_]{2,40}$/.test(c)) return c;
  return e instanceof Error ? e.name : 'unknown error';
}
