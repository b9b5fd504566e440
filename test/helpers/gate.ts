import { createServer, connect, type Socket, type Server } from 'node:net';

/**
 * A TCP pass-through the test can close: while closed, new connections are dropped at once.
 * It lets a test restart a broker and attach its monitor before the kiosk gets back in.
 */
export class Gate {
  private open = true;
  /** While frozen, connections stay up but nothing gets through: a broker that stopped answering. */
  frozen = false;
  /** Connection attempts seen, let through or not. */
  attempts = 0;
  private readonly live = new Set<Socket>();
  private server!: Server;
  port = 0;

  static async start(targetPort: number): Promise<Gate> {
    const gate = new Gate();
    const server = createServer((client) => {
      gate.attempts++;
      if (!gate.open) {
        client.destroy();
        return;
      }
      const upstream = connect(targetPort, '127.0.0.1');
      gate.live.add(client).add(upstream);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        gate.live.delete(client);
        gate.live.delete(upstream);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      // Forwarded by hand (not pipe) so that freeze() can swallow traffic on live connections.
      client.on('data', (d: Buffer) => void (gate.frozen || upstream.write(d)));
      upstream.on('data', (d: Buffer) => void (gate.frozen || client.write(d)));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    gate.server = server;
    gate.port = addr.port;
    return gate;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  setOpen(open: boolean): void {
    this.open = open;
  }

  /** Cuts every live connection, as a network blip would; new ones are let through. */
  dropAll(): void {
    for (const s of this.live) s.destroy();
  }

  async stop(): Promise<void> {
    for (const s of this.live) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** A broker with a Gate in front, both torn down with the test. */
export async function brokerBehindGate<B extends { port: number; stop(): Promise<void> }>(
  t: { teardown(fn: () => Promise<void>): void },
  start: () => Promise<B>,
): Promise<{ broker: B; gate: Gate }> {
  const broker = await start();
  const gate = await Gate.start(broker.port);
  t.teardown(async () => {
    await gate.stop();
    await broker.stop();
  });
  return { broker, gate };
}
