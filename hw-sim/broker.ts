import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBroker {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** Drops every client at once and stops listening, like a broker that died. */
  close(): Promise<void>;
}

/**
 * The embedded MQTT broker that `npm start` and the tests use (aedes, in memory, MQTT 3.1.1
 * only: the daemon's `protocol: auto` falls back to 3.1.1 against it). Production kiosks talk
 * to a real broker; CI also runs the MQTT tests against mosquitto.
 */
export async function startEmbeddedBroker(opts: { host?: string; port?: number } = {}): Promise<EmbeddedBroker> {
  const host = opts.host ?? '127.0.0.1';
  const aedes = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('broker has no TCP address');
  const port = address.port;
  return {
    host,
    port,
    url: `mqtt://${host}:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}

/** True if something already listens on host:port (a broker left running, a local mosquitto …). */
export async function portInUse(host: string, port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(true));
    probe.listen(port, host, () => probe.close(() => resolve(false)));
  });
}
