// Passive authentication (ICAO 9303-11 §5.1, docs chip.md §7): every data group read must hash to
// its value in EF.SOD, EF.SOD must be signed by the document signer certificate it carries, and
// that certificate must be issued by one of our trust anchors (CSCA certificates, DER).
// The verdicts, weakest first:
//   unverified  nothing could be checked (no data group read, or an algorithm we cannot verify)
//   hashes-ok   hashes match and the signature is the signer's, but the signer is not anchored
//               (no anchors configured: the CCCD's CSCA is not public) — catches a lazy forgery only
//   chain-ok    and the signer is issued by a trust anchor: only now is the chip's data authentic
//   failed      a hash differs, a group is not covered, or the signature is bad
// Details name groups and the signer's issuer, never any group's content.
import { X509Certificate } from 'node:crypto';
import type { FileName } from './read-chip.js';
import type { Sod } from './sod.js';
import { digest, sameBytes, verifySodSignature } from './sod-signature.js';

export type PaStatus = 'unverified' | 'hashes-ok' | 'chain-ok' | 'failed';

export interface PaResult {
  readonly pa: PaStatus;
  readonly detail: string;
  /** Groups whose hash differs from EF.SOD's, or that EF.SOD does not cover. */
  readonly mismatched: readonly FileName[];
  /** Groups whose hash matched. */
  readonly checked: readonly FileName[];
  /** Who signed EF.SOD (worth recording even when unanchored). */
  readonly signer: { readonly issuer: string; readonly serial: string };
}

export function passiveAuth(files: ReadonlyMap<FileName, Uint8Array>, sod: Sod, anchors: readonly Uint8Array[]): PaResult {
  const signer = { issuer: sod.signer.issuer, serial: sod.signer.serial };
  const checked: FileName[] = [];
  const differs: FileName[] = [];
  const uncovered: FileName[] = [];
  for (const [name, bytes] of files) {
    const dg = /^DG(\d+)$/.exec(name)?.[1];
    if (dg === undefined) continue; // EF.COM and EF.CardAccess are not hashed in EF.SOD
    const expected = sod.hashes.get(Number(dg));
    if (!expected) uncovered.push(name);
    else (sameBytes(digest(sod.digestAlgorithm, bytes), expected) ? checked : differs).push(name);
  }
  const result = (pa: PaStatus, detail: string): PaResult => ({ pa, detail, mismatched: [...differs, ...uncovered], checked, signer });
  if (differs.length > 0 || uncovered.length > 0) {
    const parts = [
      differs.length > 0 ? `hash mismatch: ${differs.join(', ')}` : '',
      uncovered.length > 0 ? `not in EF.SOD: ${uncovered.join(', ')}` : '',
    ];
    return result('failed', parts.filter(Boolean).join('; '));
  }
  if (checked.length === 0) return result('unverified', 'no data group read to check against EF.SOD');
  const hashes = `hashes of ${checked.join(', ')} match`;
  const signature = verifySodSignature(sod);
  if (signature.status === 'bad') return result('failed', `EF.SOD signature invalid: ${signature.why}`);
  if (signature.status === 'unsupported') return result('unverified', `${hashes}, but the signature cannot be checked: ${signature.why}`);
  const signed = `${hashes}; signed by ${signer.issuer} serial ${signer.serial}`;
  if (anchors.length === 0) return result('hashes-ok', `${signed}; no trust anchors configured`);
  const anchor = issuingAnchor(sod.signer.certDer, anchors);
  if (!anchor) return result('hashes-ok', `${signed}; not issued by any of ${anchors.length} trust anchor(s)`);
  return result('chain-ok', `${signed}; issued by trust anchor ${anchor}`);
}

/** The subject of the anchor that issued and signed the document signer certificate, if any. */
function issuingAnchor(dscDer: Uint8Array, anchors: readonly Uint8Array[]): string | undefined {
  let dsc: X509Certificate;
  try {
    dsc = new X509Certificate(dscDer);
  } catch {
    return undefined;
  }
  for (const der of anchors) {
    try {
      const ca = new X509Certificate(der);
      if (dsc.checkIssued(ca) && dsc.verify(ca.publicKey)) return ca.subject.replace(/\n/g, ', ');
    } catch {
      // an anchor that does not parse anchors nothing
    }
  }
  return undefined;
}
