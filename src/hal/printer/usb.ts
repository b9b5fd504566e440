import { PortFaultError } from '../supervised-port.js';
import { Answers, ask, type PrinterLink, type PrinterLinkOpener } from './transport.js';

/**
 * A USB printer by vendor/product id, straight through libusb with the optional `usb` module
 * (pinned to 2.9.0: the version whose API escpos' adapters were written for, deps.md §6). It
 * claims the printer-class interface (detaching the kernel's usblp driver if bound), sends
 * jobs to the bulk OUT endpoint and reads DLE EOT answers from the bulk IN endpoint. The escpos
 * packages are not used: their encoders are not needed, only this transport. Prefer the
 * `device` driver (/dev/usb/lp0) when the kernel driver works; this is for printers it does not.
 */
interface Endpoint {
  direction: 'in' | 'out';
  timeout: number;
  transfer(data: Buffer | number, cb: (err: unknown, data?: Buffer) => void): unknown;
}
interface Interface {
  descriptor: { bInterfaceClass: number };
  endpoints: Endpoint[];
  isKernelDriverActive(): boolean;
  detachKernelDriver(): void;
  claim(): void;
  release(closeEndpoints: boolean, cb: (err?: unknown) => void): void;
}
interface Device {
  open(): void;
  close(): void;
  interfaces: Interface[] | undefined;
}
interface UsbModule {
  findByIds(vid: number, pid: number): Device | undefined;
  usb: { on(event: 'detach', fn: (d: Device) => void): void; removeListener(event: 'detach', fn: (d: Device) => void): void };
}

const USB_CLASS_PRINTER = 7;

export function usbPrinter(vendorId: number, productId: number, loadUsb: () => Promise<unknown> = () => import('usb')): PrinterLinkOpener {
  const where = `usb ${hex(vendorId)}:${hex(productId)}`;
  return async (signal) => {
    if (signal.aborted) throw new Error('aborted');
    let usb: UsbModule;
    try {
      usb = (await loadUsb()) as UsbModule;
    } catch {
      throw new PortFaultError({
        code: 'not-installed',
        reason: 'the optional "usb" module is not installed (npm install usb@2.9.0; needs libudev1)',
      });
    }
    const device = usb.findByIds(vendorId, productId);
    if (!device) throw Object.assign(new Error(`no printer at ${where}`), { code: 'ENOENT' });
    device.open();
    const iface = device.interfaces?.find((i) => i.descriptor.bInterfaceClass === USB_CLASS_PRINTER) ?? device.interfaces?.[0];
    if (!iface) {
      device.close();
      throw new Error(`${where} has no interface`);
    }
    let out: (typeof iface.endpoints)[number] | undefined;
    let inp: (typeof iface.endpoints)[number] | undefined;
    try {
      if (iface.isKernelDriverActive()) iface.detachKernelDriver();
      iface.claim();
      out = iface.endpoints.find((e) => e.direction === 'out');
      inp = iface.endpoints.find((e) => e.direction === 'in');
      if (!out) throw new Error(`${where} has no bulk OUT endpoint`);
    } catch (err) {
      device.close(); // every reconnect attempt would otherwise leak a device handle
      throw err;
    }
    let closed: ((reason: string) => void) | null = null;
    let open = true;
    const answers = new Answers();
    const end = (reason: string): void => {
      if (!open) return;
      open = false;
      usb.usb.removeListener('detach', onDetach);
      answers.clear();
      iface.release(true, () => {
        try {
          device.close();
        } catch {
          // already gone
        }
      });
      closed?.(reason);
    };
    const onDetach = (d: Device): void => {
      if (d === device) end('the printer was unplugged');
    };
    usb.usb.on('detach', onDetach);
    const transfer = (ep: Endpoint, data: Buffer | number, timeoutMs: number, sig: AbortSignal): Promise<Buffer | undefined> =>
      new Promise((resolve, reject) => {
        if (sig.aborted) return reject(new Error('aborted'));
        ep.timeout = timeoutMs;
        ep.transfer(data, (err, got) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(got)));
      });
    // The IN endpoint is read continuously; answers to DLE EOT and GS r are matched as they come.
    const readIn = async (): Promise<void> => {
      while (open && inp) {
        try {
          const got = await transfer(inp, 64, 200, new AbortController().signal);
          if (got) for (const b of got) answers.take(b);
        } catch (e) {
          if (!/TIMED_OUT|TIMEOUT/i.test(String((e as Error).message))) await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    void readIn();
    const send = async (bytes: Uint8Array, sig: AbortSignal): Promise<void> => {
      for (let off = 0; off < bytes.length; off += 4096) {
        if (sig.aborted) throw new Error('aborted');
        if (!open) throw new Error('the printer link is closed');
        await transfer(out, Buffer.from(bytes.subarray(off, off + 4096)), 10_000, sig);
      }
    };
    const link: PrinterLink = {
      write: send,
      query: (n, timeoutMs, sig) => ask(answers.waitStatus(timeoutMs, sig), () => send(Uint8Array.of(0x10, 0x04, n), sig)),
      confirm: (timeoutMs, sig) => ask(answers.waitInOrder(timeoutMs, sig), () => send(Uint8Array.of(0x1d, 0x72, 0x01), sig)),
      onClose: (l) => (closed = l),
      close: () => end('closed by kioskd'),
    };
    return link;
  };
}

const hex = (n: number): string => n.toString(16).padStart(4, '0');
