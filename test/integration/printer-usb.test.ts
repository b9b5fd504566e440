import test from 'ava';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { createTicketPrinter } from '../../src/hal/printer/printer.js';
import { usbPrinter } from '../../src/hal/printer/usb.js';
import type { TicketPrinter } from '../../src/hal/ports.js';
import { systemClock } from '../../src/util/clock.js';
import { until } from '../helpers/wait.js';

// No USB on this machine (deps.md): the libusb module is replaced by a fake with the usb@2 API
// surface the driver uses, which answers DLE EOT like a printer.
function fakeUsb(o: { paper: 'ok' | 'out' }) {
  const bus = new EventEmitter();
  const received: number[] = [];
  const answers: number[] = [];
  const state = { attached: true, claimed: false, detached: false, handle: 0 };
  const device = {
    open() {},
    close: () => void state.handle++, // like libusb: closing cancels the transfers in flight
    interfaces: [
      {
        descriptor: { bInterfaceClass: 7 },
        isKernelDriverActive: () => true,
        detachKernelDriver: () => void (state.detached = true),
        claim: () => void (state.claimed = true),
        release: (_c: boolean, cb: () => void) => cb(),
        endpoints: [
          {
            direction: 'out',
            timeout: 0,
            transfer(data: Buffer, cb: (err: unknown) => void) {
              received.push(...data);
              if (data.length === 3 && data[0] === 0x10 && data[1] === 0x04) {
                const n = data[2];
                answers.push(n === 4 && o.paper === 'out' ? 0x72 : n === 2 && o.paper === 'out' ? 0x32 : n === 1 && o.paper === 'out' ? 0x1a : 0x12);
              }
              if (data.length === 3 && data[0] === 0x1d && data[1] === 0x72) answers.push(0x00); // GS r 1: printed
              setImmediate(() => cb(undefined));
            },
          },
          {
            direction: 'in',
            timeout: 0,
            transfer(this: { timeout: number }, _len: number, cb: (err: unknown, d?: Buffer) => void) {
              // Like libusb: wait for data up to the endpoint's timeout.
              const until = Date.now() + this.timeout;
              const handle = state.handle;
              const poll = (): void => {
                if (state.handle !== handle) return cb(new Error('LIBUSB_TRANSFER_CANCELLED'));
                const b = answers.shift();
                if (b !== undefined) cb(undefined, Buffer.from([b]));
                else if (Date.now() >= until) cb(new Error('LIBUSB_TRANSFER_TIMED_OUT'));
                else setTimeout(poll, 5);
              };
              poll();
            },
          },
        ],
      },
    ],
  };
  const mod = { findByIds: (v: number, p: number) => (state.attached && v === 0x0416 && p === 0x5011 ? device : undefined), usb: bus };
  return { mod, received, state, unplug: () => ((state.attached = false), bus.emit('detach', device)), plug: () => (state.attached = true) };
}

function port(loadUsb: () => Promise<unknown>): TicketPrinter {
  return createTicketPrinter(
    {
      driver: 'escpos-usb',
      where: 'usb 0416:5011',
      openLink: usbPrinter(0x0416, 0x5011, loadUsb),
      pollMs: 100,
      statusTimeoutMs: 500,
      jobTimeoutMs: 5000,
      reconnect: { baseMs: 50, maxMs: 100 },
    },
    { clock: systemClock(), log: pino({ level: 'silent' }), random: Math.random },
  );
}

test('USB by vendor/product id: claims the printer interface, sends the job to bulk OUT, reads status from bulk IN; unplug and replug', async (t) => {
  const usb = fakeUsb({ paper: 'ok' });
  const p = port(async () => usb.mod);
  t.teardown(() => p.close());
  await p.open(new AbortController().signal);
  await until(() => p.state().kind === 'ready', 3000, 'ready');
  t.true(usb.state.claimed && usb.state.detached, 'the kernel usblp driver is detached and the interface claimed');
  const job = Uint8Array.from({ length: 10_000 }, (_, i) => 0x20 + (i % 90));
  const before = usb.received.length;
  t.like(await p.print(job, AbortSignal.timeout(5000)), { ok: true, bytes: 10_000 });
  t.true(Buffer.from(usb.received.slice(before)).includes(Buffer.from(job)));
  usb.unplug();
  await until(() => p.state().kind === 'faulted', 3000, 'faulted on detach');
  usb.plug();
  await until(() => p.state().kind === 'ready', 3000, 'ready again');
});

test('USB: paper out is read from the printer; no device → "device not present"; no usb module → says how to install it', async (t) => {
  const empty = fakeUsb({ paper: 'out' });
  const p1 = port(async () => empty.mod);
  t.teardown(() => p1.close());
  await p1.open(new AbortController().signal);
  await until(() => p1.state().kind === 'faulted', 3000, 'faulted');
  t.like(p1.state(), { kind: 'faulted', reason: 'paper-out' });

  const gone = fakeUsb({ paper: 'ok' });
  gone.state.attached = false;
  const p2 = port(async () => gone.mod);
  t.teardown(() => p2.close());
  await p2.open(new AbortController().signal);
  await until(() => p2.state().kind === 'faulted', 3000, 'faulted');
  t.like(p2.state(), { kind: 'faulted', reason: 'device not present' });

  const p3 = port(() => Promise.reject(new Error("Cannot find package 'usb'")));
  t.teardown(() => p3.close());
  await p3.open(new AbortController().signal);
  await until(() => p3.state().kind === 'faulted', 3000, 'faulted');
  t.regex((p3.state() as { reason: string }).reason, /optional "usb" module is not installed/);
});
