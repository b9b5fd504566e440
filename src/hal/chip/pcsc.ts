/**
 * The chip reader over PC/SC, with the optional `smartcard` module (N-API; chip.md §8). The
 * module needs libpcsclite at load time, so it is imported only when the port opens; without it
 * the port says `unavailable` and why. pcscd missing is `no-service`, looked for again until it
 * is back. The first reader whose name matches the configured pattern is used; if it goes, the next.
 */
import type { Logger } from '../../log/logger.js';
import type { Clock } from '../../util/clock.js';
import {
  abortable,
  message,
  pcscErrorKind,
  pcscLink,
  quietly,
  type ScCard,
  type ScContext,
  type ScReader,
  type SmartcardModule,
} from './pcsc-link.js';
import { watchReaders, type ReaderWatch } from './pcsc-watch.js';
import { ChipLinkError, readerMatcher, type CardLink, type ChipReaderConfig, type ChipReaderPort, type ChipReaderState } from './port.js';

export type { SmartcardModule } from './pcsc-link.js';

export interface PcscDeps {
  readonly clock: Clock;
  readonly log: Logger;
  /** Loads the binding; injectable so tests can hand in a fake module or a failure. */
  readonly loadSmartcard?: () => Promise<unknown>;
  /** How soon a missing pcscd is looked for again; 2 s by default. */
  readonly retryMs?: number;
  /** How long an unclear transmit failure waits for pcscd to report the card gone; 1.5 s by default. */
  readonly removalGraceMs?: number;
}

export const NOT_INSTALLED =
  'the optional "smartcard" module (PC/SC) cannot be loaded: npm install smartcard (builds with libpcsclite-dev, g++, make, python3; runs with libpcsclite1 and pcscd)';

/** After a card vanished between "present" and connect, before trying again. */
const RECONNECT_PAUSE_MS = 200;

const loadSmartcardModule = (): Promise<unknown> => import('smartcard');

/** smartcard is CommonJS: its exports may sit on the namespace or on `default`. */
function asSmartcard(mod: unknown): SmartcardModule | null {
  for (const m of [mod, (mod as { default?: unknown } | null)?.default]) {
    const c = m as Partial<SmartcardModule> | null | undefined;
    if (c && typeof c.Context === 'function' && typeof c.ReaderMonitor === 'function' && typeof c.SCARD_STATE_PRESENT === 'number')
      return c as SmartcardModule;
  }
  return null;
}

/** Loads the binding and starts watching readers; the first state is known when it resolves. Never rejects. */
export async function openPcscChipReader(config: ChipReaderConfig, deps: PcscDeps): Promise<ChipReaderPort> {
  let loadError = '';
  const mod = asSmartcard(
    await (deps.loadSmartcard ?? loadSmartcardModule)().catch((e: unknown) => {
      loadError = message(e);
      return null;
    }),
  );
  return createPcscPort(mod, loadError ? `${NOT_INSTALLED} (${loadError})` : NOT_INSTALLED, config, deps);
}

type Waiter = () => void;

/** Resolves when `test` gives a value, checked now and at every wake-up; rejects on abort or close. */
function waitFor<T>(waiters: Set<Waiter>, test: () => T | null, signal: AbortSignal, closed: () => boolean, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const check: Waiter = () => {
      if (closed() || signal.aborted) {
        done();
        return reject(new ChipLinkError('aborted', closed() ? 'the chip reader was closed' : `${what} aborted`));
      }
      const v = test();
      if (v === null) return;
      done();
      resolve(v);
    };
    const done = (): void => {
      waiters.delete(check);
      signal.removeEventListener('abort', check);
    };
    waiters.add(check);
    signal.addEventListener('abort', check, { once: true });
    check();
  });
}

async function connectCard(mod: SmartcardModule, r: ScReader): Promise<ScCard> {
  try {
    return await r.connect(mod.SCARD_SHARE_SHARED, mod.SCARD_PROTOCOL_T0 | mod.SCARD_PROTOCOL_T1);
  } catch (e) {
    // Some readers refuse the combined mask for a T=0 card (the binding's own Devices retries the same way).
    if (!/unresponsive/i.test(message(e))) throw e;
    return r.connect(mod.SCARD_SHARE_SHARED, mod.SCARD_PROTOCOL_T0);
  }
}

interface OpenCardDeps {
  readonly mod: SmartcardModule;
  readonly clock: Clock;
  readonly connectTimeoutMs: number;
  readonly cardGone: (reader: string, signal: AbortSignal) => Promise<boolean>;
}

/** Connects to the card on `reader` (T=0 or T=1, whichever it offers); null when the card went away first. */
async function openCard(reader: string, signal: AbortSignal, d: OpenCardDeps): Promise<CardLink | null> {
  let ctx: ScContext;
  let found: ScReader | undefined;
  try {
    ctx = new d.mod.Context();
    found = ctx.listReaders().find((r) => r.name === reader);
  } catch (e) {
    throw new ChipLinkError('no-service', `cannot reach pcscd (${message(e)})`);
  }
  if (!found) {
    quietly(() => ctx.close());
    return null;
  }
  const connecting = connectCard(d.mod, found);
  let gaveUp = false;
  // Closing the context while SCardConnect runs would block on pcsc-lite's lock: the connect closes it when it ends.
  connecting.then(
    (card) =>
      gaveUp &&
      quietly(
        () => card.disconnect(d.mod.SCARD_LEAVE_CARD),
        () => ctx.close(),
      ),
    () => gaveUp && quietly(() => ctx.close()),
  );
  const timeout = new AbortController();
  const timer = d.clock.setTimeout(() => timeout.abort(), d.connectTimeoutMs);
  let card: ScCard;
  try {
    card = await abortable(connecting, AbortSignal.any([signal, timeout.signal]), 'connect');
  } catch (e) {
    if (e instanceof ChipLinkError) {
      gaveUp = true;
      throw signal.aborted ? e : new ChipLinkError('timeout', `the card on ${reader} did not answer within ${d.connectTimeoutMs} ms`);
    }
    quietly(() => ctx.close());
    if (pcscErrorKind(message(e)) === 'card-removed') return null;
    throw new ChipLinkError('io', `cannot connect to the card on ${reader}: ${message(e)}`);
  } finally {
    d.clock.clearTimeout(timer);
  }
  // The reader state already holds the ATR; asking the card handle would be one more synchronous call.
  const atr = new Uint8Array(found.atr ?? card.atr ?? []);
  return pcscLink(card, atr, {
    reader,
    clock: d.clock,
    release: {
      share: d.mod.SCARD_SHARE_SHARED,
      protocols: d.mod.SCARD_PROTOCOL_T0 | d.mod.SCARD_PROTOCOL_T1,
      reset: d.mod.SCARD_RESET_CARD,
      leave: d.mod.SCARD_LEAVE_CARD,
    },
    cardGone: (s) => d.cardGone(reader, s),
    closeContext: () => ctx.close(),
  });
}

interface Announcer {
  listen(listener: (ev: { present: boolean; reader: string }) => void): () => void;
  /** Tells listeners what changed on the reader in use since the last call, once each. */
  announce(now: { reader: string; present: boolean } | null): void;
  current(): { reader: string; present: boolean } | null;
}

function createAnnouncer(log: Logger): Announcer {
  const listeners = new Set<(ev: { present: boolean; reader: string }) => void>();
  let last: { reader: string; present: boolean } | null = null;
  const emit = (ev: { present: boolean; reader: string }): void => {
    for (const l of listeners) {
      try {
        l(ev);
      } catch (e) {
        log.error({ port: 'chip', err: message(e) }, 'card listener threw');
      }
    }
  };
  return {
    listen(listener) {
      listeners.add(listener);
      // A card already on the reader counts as placed for a listener that comes later.
      const now = last;
      if (now?.present) queueMicrotask(() => listeners.has(listener) && last === now && listener({ ...now }));
      return () => listeners.delete(listener);
    },
    announce(now) {
      if (last?.present && (last.reader !== now?.reader || !now.present)) emit({ present: false, reader: last.reader });
      if (now?.present && !(last?.present && last.reader === now.reader)) emit({ present: true, reader: now.reader });
      last = now ? { ...now } : null;
    },
    current: () => last,
  };
}

function createPcscPort(mod: SmartcardModule | null, unavailable: string, config: ChipReaderConfig, deps: PcscDeps): ChipReaderPort {
  const { clock, log } = deps;
  const retryMs = deps.retryMs ?? 2000;
  const wanted = config.readerPattern ? `a reader matching /${config.readerPattern}/` : 'a PC/SC reader';
  let [state, reason]: [ChipReaderState, string] = ['unavailable', unavailable];
  const stateListeners = new Set<(s: ChipReaderState, r: string) => void>();
  const cards = createAnnouncer(log);
  const waiters = new Set<Waiter>();
  let closed = false;

  const setState = (next: ChipReaderState, why: string): void => {
    if (next === state && why === reason) return;
    if (next === 'ready' && state !== 'ready') log.info({ port: 'chip', reason: why }, 'chip reader ready');
    else if (next !== state) log.warn({ port: 'chip', state: next, reason: why }, 'chip reader not ready');
    [state, reason] = [next, why];
    for (const l of stateListeners) l(next, why);
  };
  const changed = (serviceUp: boolean, why = ''): void => {
    const now = watch?.chosen() ?? null;
    cards.announce(now);
    if (!serviceUp) setState('no-service', `no PC/SC service (pcscd: ${why}); looking again every ${Math.round(retryMs / 100) / 10} s`);
    else setState(now ? 'ready' : 'no-reader', now ? `using ${now.reader}` : `no ${wanted} is attached`);
    for (const w of [...waiters]) w();
  };
  const watch: ReaderWatch | null = mod
    ? watchReaders(mod, readerMatcher(config.readerPattern), {
        clock,
        retryMs,
        onChange: () => changed(true),
        onServiceDown: (why) => changed(false, why),
      })
    : null;

  /** True once the reader no longer holds a card (or is gone); false after the grace period. */
  const cardGone = (reader: string, signal: AbortSignal): Promise<boolean> => {
    const grace = new AbortController();
    const timer = clock.setTimeout(() => grace.abort(), deps.removalGraceMs ?? 1500);
    const test = (): true | null => (watch?.holdsCard(reader) ? null : true);
    return waitFor(waiters, test, AbortSignal.any([signal, grace.signal]), () => closed, 'waiting for removal')
      .catch(() => false)
      .finally(() => clock.clearTimeout(timer));
  };
  const pause = (signal: AbortSignal): Promise<void> =>
    abortable(new Promise<void>((r) => clock.setTimeout(r, RECONNECT_PAUSE_MS)), signal, 'waiting for a card');

  watch?.start();
  return {
    state: () => state,
    reason: () => reason,
    onStateChange(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    onCard: (listener) => cards.listen(listener),
    async connect(signal) {
      if (!mod) throw new ChipLinkError('unavailable', reason);
      const d: OpenCardDeps = { mod, clock, connectTimeoutMs: config.connectTimeoutMs, cardGone };
      for (;;) {
        const onReader = (): string | null => {
          const c = cards.current();
          return c?.present ? c.reader : null;
        };
        const reader = await waitFor(waiters, onReader, signal, () => closed, 'waiting for a card');
        const link = await openCard(reader, signal, d);
        if (link) return link;
        await pause(signal);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      watch?.close();
      for (const w of [...waiters]) w();
      stateListeners.clear();
    },
  };
}
