/**
 * hw-sim's virtual CCCD on a thread of its own, for tests against a real pcscd. The PC/SC
 * binding's disconnect is synchronous, and pcscd may be waiting for the card's answer to its
 * presence poll at that moment: with the card on the test's thread each waits for the other
 * (observed). On a kiosk the card is real, or in the hw-sim process, never on kioskd's thread.
 * This module is both the test's handle (main thread) and the worker's entry.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { FileName } from '../../src/chip/read-chip.js';
import type { CardSecurity, CardSecrets } from '../../hw-sim/chip/card-security.js';
import type { ChipFaults, PlacedCardState } from '../../hw-sim/chip/virtual-cccd.js';

export interface CardThreadSpec {
  /** vpcd's port for the slot. */
  readonly port: number;
  readonly files: ReadonlyMap<FileName, Uint8Array>;
  /** pass-through: MSE:Set AT "authenticates", CLA 0C commands pass unchanged; or the card's real PACE/BAC and SM. */
  readonly security: 'pass-through' | CardSecrets;
  readonly faults?: ChipFaults;
}

export interface CardThread {
  connected(): Promise<void>;
  setFaults(faults: ChipFaults): void;
  /** As last reported by the card's thread. */
  state(): PlacedCardState;
  answered(): number;
  /** Power-offs and resets the card saw. */
  resets(): number;
  /** Slow-fault waits the card started. */
  slowWaits(): number;
  /** Takes the card off the reader and ends its thread. */
  remove(): Promise<void>;
}

interface Status {
  readonly state: PlacedCardState;
  readonly answered: number;
  readonly resets: number;
  readonly slowWaits: number;
}
type ToCard = { type: 'faults'; faults: ChipFaults } | { type: 'remove' };

export function startCardThread(spec: CardThreadSpec): CardThread {
  const here = import.meta.url;
  const src = `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}); register(); await import(${JSON.stringify(here)});`;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(src)}`), {
    workerData: { cardThread: { ...spec, files: [...spec.files] } },
  });
  let status: Status = { state: 'connecting', answered: 0, resets: 0, slowWaits: 0 };
  const waiters = new Set<() => void>();
  let failure: Error | null = null;
  const exited = new Promise<void>((r) => worker.once('exit', () => r()));
  worker.on('message', (s: Status) => {
    status = s;
    for (const w of [...waiters]) w();
  });
  worker.on('error', (e) => {
    failure = e;
    for (const w of [...waiters]) w();
  });
  const send = (m: ToCard): void => worker.postMessage(m);
  return {
    connected: () =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (failure) reject(failure);
          else if (status.state === 'connected') resolve();
          else if (status.state === 'closed' || status.state === 'no-chip') reject(new Error(`the card is ${status.state}`));
          else return;
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    setFaults: (faults) => send({ type: 'faults', faults }),
    state: () => status.state,
    answered: () => status.answered,
    resets: () => status.resets,
    slowWaits: () => status.slowWaits,
    async remove() {
      send({ type: 'remove' }); // ignored once the thread has ended
      await exited;
    },
  };
}

/** Accepts any MSE:Set AT as a finished authentication; protected commands pass unchanged. */
function passThroughSecurity(): CardSecurity {
  let secured = false;
  return {
    authenticate: (apdu) => ((apdu[0]! & 0x0c) === 0 && apdu[1] === 0x22 ? ((secured = true), Uint8Array.of(0x90, 0x00)) : null),
    get secured() {
      return secured;
    },
    unwrap: (apdu) =>
      secured ? { ok: true, plain: Uint8Array.of(apdu[0]! & ~0x0c, ...apdu.subarray(1)) } : { ok: false, response: Uint8Array.of(0x69, 0x88) },
    wrap: (r) => r,
    reset() {
      secured = false;
    },
  };
}

async function runCard(spec: Omit<CardThreadSpec, 'files'> & { files: [FileName, Uint8Array][] }): Promise<void> {
  const { createVirtualCccd, placeCard } = await import('../../hw-sim/chip/virtual-cccd.js');
  const { createCardSecurity } = await import('../../hw-sim/chip/card-security.js');
  const port = parentPort!;
  const security = spec.security === 'pass-through' ? passThroughSecurity() : createCardSecurity(spec.security);
  const chip = createVirtualCccd({ files: new Map(spec.files), security });
  let [resets, slowWaits] = [0, 0];
  const report = (): void => port.postMessage({ state: placed.state(), answered: placed.answered(), resets, slowWaits } satisfies Status);
  const counted = {
    ...chip,
    power(code: 0 | 1 | 2) {
      if (code !== 1) resets++;
      chip.power(code);
      report();
    },
    process(apdu: Uint8Array) {
      const r = chip.process(apdu);
      queueMicrotask(report); // after placeCard has counted it
      return r;
    },
  };
  const sleep = (ms: number): Promise<void> => {
    slowWaits++;
    report();
    return new Promise((r) => setTimeout(r, ms));
  };
  const placed = placeCard(counted, { port: spec.port, retryMs: 50, sleep, ...(spec.faults ? { faults: spec.faults } : {}) });
  const watch = setInterval(report, 50); // the link's own state changes (connected, dropped)
  port.on('message', (m: ToCard) => {
    if (m.type === 'faults') placed.setFaults(m.faults);
    if (m.type === 'remove') {
      placed.remove();
      clearInterval(watch);
      report();
      port.close();
    }
    report();
  });
  report();
}

const data = workerData as { cardThread?: Parameters<typeof runCard>[0] } | null;
if (!isMainThread && data?.cardThread) void runCard(data.cardThread);
