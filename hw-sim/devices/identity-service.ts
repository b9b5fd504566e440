import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { SimFaces } from '../faces.js';
import { listenLoopback } from './listen.js';

export type IdentityFault = 'none' | 'http-500' | 'slow' | 'down';

export interface IdentityServiceOptions {
  /** When set, a request without `Authorization: Bearer <token>` is answered 401. */
  readonly token?: string;
}

/**
 * A virtual identity service (a patient registry, or a chip-reader bridge). It speaks the
 * protocol in src/identity/portrait-client.ts: `POST /portrait` with `{"cccd":"…"}` is answered
 * with the sample identity's portrait as image/jpeg, or 404. A test or a technician can make
 * it fail: HTTP 500, slow answers, or down (connections are dropped).
 */
export class IdentityServiceSim {
  private fault: IdentityFault = 'none';
  private delayMs = 30_000;
  private requests = 0;
  private readonly withheld = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    private readonly faces: SimFaces,
    private readonly token: string | undefined,
    readonly url: string,
  ) {}

  static async start(faces: SimFaces, opts: IdentityServiceOptions = {}): Promise<IdentityServiceSim> {
    const server = createServer();
    const port = await listenLoopback(server, 0);
    const sim = new IdentityServiceSim(server, faces, opts.token, `http://127.0.0.1:${port}`);
    // A new connection is dropped at once while down. A kept-alive one is dropped in handle().
    server.on('connection', (socket) => {
      if (sim.fault === 'down') socket.destroy();
    });
    server.on('request', (req, res) => sim.handle(req, res));
    return sim;
  }

  /** `slow`: every answer comes `delayMs` late (default 30 s, longer than any client timeout). */
  setFault(fault: IdentityFault, opts: { delayMs?: number } = {}): void {
    this.fault = fault;
    this.delayMs = opts.delayMs ?? 30_000;
  }

  /** The service answers 404 for this card, as a registry without the patient's photo does. */
  withhold(idNumber: string): void {
    this.withheld.add(idNumber);
  }

  restore(idNumber: string): void {
    this.withheld.delete(idNumber);
  }

  stats(): { requests: number } {
    return { requests: this.requests };
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    if (this.fault === 'down') {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      // {"cccd":"<12 digits>"} is 21 bytes; a longer body is not a portrait request.
      if (size > 1024) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      const answer = (): void => this.answer(req, res, Buffer.concat(chunks).toString('utf8'));
      if (this.fault !== 'slow') return answer();
      const t = setTimeout(() => {
        this.timers.delete(t);
        answer();
      }, this.delayMs);
      this.timers.add(t);
      // The client gave up (its timeout): nobody is left to answer.
      res.once('close', () => {
        clearTimeout(t);
        this.timers.delete(t);
      });
    });
  }

  private answer(req: IncomingMessage, res: ServerResponse, body: string): void {
    const text = (status: number, msg: string): void => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(msg + '\n');
    };
    if (req.url !== '/portrait') return text(404, 'no such endpoint: POST /portrait');
    if (req.method !== 'POST') return text(405, 'POST only');
    if (this.token !== undefined && req.headers.authorization !== `Bearer ${this.token}`) return text(401, 'bearer token missing or wrong');
    if (this.fault === 'http-500') return text(500, 'simulated fault');
    let cccd: unknown;
    try {
      cccd = (JSON.parse(body) as { cccd?: unknown }).cccd;
    } catch {
      return text(400, 'the body must be JSON: {"cccd":"<12 digits>"}');
    }
    if (typeof cccd !== 'string' || !/^\d{12}$/.test(cccd)) return text(400, 'cccd must be a string of 12 digits');
    const portrait = this.withheld.has(cccd) ? null : this.faces.portraitOf(cccd);
    if (!portrait) return text(404, 'no portrait for this card');
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': portrait.byteLength, 'cache-control': 'no-store' }).end(portrait);
  }
}
