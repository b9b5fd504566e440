import type { Server } from 'node:net';

/** Listens on 127.0.0.1 (`port` 0: any free port) and resolves with the port it got. */
export async function listenLoopback(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address();
  return a && typeof a !== 'string' ? a.port : port;
}
