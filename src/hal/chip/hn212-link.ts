/**
 * The Socket.IO connection to the HN-212 reader's service, kept up with our own backoff on the
 * injected clock (socket.io-client's reconnection is off: it gives up after a server-side
 * disconnect and runs on its own timers). Messages are handed on untouched; hn212-events.ts
 * decodes them.
 */
import type { Clock } from '../../util/clock.js';
import { HN212_LIMITS, type Hn212Config } from './hn212-config.js';

/** The part of socket.io-client's Socket used here. */
export interface IoSocket {
  readonly connected: boolean;
  connect(): unknown;
  disconnect(): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

export type IoFactory = (uri: string, opts: Record<string, unknown>) => IoSocket;

/** socket.io-client's `io`, from the module namespace or its default export; null if it is not there. */
export function ioFactoryOf(mod: unknown): IoFactory | null {
  for (const m of [mod, (mod as { default?: unknown } | null)?.default]) {
    const io = (m as { io?: unknown } | null | undefined)?.io;
    if (typeof io === 'function') return io as IoFactory;
  }
  return null;
}

export interface LinkEvents {
  onUp(): void;
  /** The service went (or could not be reached); `retryMs`: when the next attempt is. */
  onDown(why: string, retryMs: number): void;
  onMessage(payload: unknown): void;
}

export interface Hn212Link {
  close(): void;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : typeof e === 'string' ? e : 'unknown error').slice(0, 120);

/** Where to connect: the service's origin and namespace ("http://192.168.5.1:8000/"). */
export function serviceUri(config: Pick<Hn212Config, 'url' | 'namespace'>): string {
  return new URL(config.url).origin + config.namespace;
}

export function connectHn212(io: IoFactory, config: Hn212Config, deps: { clock: Clock; random?: () => number }, events: LinkEvents): Hn212Link {
  const { clock } = deps;
  const random = deps.random ?? Math.random;
  const socket = io(serviceUri(config), {
    forceNew: true,
    autoConnect: false,
    reconnection: false,
    timeout: config.connectTimeoutMs,
    // WebSocket first: its messages are capped (maxPayload, passed on to `ws`); long-polling only when allowed.
    transports: config.allowPolling ? ['websocket', 'polling'] : ['websocket'],
    tryAllTransports: config.allowPolling,
    maxPayload: HN212_LIMITS.message,
  });
  let closed = false;
  let attempt = 0;
  let timer: unknown = null;

  const retry = (why: string): void => {
    if (closed) return;
    if (timer !== null) clock.clearTimeout(timer);
    const base = Math.min(config.reconnectMaxMs, config.reconnectMinMs * 2 ** Math.min(attempt, 20));
    // Jitter (half to all of the wait): kiosks that lost the same service do not come back in step.
    const wait = Math.round(base * (0.5 + random() / 2));
    attempt += 1;
    timer = clock.setTimeout(() => {
      timer = null;
      if (!closed && !socket.connected) socket.connect();
    }, wait);
    events.onDown(why, wait);
  };

  socket.on('connect', () => {
    attempt = 0;
    events.onUp();
  });
  socket.on('connect_error', (e: unknown) => retry(message(e)));
  socket.on('disconnect', (reason: unknown) => {
    if (!closed) retry(`disconnected: ${message(reason)}`);
  });
  socket.on(config.event, (...args: unknown[]) => events.onMessage(args[0]));
  socket.connect();

  return {
    close() {
      if (closed) return;
      closed = true;
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
      socket.disconnect();
    },
  };
}
