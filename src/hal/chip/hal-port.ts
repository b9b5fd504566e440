/**
 * The chip reader as one of the kiosk's ports (ports.ts): its state in `state`, health and alerts
 * like every device (`chip.not-present`, `chip.unreachable`, `chip.not-installed`), and the reader
 * itself for the chip read. The reader exists before the port opens (the check-in is wired at
 * start-up) and says "unavailable" until the PC/SC driver has loaded.
 */
import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../util/clock.js';
import { absentPort } from '../absent.js';
import type { ChipReader, PortState } from '../ports.js';
import { createStateCell } from '../supervised-port.js';
import { openPcscChipReader, type PcscDeps } from './pcsc.js';
import { ChipLinkError, type ChipReaderConfig, type ChipReaderPort, type ChipReaderState } from './port.js';

/** The kiosk's view of the reader's state. Not required by default, so a faulted reader only raises an alert. */
export function portStateOf(state: ChipReaderState, reason: string): PortState {
  switch (state) {
    case 'ready':
      return { kind: 'ready' };
    case 'no-reader':
      return { kind: 'faulted', code: 'not-present', reason };
    case 'no-service':
      return { kind: 'faulted', code: 'unreachable', reason };
    case 'unavailable':
      return { kind: 'faulted', code: 'not-installed', reason };
  }
}

/** chip.enabled is false: the port is absent and its reader never reads. */
export function absentChipReader(reason: string): ChipReader {
  const reader: ChipReaderPort = {
    state: () => 'unavailable',
    reason: () => reason,
    onStateChange: () => () => {},
    onCard: () => () => {},
    connect: () => Promise.reject(new ChipLinkError('unavailable', reason)),
    close: async () => {},
  };
  return { ...absentPort('chip', reason), reader };
}

export interface ChipPortDeps {
  readonly clock: Clock;
  readonly log: Logger;
  /** The driver; the PC/SC one by default (tests hand in a fake reader). */
  readonly open?: (config: ChipReaderConfig, deps: PcscDeps) => Promise<ChipReaderPort>;
}

export function createChipPort(config: ChipReaderConfig, deps: ChipPortDeps): ChipReader {
  const cell = createStateCell({ kind: 'connecting', attempt: 1 });
  const stateListeners = new Set<(s: ChipReaderState, r: string) => void>();
  /** Card listeners that came before the driver: attached when it opens (and then told of a card already there). */
  const early = new Set<() => void>();
  const unsubscribe: Array<() => void> = [];
  let inner: ChipReaderPort | null = null;
  let opening: Promise<void> | null = null;
  let closed = false;

  const reader: ChipReaderPort = {
    state: () => inner?.state() ?? 'unavailable',
    reason: () => inner?.reason() ?? (closed ? 'the chip reader is closed' : 'the chip reader is not open yet'),
    onStateChange(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    onCard(listener) {
      if (inner) return inner.onCard(listener);
      let off = (): void => {};
      const attach = (): void => {
        off = inner!.onCard(listener);
      };
      early.add(attach);
      return () => {
        early.delete(attach);
        off();
      };
    },
    connect: (signal) => (inner ? inner.connect(signal) : Promise.reject(new ChipLinkError('unavailable', reader.reason()))),
    close: () => port.close(),
  };

  const start = async (): Promise<void> => {
    const opened = await (deps.open ?? openPcscChipReader)(config, { clock: deps.clock, log: deps.log });
    if (closed) return opened.close();
    inner = opened;
    unsubscribe.push(
      opened.onStateChange((s, r) => {
        cell.set(portStateOf(s, r));
        for (const l of stateListeners) l(s, r);
      }),
    );
    for (const attach of early) attach();
    early.clear();
    cell.set(portStateOf(opened.state(), opened.reason()));
  };

  const port: ChipReader = {
    id: 'chip',
    driver: 'pcsc',
    reader,
    open() {
      if (closed) return Promise.resolve();
      opening ??= start();
      return opening;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const u of unsubscribe.splice(0)) u();
      stateListeners.clear();
      early.clear();
      await opening?.catch(() => {});
      await inner?.close();
    },
    state: () => cell.state(),
    onStateChange: (listener) => cell.onStateChange(listener),
  };
  return port;
}
