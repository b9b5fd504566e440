/** Scripted cards and injected randomness for the ICAO worked examples (chip-bac, chip-pace tests). */
import { fromHex, hex, type Transmit } from '../../src/chip/apdu.js';

/** A card that expects exactly these commands (hex), in order, and gives these answers; any other command gets 6A80. */
export function scripted(steps: Array<[string, string]>): { transmit: Transmit; sent: string[] } {
  const sent: string[] = [];
  const transmit: Transmit = async (apdu) => {
    const step = steps[sent.length];
    sent.push(hex(apdu));
    if (step === undefined) throw new Error(`unexpected extra APDU ${hex(apdu)}`);
    return fromHex(hex(apdu) === step[0] ? step[1] : '6A80');
  };
  return { transmit, sent };
}

/** A random source that hands out these values (hex), in order, each only for a request of its length. */
export function queuedRandom(...values: string[]): (n: number) => Uint8Array {
  const queue = values.map(fromHex);
  return (n) => {
    const next = queue.shift();
    if (next === undefined || next.length !== n) throw new Error(`unexpected random request of ${n}`);
    return next;
  };
}
