import { connect, type Socket } from 'node:net';

/**
 * Opens a TCP connection to a device (serial-over-network scanner, network printer) with a
 * connect timeout. The timeout and the caller's signal apply to connecting only: handing them
 * to net.connect itself would tie them to the socket's whole life, and the timeout would cut a
 * healthy connection a few seconds later.
 */
export function connectTcp(host: string, port: number, signal: AbortSignal, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    // TCP keepalive, so a device that lost power (no FIN ever comes) is noticed.
    const socket = connect({ host, port, keepAlive: true, keepAliveInitialDelay: 10_000 });
    const fail = (err: Error): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onAbort = (): void => fail(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    // ETIMEDOUT, so the port classifies it as "unreachable" like a kernel connect timeout.
    const timer = setTimeout(
      () => fail(Object.assign(new Error(`no answer from ${host}:${port} within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    const onError = (err: Error): void => fail(err);
    const cleanup = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('error', onError);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once('connect', () => {
      cleanup();
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}
