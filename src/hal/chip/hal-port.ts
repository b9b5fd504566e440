/**
 * The chip reader as one of the kiosk's ports (ports.ts): its state in `state`, health and alerts
 * like every device (`chip.not-present`, `chip.unreachable`, `chip.not-installed`), and the reader
 * itself for the chip read. The reader exists before the port opens (the check-in is wired at
 * start-up) and says "unavailable" until its driver has loaded: PC/SC (pcsc.ts), or the HN-212
 * reader's vendor service (hn212.ts), whose states are a subset of PC/SC's.
 */
import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../util/clock.js';
import { ChipError } from '../../chip/apdu.js';
import { absentPort } from '../absent.js';
import type { AnyChipReader, ChipReader, PortState } from '../ports.js';
import { createStateCell } from '../supervised-port.js';
import { openHn212ChipReader, type Hn212ChipReader, type Hn212Config, type Hn212Deps, type Hn212State } from './hn212.js';
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
export function absentChipReader(reason: string): ChipPortOf<ChipReaderPort> {
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

/** What both drivers' readers have in common: the port follows their state (S: the driver's states) and their cards. */
interface Driven<S extends ChipReaderState> {
  state(): S;
  reason(): string;
  onStateChange(listener: (state: S, reason: string) => void): () => void;
  onCard: ChipReaderPort['onCard'];
  close(): Promise<void>;
}

/** The port with the reader of a known driver. */
export type ChipPortOf<R extends AnyChipReader> = ChipReader & { readonly reader: R };

/**
 * The port around a driver that opens later: its state, its card listeners from before the open,
 * and a closing that also closes a driver still loading. `facade` is what the reader adds (connect
 * or readFiles), given the driver once it is open.
 */
function drivenPort<S extends ChipReaderState, D extends Driven<S>, R extends AnyChipReader>(
  driver: string,
  openDriver: () => Promise<D>,
  facade: (base: Driven<S | 'unavailable'>, inner: () => D | null) => R,
): ChipPortOf<R> {
  const cell = createStateCell({ kind: 'connecting', attempt: 1 });
  const stateListeners = new Set<(s: S, r: string) => void>();
  /** Card listeners that came before the driver: attached when it opens (and then told of a card already there). */
  const early = new Set<() => void>();
  const unsubscribe: Array<() => void> = [];
  let inner: D | null = null;
  let opening: Promise<void> | null = null;
  let closed = false;

  const base: Driven<S | 'unavailable'> = {
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
    close: () => port.close(),
  };

  const start = async (): Promise<void> => {
    const opened = await openDriver();
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

  const port = {
    id: 'chip' as const,
    driver,
    reader: facade(base, () => inner),
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
    onStateChange: (listener: (state: PortState) => void) => cell.onStateChange(listener),
  };
  return port;
}

/** The PC/SC reader (chip.driver pcsc). */
export function createChipPort(config: ChipReaderConfig, deps: ChipPortDeps): ChipPortOf<ChipReaderPort> {
  return drivenPort<ChipReaderState, ChipReaderPort, ChipReaderPort>(
    'pcsc',
    () => (deps.open ?? openPcscChipReader)(config, { clock: deps.clock, log: deps.log }),
    (base, inner): ChipReaderPort => ({
      ...base,
      connect: (signal) => inner()?.connect(signal) ?? Promise.reject(new ChipLinkError('unavailable', base.reason())),
    }),
  );
}

export interface Hn212PortDeps {
  readonly clock: Clock;
  readonly log: Logger;
  /** The driver; the Socket.IO one by default (tests hand in a fake reader). */
  readonly open?: (config: Hn212Config, deps: Hn212Deps) => Promise<Hn212ChipReader>;
}

/** The HN-212 reader's vendor service (chip.driver hn212): the vendor reads the chip, the kiosk checks the groups. */
export function createHn212ChipPort(config: Hn212Config, deps: Hn212PortDeps): ChipPortOf<Hn212ChipReader> {
  return drivenPort<Hn212State, Hn212ChipReader, Hn212ChipReader>(
    'hn212',
    () => (deps.open ?? openHn212ChipReader)(config, { clock: deps.clock, log: deps.log }),
    (base, inner): Hn212ChipReader => ({
      ...base,
      driver: 'hn212',
      readFiles: (signal, opts) => inner()?.readFiles(signal, opts) ?? Promise.reject(new ChipError('io', base.reason())),
    }),
  );
}
