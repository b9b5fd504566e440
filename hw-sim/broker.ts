import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBroker {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** Drops every client at once and stops listening, like a broker that died. Closing twice is harmless. */
  close(): Promise<void>;
  /**
   * A fresh broker on the same address after `close()`, as a restarted broker without
   * persistence: clients reconnect, retained messages are gone until publishers send them again.
   */
  reopen(): Promise<void>;
  /** False between `close()` and `reopen()`. */
  readonly running: boolean;
}

/**
 * The embedded MQTT broker that `npm start` and the tests use (aedes, in memory, MQTT 3.1.1
 * only: the daemon's `protocol: auto` falls back to 3.1.1 against it). Production kiosks talk
 * to a real broker; CI also runs the MQTT tests against mosquitto.
 */
export async function startEmbeddedBroker(opts: { host?: string; port?: number } = {}): Promise<EmbeddedBroker> {
  const host = opts.host ?? '127.0.0.1';
  let current: { server: Server; aedes: Aedes; sockets: Set<Socket> } | null = await listen(host, opts.port ?? 0);
  const address = current.server.address();
  if (address === null || typeof address === 'string') throw new Error('broker has no TCP address');
  const port = address.port;
  return {
    host,
    port,
    url: `mqtt://${host}:${port}`,
    get running() {
      return current !== null;
    },
    async close() {
      const c = current;
      current = null;
      if (!c) return;
      for (const s of c.sockets) s.destroy();
      await new Promise<void>((resolve) => c.server.close(() => resolve()));
      await new Promise<void>((resolve) => c.aedes.close(() => resolve()));
    },
    async reopen() {
      if (current) return;
      current = await listen(host, port);
    },
  };
}

async function listen(host: string, port: number): Promise<{ server: Server; aedes: Aedes; sockets: Set<Socket> }> {
  const aedes = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    throw err;
  }
  return { server, aedes, sockets };
}

/** True if something already listens on host:port (a broker left running, a local mosquitto …). */
export async function portInUse(host: string, port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(true));
    probe.listen(port, host, () => probe.close(() => resolve(false)));
  });
}
