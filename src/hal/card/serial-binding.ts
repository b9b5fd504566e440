import { read } from 'node:fs';
import { promisify } from 'node:util';

const readAsync = promisify(read);

/**
 * serialport's Linux binding with one fix: a tty that has been hung up (a USB-CDC scanner
 * pulled out, the far end of a pty gone) reads 0 bytes forever, and the stock reader retries
 * that in a tight loop: 100 % CPU, a growing heap, and the unplug never reported. Here a
 * 0-byte read is a disconnect, which closes the port as `disconnected`. (Once poll says
 * readable, a raw tty with VMIN=1 reads 0 bytes only after a hang-up.)
 */
export async function hangupAwareBinding(): Promise<object> {
  const { LinuxBinding, autoDetect } = await import('@serialport/bindings-cpp');
  if (process.platform !== 'linux') return autoDetect();
  // unixRead takes its fs read as a parameter; the deep import is the only way to reach it.
  const { unixRead } = await import('@serialport/bindings-cpp/dist/unix-read.js');
  const fsReadAsync = (async (fd: number, buffer: Buffer, offset: number, length: number, position: null) => {
    const r = await readAsync(fd, buffer, offset, length, position);
    if (r.bytesRead === 0) throw Object.assign(new Error('device hung up (unplugged)'), { code: 'ENXIO' });
    return r;
  }) as typeof readAsync;
  return {
    ...LinuxBinding,
    list: () => LinuxBinding.list(),
    async open(options: Parameters<typeof LinuxBinding.open>[0]) {
      const port = await LinuxBinding.open(options);
      port.read = (buffer, offset, length) => unixRead({ binding: port, buffer, offset, length, fsReadAsync });
      return port;
    },
  };
}
