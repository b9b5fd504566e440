import { createServer, type Server, type Socket } from 'node:net';
import type { ButtonId, LedId, LedState, Leds } from '../../src/hal/ports.js';
import { listenLoopback } from './listen.js';

const LEDS: readonly LedId[] = ['ready', 'busy', 'error'];
const STATES: readonly string[] = ['on', 'off', 'blink'];
const DARK: Leds = { ready: 'off', busy: 'off', error: 'off' };

/**
 * A virtual lamp-and-button panel: what the daemon's "sim" indicators driver talks to, over
 * TCP, one line per message. It parses the daemon's lines itself rather than sharing the
 * driver's code, so a wire-format slip shows up as a failing test. Unplugging drops the
 * daemon, refuses new connections and forgets the lamps, as a power-cycled panel would.
 */
export class VirtualPanel {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly listeners = new Set<(leds: Leds) => void>();
  private state: Leds = DARK;
  private port = 0;

  private constructor() {}

  static async start(): Promise<VirtualPanel> {
    const p = new VirtualPanel();
    await p.plug();
    return p;
  }

  /** What the daemon's config points at. Stays the same across unplug/plug. */
  get url(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  /** The lamps as last set by the daemon (all off until it says otherwise). */
  leds(): Leds {
    return this.state;
  }

  onLeds(listener: (leds: Leds) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves with the lamps once `predicate` holds (now or after a later update). */
  waitForLeds(predicate: (leds: Leds) => boolean, ms: number): Promise<Leds> {
    if (predicate(this.state)) return Promise.resolve(this.state);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`panel lamps did not match within ${ms} ms; last: ${JSON.stringify(this.state)}`));
      }, ms);
      const off = this.onLeds((leds) => {
        if (!predicate(leds)) return;
        clearTimeout(timer);
        off();
        resolve(leds);
      });
    });
  }

  /** Presses a button; false when no daemon is connected to hear it. */
  press(button: ButtonId): boolean {
    return this.sendRaw(`button ${button}\n`);
  }

  /** Sends raw text to the daemon (for garbage and over-long lines); false when none is connected. */
  sendRaw(text: string | Uint8Array): boolean {
    if (this.sockets.size === 0) return false;
    for (const s of this.sockets) s.write(text);
    return true;
  }

  connected(): boolean {
    return this.sockets.size > 0;
  }

  get plugged(): boolean {
    return this.server !== null;
  }

  async unplug(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const srv = this.server;
    this.server = null;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
    this.update(DARK);
  }

  async plug(): Promise<void> {
    if (this.server) return;
    const server = createServer((sock) => this.accept(sock));
    this.port = await listenLoopback(server, this.port);
    this.server = server;
  }

  async stop(): Promise<void> {
    await this.unplug();
    this.listeners.clear();
  }

  private accept(sock: Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => {});
    let pending = '';
    sock.setEncoding('utf8');
    sock.on('data', (text: string) => {
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      if (pending.length > 1024) pending = ''; // not a daemon talking
      for (const line of lines) {
        const leds = parseLeds(line.trim());
        if (leds) this.update(leds);
      }
    });
  }

  private update(leds: Leds): void {
    this.state = leds;
    for (const l of this.listeners) l(leds);
  }
}

/** `leds ready=on busy=off error=blink`, every lamp exactly once; anything else is null. */
function parseLeds(line: string): Leds | null {
  const [word, ...pairs] = line.split(/\s+/);
  if (word !== 'leds' || pairs.length !== LEDS.length) return null;
  const out: Partial<Record<LedId, LedState>> = {};
  for (const pair of pairs) {
    const [k, v] = pair.split('=');
    if (!LEDS.includes(k as LedId) || !STATES.includes(v ?? '') || out[k as LedId]) return null;
    out[k as LedId] = v as LedState;
  }
  return out as Leds;
}
