/**
 * The technician's web panel for hw-sim: one page on loopback that shows what the virtual
 * kiosk is doing (mode and step, lamps, tickets as printed, MQTT traffic) and drives its
 * devices (buttons, card scans, faces, printer faults). Live updates go out as Server-Sent
 * Events; actions come in as POST JSON, and only from the panel's own page.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SAMPLE_IDENTITIES } from '../identities.js';
import { TOPIC_PREFIX, type Sim } from '../sim.js';
import { BadControl } from '../control/table.js';
import { panelAction, type ClockControl, type PanelMemory } from './actions.js';
import { aheadText, kioskTimeZone, latest, type AdvanceClock } from './kiosk-clock.js';
import { KioskFeed } from './kiosk-feed.js';
import { faceThumbnail } from './thumbnails.js';

export interface WebPanelOptions {
  readonly sim: Sim;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** A loopback address; default 127.0.0.1. The panel presses buttons on a kiosk: never expose it. */
  readonly host?: string;
  /**
   * Moves kioskd's clock forward (hw-sim's "advance time"); leave it out when hw-sim did not
   * start kioskd (--no-daemon): the page then says so and its clock buttons are disabled.
   */
  readonly advanceClock?: AdvanceClock;
  /** At most this many live-update streams (/events) at once; more are refused (503). Default 32. */
  readonly maxEventClients?: number;
  /**
   * A stream with more than this many bytes not yet taken by its reader (a stalled tab, a
   * client that never reads) is closed; a browser's EventSource reconnects and gets a fresh
   * snapshot. Default 1 MB.
   */
  readonly maxEventBufferBytes?: number;
}

export interface WebPanel {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const STATIC: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/panel.js': { file: 'panel.js', type: 'text/javascript; charset=utf-8' },
  '/panel.css': { file: 'panel.css', type: 'text/css; charset=utf-8' },
};
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  // A page on another site may not load our faces, tickets or API answers (as <img>, <script> …):
  // such a request names our own Host, so the Host check alone lets it through.
  'cross-origin-resource-policy': 'same-origin',
};
const MAX_BODY = 64 * 1024;
const MAX_EVENT_CLIENTS = 32;
const MAX_EVENT_BUFFER_BYTES = 1024 * 1024;
const TICKETS_SHOWN = 24;

export async function startWebPanel(opts: WebPanelOptions): Promise<WebPanel> {
  const { sim } = opts;
  const host = opts.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) throw new Error(`the web panel listens on loopback only (127.0.0.1, ::1 or localhost), not ${host}`);
  const files = loadStatic();
  const feed = await KioskFeed.start({ brokerUrl: sim.broker.url, prefix: TOPIC_PREFIX, deviceId: sim.deviceId });
  const memory: PanelMemory = { lastMove: null };
  const clock = { advance: opts.advanceClock, timeZone: kioskTimeZone(sim) };
  const thumbs = new Map<string, Buffer>();
  const clients = new Set<ServerResponse>();
  let lastSnapshot = '';
  let allowedHosts = new Set<string>();

  const maxClients = opts.maxEventClients ?? MAX_EVENT_CLIENTS;
  const maxBuffered = opts.maxEventBufferBytes ?? MAX_EVENT_BUFFER_BYTES;
  /**
   * Writes to one stream, minding backpressure: a reader that does not keep up would otherwise
   * make every message pile up in memory (100 idle streams and an MQTT flood once took hw-sim
   * to 1.35 GB). Past the limit the stream is closed instead.
   */
  const write = (res: ServerResponse, chunk: string): void => {
    if (!clients.has(res)) return;
    if (res.writableLength > maxBuffered) {
      clients.delete(res);
      res.destroy();
      return;
    }
    res.write(chunk);
  };
  const send = (res: ServerResponse, event: string, data: unknown): void => write(res, `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  /** Broadcasts the snapshot when it changed; devices changed from the console are caught by the poll. */
  const refresh = (): void => {
    const snap = JSON.stringify(snapshot(sim, feed, memory, clock));
    if (snap === lastSnapshot) return;
    lastSnapshot = snap;
    for (const c of clients) write(c, `event: snapshot\ndata: ${snap}\n\n`);
  };
  const offFeed = feed.onChange((kind, entry) => {
    if (kind === 'traffic' && entry) for (const c of clients) send(c, 'mqtt', entry);
    else refresh();
  });
  const offLeds = sim.panel.onLeds(() => refresh());
  const offTicket = sim.printer.onTicket(() => refresh());
  const poll = setInterval(refresh, 500);
  const heartbeat = setInterval(() => {
    for (const c of clients) write(c, ': keep-alive\n\n');
  }, 15_000);
  poll.unref();
  heartbeat.unref();

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) reply(res, 500, { ok: false, error: err instanceof Error ? err.message : String(err) });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A page elsewhere may point a DNS name at 127.0.0.1 (DNS rebinding): only our own Host is served.
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) return reply(res, 403, { ok: false, error: 'unknown Host' });
    const path = new URL(req.url ?? '/', 'http://panel').pathname;
    if (req.method === 'POST' && path.startsWith('/api/')) return act(req, res, path.slice(5));
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, { ok: false, error: 'method not allowed' });
    const file = STATIC[path];
    if (file) {
      res.writeHead(200, { 'content-type': file.type, ...SECURITY_HEADERS });
      return void res.end(files[file.file]);
    }
    if (path === '/events') return openEvents(res);
    if (path === '/api/snapshot') return reply(res, 200, snapshot(sim, feed, memory, clock));
    const ticket = /^\/tickets\/(\d+)\.png$/.exec(path);
    if (ticket) return serveTicket(res, Number(ticket[1]));
    const face = /^\/faces\/(\d|stranger|empty)\.jpg$/.exec(path);
    if (face) return serveFace(res, face[1]!);
    reply(res, 404, { ok: false, error: 'not found' });
  }

  function openEvents(res: ServerResponse): void {
    if (clients.size >= maxClients) {
      res.setHeader('retry-after', '10');
      return reply(res, 503, { ok: false, error: `too many live-update streams open (${clients.size}); close a panel tab` });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive', ...SECURITY_HEADERS });
    clients.add(res);
    res.on('close', () => clients.delete(res));
    send(res, 'snapshot', snapshot(sim, feed, memory, clock));
    send(res, 'traffic', feed.traffic);
  }

  async function act(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    // Another web page open in the same browser could post here; its Origin gives it away.
    // A browser always sends Origin on a POST; tools on this machine (curl) need not.
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedHosts.has(originHost(origin))) {
      req.resume();
      return reply(res, 403, { ok: false, error: `cross-origin request from ${origin} refused` });
    }
    if (req.headers['sec-fetch-site'] !== undefined && req.headers['sec-fetch-site'] !== 'same-origin' && req.headers['sec-fetch-site'] !== 'none') {
      req.resume();
      return reply(res, 403, { ok: false, error: 'cross-site request refused' });
    }
    // JSON only: a cross-origin form or "simple" request cannot send application/json without a preflight we never answer.
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      req.resume();
      return reply(res, 415, { ok: false, error: 'send application/json' });
    }
    const action = panelAction(sim, feed, memory, clock, name);
    if (!action) {
      req.resume();
      return reply(res, 404, { ok: false, error: `no action "${name}"` });
    }
    let body: Record<string, unknown>;
    try {
      body = await readJson(req);
    } catch (err) {
      return reply(res, 400, { ok: false, error: err instanceof Error ? err.message : String(err) });
    }
    try {
      const message = await action(body);
      reply(res, 200, { ok: true, message });
    } catch (err) {
      reply(res, err instanceof BadControl ? 400 : 409, { ok: false, error: err instanceof Error ? err.message : String(err) });
    } finally {
      refresh();
    }
  }

  async function serveTicket(res: ServerResponse, index: number): Promise<void> {
    const t = sim.printer.tickets.find((x) => x.index === index);
    if (!t) return reply(res, 404, { ok: false, error: `no ticket ${index}` });
    const png = await readFile(t.png);
    res.writeHead(200, { 'content-type': 'image/png', ...SECURITY_HEADERS, 'cache-control': 'private, max-age=3600' });
    res.end(png);
  }

  function serveFace(res: ServerResponse, who: string): void {
    let jpeg = thumbs.get(who);
    if (!jpeg) {
      const p = /^\d$/.test(who) ? SAMPLE_IDENTITIES[Number(who) - 1] : undefined;
      const frame = who === 'stranger' ? sim.faces.stranger : who === 'empty' ? sim.faces.empty : p ? sim.faces.cameraOf(p.idNumber) : null;
      if (!frame) return reply(res, 404, { ok: false, error: `no face ${who}` });
      // Small copies made in memory: the frames are real people's photos and are never written out.
      jpeg = faceThumbnail(frame);
      thumbs.set(who, jpeg);
    }
    res.writeHead(200, { 'content-type': 'image/jpeg', ...SECURITY_HEADERS, 'cache-control': 'private, max-age=3600' });
    res.end(jpeg);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8080, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (err: unknown) => {
    clearInterval(poll);
    clearInterval(heartbeat);
    offFeed();
    offLeds();
    offTicket();
    await feed.stop();
    throw err;
  });
  const port = (server.address() as AddressInfo).port;
  allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  const shownHost = host === '::1' ? '[::1]' : host;
  return {
    url: `http://${shownHost}:${port}/`,
    port,
    async close() {
      clearInterval(poll);
      clearInterval(heartbeat);
      offFeed();
      offLeds();
      offTicket();
      for (const c of clients) c.end();
      clients.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await feed.stop();
    },
  };
}

/** Everything the page shows except the traffic log, which goes out message by message. */
function snapshot(sim: Sim, feed: KioskFeed, memory: PanelMemory, clock: ClockControl): Record<string, unknown> {
  const camera = cameraShows(sim);
  const kioskd = latest(memory.lastMove, feed.kioskTime());
  return {
    deviceId: sim.deviceId,
    broker: sim.broker.url,
    kiosk: feed.current(),
    leds: sim.panel.leds(),
    buttonsConnected: sim.panel.connected(),
    scanner: { plugged: sim.scanner.plugged, link: sim.scanner.link },
    camera,
    cameraStream: sim.camera.streamSettings(),
    chip: sim.chip.status(),
    printer: { ...sim.printer.state, plugged: sim.printer.plugged },
    // From the devices themselves: the console or a script may have changed them since the panel did.
    gateway: sim.gateway.currentFault,
    identity: sim.identity.currentFault,
    // The page runs the clock on from the last report; it is on this machine (loopback only), so shares its clock.
    clock: { canMove: clock.advance !== undefined, timeZone: clock.timeZone, kioskd: kioskd && { ...kioskd, ahead: aheadText(kioskd.offsetMs) } },
    samples: SAMPLE_IDENTITIES.map((p, i) => ({ n: i + 1, label: `Mẫu ${i + 1}`, card: `********${p.idNumber.slice(-4)}` })),
    tickets: sim.printer.tickets
      .slice(-TICKETS_SHOWN)
      .reverse()
      .map((t) => ({ index: t.index, complete: t.complete, bytes: t.bytes, url: `/tickets/${t.index}.png` })),
  };
}

/** What the fake rpicam-still serves now: "sample-2", "stranger", "empty", "fail: …", "hang", "garbage". */
function cameraShows(sim: Sim): string {
  let current: string;
  try {
    current = readFileSync(join(sim.camera.dir, 'current'), 'utf8').trim();
  } catch {
    return 'unknown';
  }
  const frame = /\/frames\/([\w.-]+)\.jpg$/.exec(current);
  if (frame) return frame[1]!;
  if (current.startsWith('fail ')) return `fail: ${current.slice(5)}`;
  return current;
}

function originHost(origin: string): string {
  try {
    const u = new URL(origin);
    return u.protocol === 'http:' ? u.host.toLowerCase() : '';
  } catch {
    return '';
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...SECURITY_HEADERS });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error(`request body over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let v: unknown;
  try {
    v = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new Error('the body is not JSON');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('the body must be a JSON object');
  return v as Record<string, unknown>;
}

/** The page's files, next to this module under tsx (hw-sim/web/public) and in dist once the build copies them. */
function loadStatic(): Record<string, Buffer> {
  for (const rel of ['./public/', '../../../hw-sim/web/public/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, 'index.html'))) return Object.fromEntries(Object.values(STATIC).map((f) => [f.file, readFileSync(join(dir, f.file))]));
  }
  throw new Error('hw-sim/web/public/index.html not found next to the web panel (the build copies hw-sim/web/public to dist/hw-sim/web/public)');
}
