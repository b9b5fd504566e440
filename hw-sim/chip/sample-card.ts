/**
 * The chip of a sample identity's card (hw-sim/identities.ts): its files built by buildCardFiles
 * from the sample's identity and reference portrait, and the secrets PACE and BAC check. The
 * faults that live in the card itself (wrong CAN, a corrupted SOD hash, an unknown signer, a
 * JPEG 2000 portrait) are made here; those of the card's presence on the reader are in sim-chip.ts.
 */
import type { FileName } from '../../src/chip/read-chip.js';
import type { SampleIdentity } from '../identities.js';
import { buildCardFiles, mrzKeyOf, type CardFaults, type CardIdentity, type TestPki } from './card-files.js';
import type { CardSecrets } from './card-security.js';

const slashed = (d: string): string => `${d.slice(0, 2)}/${d.slice(2, 4)}/${d.slice(4)}`;

/** The ages at which a CCCD must be renewed (Luật Căn cước 2023, art. 21); issued after the last, it never expires. */
const RENEWAL_AGES = [14, 25, 40, 60] as const;

/** DD/MM/YYYY of the first renewal birthday after the issue date; undefined for a card without expiry. */
export function expiryOf(dob: string, issued: string): string | undefined {
  const ymd = (d: string): string => `${d.slice(4)}${d.slice(2, 4)}${d.slice(0, 2)}`;
  const born = Number(dob.slice(4));
  const age = RENEWAL_AGES.find((a) => ymd(`${dob.slice(0, 4)}${born + a}`) > ymd(issued));
  return age === undefined ? undefined : slashed(`${dob.slice(0, 4)}${born + age}`);
}

/** What the chip of sample `p`'s card holds about its owner. */
export function cardIdentityOf(p: SampleIdentity, portrait: Uint8Array): CardIdentity {
  const expiry = expiryOf(p.dob, p.issued);
  return {
    idNumber: p.idNumber,
    fullName: p.fullName,
    birthDate: slashed(p.dob),
    sex: p.sex === 'Nam' ? 'M' : 'F',
    issueDate: slashed(p.issued),
    ...(expiry ? { expiryDate: expiry } : {}),
    portrait,
  };
}

/** The card's own faults: what is wrong inside the chip. */
export interface CardContentFaults extends CardFaults {
  /** The chip's CAN is not the last 6 digits of the printed number: PACE fails with 6300. */
  readonly wrongCan?: boolean;
}

/** The card's PACE password (the last 6 digits of its number, each shifted by one for the wrong-CAN fault) and BAC key. */
export function cardSecretsOf(identity: CardIdentity, wrongCan = false): CardSecrets {
  const can = identity.idNumber.slice(-6);
  return {
    can: wrongCan ? [...can].map((d) => String((Number(d) + 1) % 10)).join('') : can,
    mrzKey: mrzKeyOf(identity),
  };
}

export interface SampleCard {
  readonly files: Map<FileName, Uint8Array>;
  readonly secrets: CardSecrets;
}

export function buildSampleCard(p: SampleIdentity, portrait: Uint8Array, pki: TestPki, faults: CardContentFaults = {}): SampleCard {
  const identity = cardIdentityOf(p, portrait);
  const { wrongCan, ...content } = faults;
  return { files: buildCardFiles({ ...identity, pki, faults: content }), secrets: cardSecretsOf(identity, wrongCan === true) };
}
