/**
 * A chip reader hospitals may already own: the HN-212 desktop reader with JTH's packaged service,
 * which reads the card itself and pushes the result over Socket.IO (chip.md §12). There are no
 * APDUs to send, so instead of connect() it offers readFiles(): the chip's raw groups, shaped like
 * readChip's ChipRead, for the same checks (passive authentication, DG13's number, DG2's portrait).
 *
 * The service says when a card was placed (id 1) and, later, either the groups (id 4) or a failure
 * (id 3); it never says the card was lifted. So `present` here means "a card was placed and its read
 * is not used yet": it ends when readFiles takes the result, when the result is older than
 * freshForMs (then it is wiped), or when the connection drops. socket.io-client is loaded only when
 * the reader opens; without it the reader is "unavailable".
 */
import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../util/clock.js';
import { ChipError } from '../../chip/apdu.js';
import type { FileName, Refusal } from '../../chip/read-chip.js';
import type { Hn212Config } from './hn212-config.js';
import { parseHn212Event, type Hn212Event } from './hn212-events.js';
import { connectHn212, ioFactoryOf, type Hn212Link, type IoFactory, type LinkEvents } from './hn212-link.js';
import { createResultSlot } from './hn212-slot.js';

export { DEFAULT_HN212_CONFIG, hn212ConfigSchema, type Hn212Config } from './hn212-config.js';

/** ready: connected to the service; no-service: it cannot be reached (tried again); unavailable: socket.io-client is missing. */
export type Hn212State = 'ready' | 'no-service' | 'unavailable';

/** readChip's ChipRead, but read by the vendor's service: no protocol of ours, no APDUs. */
export interface VendorChipRead {
  readonly protocol: 'vendor';
  readonly files: ReadonlyMap<FileName, Uint8Array>;
  readonly refused: ReadonlyMap<FileName, Refusal>;
  readonly timings: readonly { step: string; ms: number; apdus: number }[];
}

export interface Hn212ChipReader {
  readonly driver: 'hn212';
  state(): Hn212State;
  /** Why, for people ("cannot reach the HN-212 service at 192.168.5.1:8000 …"). No personal data. */
  reason(): string;
  onStateChange(listener: (state: Hn212State, reason: string) => void): () => void;
  /** A card was placed (the service's "new card"); present: false once its read is used, stale, or the service went. */
  onCard(listener: (ev: { present: boolean; reader: string }) => void): () => void;
  /**
   * The groups of the card on the reader: a result that came since the card was placed (fresh and
   * not used before), else the next one. Rejects with ChipError: 'malformed' or 'too-large' (a
   * hostile or broken message), 'card-removed' or 'io' (the service's failure, or it went away),
   * 'aborted' (the signal), Hn212TimeoutError after timeoutMs.
   */
  readFiles(signal: AbortSignal, opts: { timeoutMs: number }): Promise<VendorChipRead>;
  close(): Promise<void>;
}

/** No result within timeoutMs. cardSeen: a card was placed meanwhile (the read was slow), else none came. */
export class Hn212TimeoutError extends ChipError {
  constructor(
    readonly cardSeen: boolean,
    message: string,
  ) {
    super('aborted', message);
    this.name = 'Hn212TimeoutError';
  }
}

export interface Hn212Deps {
  readonly clock: Clock;
  readonly log: Logger;
  /** Loads socket.io-client; injectable so tests can make it fail. */
  readonly loadClient?: () => Promise<unknown>;
  /** Backoff jitter in [0, 1). */
  readonly random?: () => number;
}

export const CLIENT_NOT_INSTALLED = 'the "socket.io-client" module cannot be loaded (npm install socket.io-client)';

/** Loads socket.io-client and starts connecting; resolves at once (state "no-service" until connected). Never rejects. */
export async function openHn212ChipReader(config: Hn212Config, deps: Hn212Deps): Promise<Hn212ChipReader> {
  let loadError = '';
  const mod = await (deps.loadClient ?? (() => import('socket.io-client')))().catch((e: unknown) => {
    loadError = e instanceof Error ? e.message.slice(0, 200) : 'unknown error';
    return null;
  });
  const io = ioFactoryOf(mod);
  return createReader(config, deps, io ?? (loadError ? `${CLIENT_NOT_INSTALLED} (${loadError})` : CLIENT_NOT_INSTALLED));
}

interface Cards {
  announce(present: boolean): void;
  present(): boolean;
  listen(listener: (ev: { present: boolean; reader: string }) => void): () => void;
  clear(): void;
}

function cardAnnouncer(name: string, log: Logger): Cards {
  const listeners = new Set<(ev: { present: boolean; reader: string }) => void>();
  let present = false;
  return {
    announce(now) {
      if (now === present) return;
      present = now;
      for (const l of [...listeners]) {
        try {
          l({ present: now, reader: name });
        } catch (e) {
          log.error({ port: 'chip', driver: 'hn212', err: e instanceof Error ? e.message : String(e) }, 'card listener threw');
        }
      }
    },
    present: () => present,
    listen(listener) {
      listeners.add(listener);
      // A card already placed counts for a listener that comes later (as the PC/SC reader does).
      if (present) queueMicrotask(() => listeners.has(listener) && present && listener({ present: true, reader: name }));
      return () => listeners.delete(listener);
    },
    clear: () => listeners.clear(),
  };
}

interface StateCell {
  get(): Hn212State;
  reason(): string;
  set(next: Hn212State, why: string): void;
  listen(listener: (s: Hn212State, r: string) => void): () => void;
  clear(): void;
}

function stateCell(log: Logger, initial: [Hn212State, string]): StateCell {
  const listeners = new Set<(s: Hn212State, r: string) => void>();
  let [state, reason] = initial;
  return {
    get: () => state,
    reason: () => reason,
    set(next, why) {
      if (next === state && why === reason) return;
      if (next === 'ready' && state !== 'ready') log.info({ port: 'chip', driver: 'hn212', reason: why }, 'chip reader ready');
      else if (next !== state) log.warn({ port: 'chip', driver: 'hn212', state: next, reason: why }, 'chip reader not ready');
      [state, reason] = [next, why];
      for (const l of [...listeners]) l(next, why);
    },
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    clear: () => listeners.clear(),
  };
}

function createReader(config: Hn212Config, deps: Hn212Deps, io: IoFactory | string): Hn212ChipReader {
  const { clock, log } = deps;
  const where = new URL(config.url).host;
  const name = `HN-212 at ${where}`;
  const state = stateCell(log, typeof io === 'string' ? ['unavailable', io] : ['no-service', `connecting to the HN-212 service at ${where}`]);
  const cards = cardAnnouncer(name, log);
  const slot = createResultSlot({ clock, freshForMs: config.freshForMs, onExpired: () => cards.announce(false) });
  let placed = 0;
  let closed = false;

  const handle = (ev: Hn212Event, decodeMs: number): void => {
    switch (ev.kind) {
      case 'new-card':
        slot.clear(); // whatever came for an earlier card is not this card's
        placed += 1;
        cards.announce(false);
        return cards.announce(true);
      case 'text':
        return; // the holder's data as text: never kept, never logged (hn212-events.ts says why)
      case 'failed':
        log.warn({ port: 'chip', driver: 'hn212', reason: ev.error.reason, err: ev.error.message }, 'the HN-212 read failed');
        return slot.put({ error: ev.error });
      case 'raw':
        return slot.put({ read: { files: ev.files, refused: ev.refused }, decodeMs });
      case 'ignored':
        return void log.debug({ port: 'chip', driver: 'hn212', why: ev.why }, 'ignored a message from the HN-212 service');
    }
  };

  const events: LinkEvents = {
    onUp: () => state.set('ready', `connected to the HN-212 service at ${where}`),
    onDown(why, retryMs) {
      slot.clear();
      cards.announce(false);
      slot.fail(new ChipError('io', `the connection to the HN-212 service at ${where} dropped before the card was read`));
      state.set('no-service', `cannot reach the HN-212 service at ${where} (${why}); trying again in ${Math.round(retryMs / 100) / 10} s`);
    },
    onMessage(payload) {
      if (closed) return;
      const t0 = clock.now();
      const ev = parseHn212Event(payload); // never throws: every payload is classified
      handle(ev, clock.now() - t0);
    },
  };
  const link: Hn212Link | null = typeof io === 'string' ? null : connectHn212(io, config, deps, events);

  const readFiles = async (signal: AbortSignal, opts: { timeoutMs: number }): Promise<VendorChipRead> => {
    if (signal.aborted) throw new ChipError('aborted', 'the HN-212 read was aborted');
    if (closed) throw new ChipError('io', 'the HN-212 reader is closed');
    if (state.get() !== 'ready') throw new ChipError('io', `the HN-212 reader is not ready: ${state.reason()}`);
    if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) throw new ChipError('malformed', 'timeoutMs must be a positive number');
    const t0 = clock.now();
    const [placedBefore, presentBefore] = [placed, cards.present()];
    const outcome = await slot.take(signal, opts.timeoutMs, () => {
      const seen = presentBefore || placed > placedBefore;
      return new Hn212TimeoutError(
        seen,
        `no result from the ${name} within ${opts.timeoutMs} ms (${seen ? 'a card was placed' : 'no card was placed'})`,
      );
    });
    cards.announce(false); // this card's read is used: the next read waits for the next card
    if ('error' in outcome) throw outcome.error;
    return {
      protocol: 'vendor',
      files: outcome.read.files,
      refused: outcome.read.refused,
      timings: [
        { step: 'hn212-wait', ms: clock.now() - t0, apdus: 0 },
        { step: 'hn212-decode', ms: outcome.decodeMs, apdus: 0 },
      ],
    };
  };

  return {
    driver: 'hn212',
    state: () => state.get(),
    reason: () => state.reason(),
    onStateChange: (listener) => state.listen(listener),
    onCard: (listener) => cards.listen(listener),
    readFiles,
    async close() {
      if (closed) return;
      closed = true;
      link?.close();
      slot.clear();
      slot.fail(new ChipError('aborted', 'the HN-212 reader was closed'));
      cards.announce(false);
      state.clear();
      cards.clear();
    },
  };
}
