import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { SimFaces } from '../faces.js';
import { listenLoopback } from './listen.js';

export type IdentityFault = 'none' | 'http-500' | 'slow' | 'down' | 'redirect';

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
  private location = 'http://127.0.0.1:9/elsewhere';
  private readonly withheld = new Set<string>();
  private readonly served = new Map<string, Uint8Array>();
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

  /**
   * `slow`: every answer comes `delayMs` late (default 30 s, longer than any client timeout).
   * `redirect`: every answer is a 307 to `location` (e.g. a RequestRecorder's URL).
   */
  setFault(fault: IdentityFault, opts: { delayMs?: number; location?: string } = {}): void {
    this.fault = fault;
    this.delayMs = opts.delayMs ?? 30_000;
    if (opts.location !== undefined) this.location = opts.location;
  }

  /** The fault set now. */
  get currentFault(): IdentityFault {
    return this.fault;
  }

  /** This card's portrait is these bytes, whatever they are (a crafted or broken JPEG); `null` undoes it. */
  serve(idNumber: string, bytes: Uint8Array | null): void {
    if (bytes) this.served.set(idNumber, new Uint8Array(bytes));
    else this.served.delete(idNumber);
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
    if (this.fault === 'redirect') {
      res.writeHead(307, { location: new URL('/portrait', this.location).href, 'content-type': 'text/plain; charset=utf-8' }).end('moved\n');
      return;
    }
    let cccd: unknown;
    try {
      cccd = (JSON.parse(body) as { cccd?: unknown }).cccd;
    } catch {
      return text(400, 'the body must be JSON: {"cccd":"<12 digits>"}');
    }
    if (typeof cccd !== 'string' || !/^\d{12}$/.test(cccd)) return text(400, 'cccd must be a string of 12 digits');
    const portrait = this.withheld.has(cccd) ? null : (this.served.get(cccd) ?? this.faces.portraitOf(cccd));
    if (!portrait) return text(404, 'no portrait for this card');
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': portrait.byteLength, 'cache-control': 'no-store' }).end(portrait);
  }
}
