import { closeSync, openSync, writeSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { cccdPayload, type SampleIdentity } from '../identities.js';
import { openPtyPair, socatAvailable, type PtyPair } from './pty.js';

export type ScannerLink = 'pty' | 'tcp';

/**
 * A virtual CCCD scanner. The daemon reaches it with its real serial driver: through a real
 * pseudo-terminal pair made by socat (`pty`), or as `tcp://127.0.0.1:PORT` (`tcp`). Unplugging
 * it really closes the device, as pulling a USB-CDC scanner does.
 */
export class VirtualScanner {
  private socat: PtyPair | null = null;
  private fd: number | null = null;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  private constructor(
    readonly link: ScannerLink,
    private readonly dir: string,
  ) {}

  static socatAvailable(): boolean {
    return socatAvailable();
  }

  static async start(link: ScannerLink, dir: string): Promise<VirtualScanner> {
    if (link === 'pty' && !VirtualScanner.socatAvailable())
      throw new Error('the pty scanner needs socat: apt-get install socat (or use the tcp scanner)');
    const s = new VirtualScanner(link, dir);
    await s.plug();
    return s;
  }

  /** What the daemon's config points at. */
  get daemonPath(): string {
    return this.link === 'pty' ? join(this.dir, 'scanner') : `tcp://127.0.0.1:${this.port}`;
  }

  get plugged(): boolean {
    return this.link === 'pty' ? this.socat !== null : this.server !== null;
  }

  async scan(identity: SampleIdentity, o: { form?: '7-field' | '6-field'; terminator?: string } = {}): Promise<void> {
    await this.send(cccdPayload(identity, o.form) + (o.terminator ?? '\r\n'));
  }

  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    if (this.link === 'pty') {
      if (this.fd === null) throw new Error('the scanner is unplugged');
      writeSync(this.fd, bytes);
    } else {
      for (const s of this.sockets) s.write(bytes);
    }
  }

  /** Sends bytes in small pieces with pauses, like a slow or flaky scanner. */
  async trickle(data: string, o: { chunk?: number; pauseMs?: number } = {}): Promise<void> {
    const bytes = Buffer.from(data, 'utf8');
    const chunk = o.chunk ?? 3;
    for (let i = 0; i < bytes.length; i += chunk) {
      await this.send(bytes.subarray(i, i + chunk));
      await sleep(o.pauseMs ?? 15);
    }
  }

  async unplug(): Promise<void> {
    if (this.link === 'pty') {
      if (this.fd !== null) closeSync(this.fd);
      this.fd = null;
      const p = this.socat;
      this.socat = null;
      await p?.close();
    } else {
      for (const s of this.sockets) s.destroy();
      const srv = this.server;
      this.server = null;
      if (srv) await new Promise<void>((r) => srv.close(() => r()));
    }
  }

  async plug(): Promise<void> {
    if (this.plugged) return;
    if (this.link === 'pty') {
      this.socat = await openPtyPair(this.dir, 'scanner');
      this.fd = openSync(this.socat.simEnd, 'w');
    } else {
      const server = createServer((sock) => {
        this.sockets.add(sock);
        sock.on('close', () => this.sockets.delete(sock));
        sock.on('error', () => {});
      });
      await new Promise<void>((r, j) => (server.once('error', j), server.listen(this.port, '127.0.0.1', () => r())));
      const a = server.address();
      if (a && typeof a !== 'string') this.port = a.port;
      this.server = server;
    }
  }

  /** For tcp: true once the daemon has connected, so a test can wait before scanning. */
  connected(): boolean {
    return this.link === 'pty' ? this.fd !== null : this.sockets.size > 0;
  }

  async stop(): Promise<void> {
    await this.unplug();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
