// The optional native package is not installed in every tree (its epoll dependency needs a
// compiler), so its own types may be missing; only what kioskd calls is declared (onoff 6.0.x).
declare module 'onoff' {
  export type BinaryValue = 0 | 1;
  export type Direction = 'in' | 'out' | 'high' | 'low';
  export type Edge = 'none' | 'rising' | 'falling' | 'both';
  export interface Options {
    debounceTimeout?: number;
    activeLow?: boolean;
    reconfigureDirection?: boolean;
  }
  export type ValueCallback = (err: Error | null | undefined, value: BinaryValue) => void;

  /** `gpio` is the global sysfs number (chip base + line), not the BCM number. Throws when export fails. */
  export class Gpio {
    /** False when /sys/class/gpio/export cannot be opened for writing. */
    static readonly accessible: boolean;
    constructor(gpio: number, direction: Direction, edge?: Edge, options?: Options);
    constructor(gpio: number, direction: Direction, options?: Options);
    readSync(): BinaryValue;
    writeSync(value: BinaryValue): void;
    watch(callback: ValueCallback): void;
    unwatchAll(): void;
    unexport(): void;
  }
}
