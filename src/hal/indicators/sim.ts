import type { Socket } from 'node:net';
import { backoffMs } from '../../util/backoff.js';
import { BUTTON_IDS, LED_IDS, type ButtonId, type DriverDeps, type Indicators, type Leds, type PortState, type Unsubscribe } from '../ports.js';
import { connectTcp } from '../tcp-connect.js';
import { PANEL_URL, type SimIndicatorsConfig } from './config.js';

/** A panel line longer than this is dropped: the protocol's longest line is about 40 bytes. */
export const MAX_PANEL_LINE_BYTES = 256;
/** hw-sim runs on the same machine; a panel that does not answer within this is treated as gone. */
const CONNECT_TIMEOUT_MS = 3000;

/** daemon → panel: `leds ready=on busy=off error=blink`. */
export function formatLedsLine(leds: Leds): string {
  return `leds ${LED_IDS.map((id) => `${id}=${leds[id]}`).join(' ')}\n`;
}

/** panel → daemon: `button consent-yes`. Anything else is null. */
export function parseButtonLine(line: string): ButtonId | null {
  const m = /^button (\S+)$/.exec(line.trim());
  const id = m?.[1];
  return id !== undefined && (BUTTON_IDS as readonly string[]).includes(id) ? (id as ButtonId) : null;
}

/**
 * Splits a byte stream into UTF-8 lines (LF or CRLF). A line over `maxBytes` is dropped whole,
 * up to its newline, so a flood of garbage cannot grow memory or be half-read as a command.
 */
export function lineSplitter(
  maxBytes: number,
  onLine: (line: string) => void,
  onTooLong: (bytes: number) => void,
): { push(chunk: Buffer): void; reset(): void } {
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;
  const reset = (): void => {
    parts = [];
    size = 0;
    skipping = false;
  };
  return {
    push(chunk) {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        const piece = chunk.subarray(start, nl === -1 ? chunk.length : nl);
        size += piece.length;
        if (!skipping && size > maxBytes) {
          skipping = true;
          parts = [];
        } else if (!skipping && piece.length > 0) parts.push(piece);
        if (nl === -1) return;
        if (skipping) onTooLong(size);
        else onLine(Buffer.concat(parts, size).toString('utf8').replace(/\r$/, ''));
        reset();
        start = nl + 1;
      }
    },
    reset,
  };
}

/**
 * hw-sim's virtual panel over TCP: the same port contract as the GPIO driver, so the kiosk's
 * lamps and buttons can be exercised without a Pi. It keeps itself connected while open, and
 * re-sends the lamps after every (re)connect, since a restarted panel knows nothing.
 */
export function createSimIndicators(cfg: SimIndicatorsConfig, deps: DriverDeps): Indicators {
  const { clock, log } = deps;
  const where = cfg.url;
  const m = PANEL_URL.exec(cfg.url);
  let state: PortState = m ? { kind: 'connecting', attempt: 1 } : { kind: 'faulted', reason: `not a tcp://host:port URL: ${cfg.url}` };
  const stateListeners = new Set<(s: PortState) => void>();
  const buttonListeners = new Set<(b: ButtonId) => void>();
  let leds: Leds = { ready: 'off', busy: 'off', error: 'off' };
  let socket: Socket | null = null;
  let stopped = true;
  let attempt = 0;
  let retryTimer: unknown = null;
  let lifetime = new AbortController();

  const setState = (next: PortState): void => {
    if (JSON.stringify(next) === JSON.stringify(state)) return;
    state = next;
    for (const l of stateListeners) l(next);
  };

  const emit = (id: ButtonId): void => {
    for (const l of buttonListeners) {
      try {
        l(id);
      } catch (err) {
        log.error({ err: err instanceof Error ? err.message : String(err), button: id }, 'a button listener failed');
      }
    }
  };

  const onLine = (line: string): void => {
    const button = parseButtonLine(line);
    if (button) emit(button);
    else if (line.trim() !== '') log.debug({ where, line: JSON.stringify(line.slice(0, 60)) }, 'ignored a line from the panel');
  };

  const connect = async (): Promise<void> => {
    if (stopped || !m) return;
    attempt++;
    try {
      const s = await connectTcp(m[1]!, Number(m[2]), lifetime.signal, CONNECT_TIMEOUT_MS);
      if (stopped) return void s.destroy();
      socket = s;
      const lines = lineSplitter(MAX_PANEL_LINE_BYTES, onLine, (bytes) => log.debug({ where, bytes }, 'dropped an over-long line from the panel'));
      let reason = 'disconnected';
      s.on('data', (chunk: Buffer) => lines.push(chunk));
      s.on('error', (err) => (reason = `disconnected: ${err.message}`));
      s.on('close', () => {
        if (socket !== s) return;
        socket = null;
        if (stopped) return;
        log.warn({ where, reason }, 'panel connection lost; retrying');
        attempt = 0;
        setState({ kind: 'faulted', reason });
        scheduleRetry();
      });
      if (state.kind === 'faulted') log.info({ where }, 'panel is back');
      attempt = 0;
      s.write(formatLedsLine(leds));
      setState({ kind: 'ready' });
    } catch (err) {
      if (stopped) return;
      const reason = errorReason(err);
      if (state.kind !== 'faulted' || state.reason !== reason) log.warn({ where, reason }, 'cannot reach the panel; retrying');
      setState({ kind: 'faulted', reason });
      scheduleRetry();
    }
  };

  const scheduleRetry = (): void => {
    clock.clearTimeout(retryTimer);
    if (stopped) return;
    retryTimer = clock.setTimeout(() => void connect(), backoffMs(attempt, { baseMs: cfg.reconnectBaseMs, maxMs: cfg.reconnectMaxMs }, deps.random));
  };

  return {
    id: 'indicators',
    driver: 'sim',
    async open(signal) {
      if (signal.aborted || !stopped) return;
      stopped = false;
      lifetime = new AbortController();
      // Not awaited: boot never waits for a device.
      void connect();
    },
    async close() {
      stopped = true;
      lifetime.abort(new Error('closed'));
      clock.clearTimeout(retryTimer);
      const s = socket;
      socket = null;
      s?.destroy();
    },
    state: () => state,
    onStateChange(listener): Unsubscribe {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    setLeds(next) {
      const copy: Leds = { ready: next.ready, busy: next.busy, error: next.error };
      if (LED_IDS.every((id) => copy[id] === leds[id])) return;
      leds = copy;
      socket?.write(formatLedsLine(leds));
    },
    leds: () => leds,
    onButton(listener): Unsubscribe {
      buttonListeners.add(listener);
      return () => buttonListeners.delete(listener);
    },
  };
}

function errorReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ECONNREFUSED') return 'connection refused';
  return e?.message ?? String(err);
}
