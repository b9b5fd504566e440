import { createServer, type Server } from 'node:http';
import { listenLoopback } from './listen.js';

/**
 * "Somewhere else": the target of a simulated redirect. It records every request that reaches
 * it (method, path, bytes of body) and answers with what it was given, by default something a
 * client would gladly accept. A test redirects a service here and checks nothing arrived.
 */
export class RequestRecorder {
  private readonly seen: { method: string; path: string; bytes: number }[] = [];
  private connections = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(answer: { status?: number; contentType?: string; body?: string | Uint8Array } = {}): Promise<RequestRecorder> {
    const server = createServer();
    const port = await listenLoopback(server, 0);
    const rec = new RequestRecorder(server, `http://127.0.0.1:${port}`);
    server.on('connection', () => rec.connections++);
    server.on('request', (req, res) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        rec.seen.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, bytes });
        res
          .writeHead(answer.status ?? 200, { 'content-type': answer.contentType ?? 'application/json; charset=utf-8' })
          .end(answer.body ?? '{"maKetQua":"000"}');
      });
    });
    return rec;
  }

  /** What reached this server: connections opened and requests received (bodies not kept). */
  received(): { connections: number; requests: readonly { method: string; path: string; bytes: number }[] } {
    return { connections: this.connections, requests: [...this.seen] };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
