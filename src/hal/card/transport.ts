import { connectTcp } from '../../platform/tcp-connect.js';
import { hangupAwareBinding } from './serial-binding.js';

/**
 * A byte stream from a scanner: a serial device (USB-CDC /dev/ttyACM…, a pty in hw-sim) or a
 * TCP socket (`tcp://host:port`: a serial-over-network adapter, or hw-sim). The reader does
 * not care which.
 */
export interface ByteLink {
  onData(listener: (chunk: Uint8Array) => void): void;
  /** Called once when the link ends for any reason (unplug, EIO, socket closed). */
  onClose(listener: (reason: string) => void): void;
  close(): void;
}

export type LinkOpener = (signal: AbortSignal) => Promise<ByteLink>;

export function linkOpenerFor(path: string, baudRate: number): LinkOpener {
  const tcp = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(path);
  return tcp ? tcpLink(tcp[1]!, Number(tcp[2])) : serialLink(path, baudRate);
}

/** A serial-over-network adapter that does not answer within this is treated as absent. */
const TCP_CONNECT_TIMEOUT_MS = 3000;

function tcpLink(host: string, port: number): LinkOpener {
  return async (signal) => {
    const socket = await connectTcp(host, port, signal, TCP_CONNECT_TIMEOUT_MS);
    let closed: ((reason: string) => void) | null = null;
    let reason = 'connection closed';
    socket.on('error', (err) => (reason = err.message));
    socket.on('close', () => closed?.(reason));
    return {
      onData: (l) => socket.on('data', (d: Buffer) => l(d)),
      onClose: (l) => (closed = l),
      close: () => socket.destroy(),
    };
  };
}

function serialLink(path: string, baudRate: number): LinkOpener {
  return async (signal) => {
    // serialport ships its native binding prebuilt; still loaded only when a serial scanner is configured.
    const { SerialPort } = await import('serialport');
    // SerialPort accepts a binding at run time; its option type just does not say so.
    const options = { path, baudRate, autoOpen: false, lock: true, binding: await hangupAwareBinding() };
    const port = new SerialPort(options as ConstructorParameters<typeof SerialPort>[0]);
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      port.open((err) => {
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else if (signal.aborted)
          port.close(() => {}); // opened after we gave up: don't hold the device
        else resolve();
      });
    });
    let closed: ((reason: string) => void) | null = null;
    let reason = 'device closed';
    port.on('error', (err: Error) => (reason = err.message));
    // serialport notices an unplug only while something reads the port: the data listener
    // below is always attached before anything else can happen.
    port.on('close', (err?: Error & { disconnected?: boolean }) => closed?.(err?.disconnected ? 'device disconnected' : (err?.message ?? reason)));
    return {
      onData: (l) => port.on('data', (d: Buffer) => l(d)),
      onClose: (l) => (closed = l),
      close: () => {
        if (port.isOpen) port.close(() => {});
      },
    };
  };
}
