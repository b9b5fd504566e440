/**
 * hw-sim's virtual CCCD (its files, its PACE/BAC and secure messaging, its command dispatch) behind
 * an in-process fake chip reader port: the chip read of the check-in, end to end, without pcscd.
 * The reader lets a test place and lift the card, pull it away after N commands, or be not ready.
 */
import jpeg from 'jpeg-js';
import { buildCardFiles, createTestPki, type CardFaults, type CardIdentity } from '../../hw-sim/chip/card-files.js';
import { createCardSecurity } from '../../hw-sim/chip/card-security.js';
import { CCCD_ATR, createVirtualCccd, type VirtualCccd } from '../../hw-sim/chip/virtual-cccd.js';
import { VPCD_RESET } from '../../hw-sim/chip/vpcd-link.js';
import type { FileName } from '../../src/chip/read-chip.js';
import { ChipLinkError, type CardLink, type ChipReaderPort, type ChipReaderState } from '../../src/hal/chip/port.js';

/** One test PKI per process: the CSCA is the trust anchor, a second CSCA signs the "unknown signer". */
export const PKI = createTestPki();

/** A small real JPEG: the portrait the chip's DG2 carries. */
export const PORTRAIT = new Uint8Array(jpeg.encode({ data: Buffer.alloc(48 * 60 * 4, 120), width: 48, height: 60 }, 80).data);

/** hw-sim's sample 2 (invented), as the chip holds it: hw-sim/scenario/privacy.ts knows this person's data too. */
export const HOLDER = { idNumber: '079045900002', fullName: 'Trần Văn Đức', birthDate: '07/03/1945', sex: 'M', expiryDate: '20/06/2037' } as const;

/** What of HOLDER must never appear in an outcome, an event, a log line or the audit (MRZ forms included). */
export const HOLDER_SECRETS = [HOLDER.idNumber, HOLDER.fullName, 'Trần', 'TRAN<<VAN', HOLDER.birthDate, '450307', '07031945', '045900002'];

export interface CardSpec {
  readonly identity?: Partial<CardIdentity>;
  /** The card's own access number; by default the last 6 digits of its number. */
  readonly can?: string;
  readonly faults?: CardFaults;
  /** Replaces EF.CardAccess (e.g. a PACE this reader does not implement). */
  readonly cardAccess?: Uint8Array;
}

export function virtualCard(spec: CardSpec = {}): { card: VirtualCccd; files: Map<FileName, Uint8Array> } {
  const identity: CardIdentity = { ...HOLDER, portrait: PORTRAIT, ...spec.identity };
  const files = buildCardFiles({ ...identity, pki: PKI, ...(spec.faults ? { faults: spec.faults } : {}) });
  if (spec.cardAccess) files.set('CardAccess', spec.cardAccess);
  const security = createCardSecurity({ can: spec.can ?? identity.idNumber.slice(-6) });
  return { card: createVirtualCccd({ files, security }), files };
}

export interface FakeReader extends ChipReaderPort {
  /**
   * Puts the card on the reader. removeAfterApdus: it leaves the field when command N+1 arrives (that
   * one fails: card-removed); stallAfterApdus: command N+1 is never answered (until the caller gives up).
   */
  place(card: VirtualCccd, faults?: { readonly removeAfterApdus?: number; readonly stallAfterApdus?: number }): void;
  /** Takes the card off the reader. */
  lift(): void;
  setState(state: ChipReaderState, reason: string): void;
  /** Commands the cards on this reader answered. */
  apdus(): number;
  /** Connections opened and released. */
  links(): { opened: number; released: number };
}

const NAME = 'Fake Reader PICC 00 00';

export function fakeReader(): FakeReader {
  let [state, reason]: [ChipReaderState, string] = ['ready', `using ${NAME}`];
  let placed: { card: VirtualCccd; removeAfter: number | undefined; stallAfter: number | undefined; seen: number } | null = null;
  let answered = 0;
  const count = { opened: 0, released: 0 };
  const cardListeners = new Set<(ev: { present: boolean; reader: string }) => void>();
  const waiters = new Set<() => void>();
  const wake = (): void => [...waiters].forEach((w) => w());
  const announce = (present: boolean): void => {
    for (const l of [...cardListeners]) l({ present, reader: NAME });
    wake();
  };

  const link = (p: NonNullable<typeof placed>): CardLink => {
    count.opened++;
    return {
      atr: CCCD_ATR,
      async transmit(apdu, signal) {
        if (signal.aborted) throw new ChipLinkError('aborted', 'transmit aborted');
        if (placed !== p) throw new ChipLinkError('card-removed', `the card left ${NAME}`);
        p.seen++;
        if (p.removeAfter !== undefined && p.seen > p.removeAfter) {
          reader.lift();
          throw new ChipLinkError('card-removed', `the card left ${NAME}`);
        }
        if (p.stallAfter !== undefined && p.seen > p.stallAfter) {
          await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
          throw new ChipLinkError('aborted', 'transmit aborted');
        }
        await new Promise<void>((r) => setImmediate(r));
        if (signal.aborted) throw new ChipLinkError('aborted', 'transmit aborted');
        answered++;
        return p.card.process(apdu);
      },
      async release() {
        count.released++;
        p.card.power(VPCD_RESET);
      },
    };
  };

  const reader: FakeReader = {
    state: () => state,
    reason: () => reason,
    onStateChange: () => () => {},
    onCard(listener) {
      cardListeners.add(listener);
      // As the PC/SC driver does: a card already there is announced to a new listener.
      if (placed) queueMicrotask(() => placed && cardListeners.has(listener) && listener({ present: true, reader: NAME }));
      return () => cardListeners.delete(listener);
    },
    connect(signal) {
      return new Promise<CardLink>((resolve, reject) => {
        const check = (): void => {
          if (signal.aborted) return done(() => reject(new ChipLinkError('aborted', 'waiting for a card aborted')));
          if (state !== 'ready') return done(() => reject(new ChipLinkError(state === 'no-reader' ? 'no-reader' : 'no-service', reason)));
          if (placed) {
            const p = placed;
            done(() => resolve(link(p)));
          }
        };
        const done = (then: () => void): void => {
          waiters.delete(check);
          signal.removeEventListener('abort', check);
          then();
        };
        waiters.add(check);
        signal.addEventListener('abort', check, { once: true });
        check();
      });
    },
    close: async () => {},
    place(card, faults = {}) {
      card.power(VPCD_RESET);
      placed = { card, removeAfter: faults.removeAfterApdus, stallAfter: faults.stallAfterApdus, seen: 0 };
      announce(true);
    },
    lift() {
      if (!placed) return;
      placed = null;
      announce(false);
    },
    setState(next, why) {
      [state, reason] = [next, why];
      wake();
    },
    apdus: () => answered,
    links: () => ({ ...count }),
  };
  return reader;
}
