/**
 * hw-sim's contactless chip reader: a vpcd slot of hw-sim's own pcscd (pcscd.ts) on which a
 * sample's virtual CCCD is placed and taken off, with faults. kioskd reads it through its real
 * PC/SC driver; the console (`card on N`), the web panel and scenario steps (`chip:`) drive it
 * through the control actions chip.place, chip.remove and chip.fault.
 */
import { createCardSecurity } from './card-security.js';
import { createVirtualCccd, placeCard, type ChipFaults, type PlacedCard } from './virtual-cccd.js';
import { buildSampleCard, type CardContentFaults } from './sample-card.js';
import type { TestPki } from './card-files.js';
import { SAMPLE_IDENTITIES } from '../identities.js';
import { DEFAULT_SLOW_MS, type ChipFault, type ChipFaultName } from './chip-faults.js';

export { CHIP_FAULTS, CHIP_FAULT_TEXT, DEFAULT_SLOW_MS, type ChipFault, type ChipFaultName } from './chip-faults.js';

/** Past PACE (about 9 commands) and into the first data groups: "mid-read". */
export const REMOVE_AFTER_APDUS = 20;
/** How long a patient takes to put a card back that slipped off the reader. */
export const PLACE_AGAIN_MS = 1000;
/**
 * pcscd asks vpcd whether the card is still there every 400 ms: a card taken off is gone for
 * kioskd only after the next poll. Until then a new card (or the next patient's scan) would meet
 * the old one's ghost, so taking a card off waits this long.
 */
export const REMOVAL_SETTLE_MS = 1000;

export interface ChipStatus {
  /** There is a reader: hw-sim runs its pcscd. */
  readonly available: boolean;
  /** Why there is no reader (null when there is one). */
  readonly off: string | null;
  /** The PC/SC name of the reader kioskd reads. */
  readonly reader: string | null;
  /** The sample whose card is on the reader (or was put there and slipped off), null for none. */
  readonly card: number | null;
  /** connecting / connected: pcscd sees it; away: pulled off mid-read, about to be put back; no-chip. */
  readonly link: 'none' | 'connecting' | 'connected' | 'away' | 'no-chip';
  readonly fault: ChipFaultName;
  readonly delayMs: number | null;
  /** Commands the card answered since it was placed. */
  readonly answered: number;
  /** Times the card was pulled away mid-read since it was placed. */
  readonly removals: number;
}

export interface SimChip {
  readonly available: boolean;
  status(): ChipStatus;
  /** Puts sample N's card on the reader (taking off the one there first). Rejects without a reader. */
  place(sample: number): Promise<void>;
  /** Takes the card off the reader; resolves once pcscd has seen it go. Rejects without a reader. */
  remove(): Promise<void>;
  /** The fault of the card on the reader (put on again, as a new card) and of the cards placed next. Rejects without a reader. */
  setFault(f: ChipFault): Promise<void>;
  /** No card, no fault; does nothing without a reader. */
  reset(): Promise<void>;
  /** Takes the card off for good. */
  close(): void;
}

export interface SimChipOptions {
  /** The vpcd slot the cards dial, and its PC/SC name; null: no reader, and why. */
  readonly reader: { readonly port: number; readonly name: string } | null;
  readonly off?: string;
  /** The reference portrait (JPEG) of a sample's card number. */
  readonly portraitOf: (idNumber: string) => Uint8Array | null;
  readonly pki: TestPki;
  readonly placeAgainMs?: number;
  readonly removeAfterApdus?: number;
  /** Reconnect pause of the card's vpcd link; default 300 ms. */
  readonly retryMs?: number;
  /** How long a card taken off takes to be gone for pcscd; default REMOVAL_SETTLE_MS. */
  readonly settleMs?: number;
}

const contentFaults = (f: ChipFaultName): CardContentFaults =>
  f === 'wrong-can'
    ? { wrongCan: true }
    : f === 'jpeg2000'
      ? { jpeg2000: true }
      : f === 'corrupt-hash'
        ? { corruptHashOf: 'DG2' }
        : f === 'unknown-signer'
          ? { unknownSigner: true }
          : {};

export function createSimChip(o: SimChipOptions): SimChip {
  const reader = o.reader;
  let fault: ChipFault = { fault: 'none' };
  let sample: number | null = null;
  let placed: PlacedCard | null = null;
  let again: NodeJS.Timeout | null = null;
  let [answeredBefore, removals] = [0, 0];

  const need = (): { port: number; name: string } => {
    if (!reader) throw new Error(`no chip reader in this simulation: ${o.off ?? 'hw-sim runs no pcscd'}`);
    return reader;
  };
  /** Takes the card off; resolves once pcscd has had time to see it go (at once when none was in the field). */
  const lift = async (): Promise<void> => {
    if (again) clearTimeout(again);
    again = null;
    const inField = placed?.state() === 'connected' || placed?.state() === 'connecting';
    answeredBefore += placed?.answered() ?? 0;
    placed?.remove();
    placed = null;
    if (inField) await new Promise((r) => setTimeout(r, o.settleMs ?? REMOVAL_SETTLE_MS));
  };
  /** One placement of sample n's card; `putBack`: after it slipped off, which the `removed` fault does once. */
  const put = (n: number, putBack: boolean): void => {
    const { port } = need();
    const p = SAMPLE_IDENTITIES[n - 1];
    const portrait = p ? o.portraitOf(p.idNumber) : null;
    if (!p || !portrait) throw new Error(`no sample identity ${n}; there are ${SAMPLE_IDENTITIES.length}`);
    const card = buildSampleCard(p, portrait, o.pki, contentFaults(fault.fault));
    const chip = createVirtualCccd({ files: card.files, security: createCardSecurity(card.secrets) });
    const pulled = fault.fault === 'removed-always' || (fault.fault === 'removed' && !putBack);
    const faults: ChipFaults = {
      ...(pulled ? { removeAfterApdus: o.removeAfterApdus ?? REMOVE_AFTER_APDUS } : {}),
      ...(fault.fault === 'slow' ? { slowMs: fault.delayMs ?? DEFAULT_SLOW_MS } : {}),
      ...(fault.fault === 'no-chip' ? { noChip: true } : {}),
    };
    const self = placeCard(chip, {
      port,
      faults,
      ...(o.retryMs !== undefined ? { retryMs: o.retryMs } : {}),
      onFaultRemoval: () => {
        removals++;
        again = setTimeout(() => {
          again = null;
          if (placed !== self) return;
          answeredBefore += self.answered();
          put(n, true);
        }, o.placeAgainMs ?? PLACE_AGAIN_MS);
      },
    });
    placed = self;
    sample = n;
  };

  return {
    available: reader !== null,
    status() {
      const state = placed?.state();
      return {
        available: reader !== null,
        off: reader ? null : (o.off ?? 'hw-sim runs no pcscd'),
        reader: reader ? `${reader.name} 00 00` : null,
        card: sample,
        link: !placed ? 'none' : state === 'closed' ? 'away' : state!,
        fault: fault.fault,
        delayMs: fault.fault === 'slow' ? (fault.delayMs ?? DEFAULT_SLOW_MS) : null,
        answered: answeredBefore + (placed?.answered() ?? 0),
        removals,
      };
    },
    async place(n) {
      need();
      await lift();
      [answeredBefore, removals, sample] = [0, 0, null];
      put(n, false);
    },
    async remove() {
      need();
      sample = null;
      await lift();
    },
    async setFault(f) {
      need();
      fault = { ...f };
      if (sample !== null) await this.place(sample);
    },
    async reset() {
      if (!reader) return;
      [fault, sample] = [{ fault: 'none' }, null];
      await lift();
    },
    close() {
      if (again) clearTimeout(again);
      placed?.remove();
      [placed, again, sample] = [null, null, null];
    },
  };
}
