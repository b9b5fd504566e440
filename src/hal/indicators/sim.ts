import type { Socket } from 'node:net';
import { connectTcp } from '../../platform/tcp-connect.js';
import { BUTTON_IDS, LED_IDS, type ButtonId, type DriverDeps, type Indicators, type Leds } from '../ports.js';
import { supervise } from '../supervised-port.js';
import { createButtonFanout } from './buttons.js';
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
  const { log } = deps;
  const where = cfg.url;
  const m = PANEL_URL.exec(cfg.url);
  const buttons = createButtonFanout(log);
  let leds: Leds = { ready: 'off', busy: 'off', error: 'off' };

  const onLine = (line: string): void => {
    const button = parseButtonLine(line);
    if (button) buttons.emit(button);
    else if (line.trim() !== '') log.debug({ where, line: JSON.stringify(line.slice(0, 60)) }, 'ignored a line from the panel');
  };

  const port = supervise<Socket>({
    where,
    device: 'panel',
    deps,
    retry: { baseMs: cfg.reconnectBaseMs, maxMs: cfg.reconnectMaxMs, random: deps.random },
    initial: m ? { kind: 'connecting', attempt: 1 } : { kind: 'faulted', code: 'bad-url', reason: `not a tcp://host:port URL: ${cfg.url}` },
    open: (signal) => connectTcp(m![1]!, Number(m![2]), signal, CONNECT_TIMEOUT_MS),
    close: (s) => s.destroy(),
    attach(s) {
      const lines = lineSplitter(MAX_PANEL_LINE_BYTES, onLine, (bytes) => log.debug({ where, bytes }, 'dropped an over-long line from the panel'));
      let reason = 'disconnected';
      s.on('data', (chunk: Buffer) => lines.push(chunk));
      s.on('error', (err) => (reason = `disconnected: ${err.message}`));
      s.on('close', () => port.lost(s, { code: 'disconnected', reason }, reason));
      // A restarted panel knows nothing: it is told the lamps on every (re)connect.
      s.write(formatLedsLine(leds));
    },
    say: { cannotOpen: 'cannot reach the panel; retrying', lost: 'panel connection lost; retrying', back: 'panel is back' },
  });

  return {
    id: 'indicators',
    driver: 'sim',
    async open(signal) {
      if (!signal.aborted && m) void port.start();
    },
    close: async () => port.stop(),
    state: port.state,
    onStateChange: port.onStateChange,
    setLeds(next) {
      const copy: Leds = { ready: next.ready, busy: next.busy, error: next.error };
      if (LED_IDS.every((id) => copy[id] === leds[id])) return;
      leds = copy;
      port.link?.write(formatLedsLine(leds));
    },
    leds: () => leds,
    onButton: buttons.onButton,
  };
}
