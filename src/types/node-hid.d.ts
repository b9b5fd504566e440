// The optional native package is not installed in every tree, so its own types may be missing;
// only what kioskd calls is declared (node-hid 3.x: HID, devices).
declare module 'node-hid' {
  import type { EventEmitter } from 'node:events';

  export interface Device {
    vendorId: number;
    productId: number;
    path?: string | undefined;
    usagePage?: number | undefined;
    usage?: number | undefined;
    interface: number;
  }

  /** Opening a missing or inaccessible device throws (a TypeError, in 3.4). Emits 'data' (Buffer) and 'error'. */
  export class HID extends EventEmitter {
    constructor(path: string);
    constructor(vid: number, pid: number);
    close(): void;
  }

  /** Throws ERR_DLOPEN_FAILED on first use when libusb-1.0.so.0 is missing. */
  export function devices(): Device[];
  export function devices(vid: number, pid: number): Device[];
}
