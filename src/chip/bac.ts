// Basic Access Control (ICAO 9303-11 §4.3, keys §9.7.2): the fallback for a chip without PACE.
// Keys come from the MRZ's document number, birth date and expiry, each with its check digit; the
// mutual authentication is GET CHALLENGE + EXTERNAL AUTHENTICATE, then 3DES secure messaging.
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { buildApdu, ChipError, concat, exchange, isVerificationFailure, statusError, SW_OK, type Transmit } from './apdu.js';
import { adjustParity, des3CbcDecrypt, des3CbcEncrypt, kdf, KDF_ENC, KDF_MAC, retailMac, sameBytes, sha1 } from './crypto.js';
import { createSecureMessaging, type SecureMessaging } from './secure-messaging.js';

export interface MrzKey {
  /** As printed in the MRZ, A-Z 0-9 and '<'; padded with '<' to 9 characters. */
  readonly documentNumber: string;
  /** YYMMDD */
  readonly birthDate: string;
  /** YYMMDD */
  readonly expiryDate: string;
}

export type RandomBytes = (n: number) => Uint8Array;

const defaultRandom: RandomBytes = (n) => new Uint8Array(nodeRandomBytes(n));

/** ICAO 9303-3 check digit: weights 7 3 1, digits as themselves, A-Z as 10-35, '<' as 0. */
export function checkDigit(field: string): number {
  let sum = 0;
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    const v = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 90 ? c - 55 : 0;
    sum += v * [7, 3, 1][i % 3]!;
  }
  return sum % 10;
}

/** The MRZ information of §9.7.2: number, dates, each followed by its check digit. Validates the form, never echoes values. */
export function mrzInformation(key: MrzKey): string {
  const doc = key.documentNumber.toUpperCase().padEnd(9, '<');
  if (!/^[A-Z0-9<]{9,}$/.test(doc) || doc.length > 22) throw new ChipError('malformed', 'BAC key: document number not in MRZ form');
  for (const d of [key.birthDate, key.expiryDate]) {
    if (!/^\d{6}$/.test(d)) throw new ChipError('malformed', 'BAC key: a date is not YYMMDD');
  }
  return `${doc}${checkDigit(doc)}${key.birthDate}${checkDigit(key.birthDate)}${key.expiryDate}${checkDigit(key.expiryDate)}`;
}

/** Document basic access keys: K_seed = SHA-1(MRZ information)[0..16], K_enc / K_mac by the KDF, parity adjusted. */
export function bacKeys(key: MrzKey): { kSeed: Uint8Array; kEnc: Uint8Array; kMac: Uint8Array } {
  const kSeed = sha1(new TextEncoder().encode(mrzInformation(key))).slice(0, 16);
  return { kSeed, kEnc: adjustParity(kdf(kSeed, KDF_ENC)), kMac: adjustParity(kdf(kSeed, KDF_MAC)) };
}

/** Session keys from K.IFD ⊕ K.IC, and the SSC from the last 4 bytes of each nonce (§9.7.4, §9.8.3). */
export function bacSession(
  kIfd: Uint8Array,
  kIc: Uint8Array,
  rndIc: Uint8Array,
  rndIfd: Uint8Array,
): { ksEnc: Uint8Array; ksMac: Uint8Array; ssc: Uint8Array } {
  const seed = kIfd.map((b, i) => b ^ kIc[i]!);
  return {
    ksEnc: adjustParity(kdf(seed, KDF_ENC)),
    ksMac: adjustParity(kdf(seed, KDF_MAC)),
    ssc: concat(rndIc.subarray(4, 8), rndIfd.subarray(4, 8)),
  };
}

/**
 * The mutual authentication. Expects the eMRTD application to be selected already (in plain).
 * Throws ChipError 'wrong-can' when the chip refuses the MRZ key (6300, 63Cx or 6982) or its answer does not verify:
 * that reason means "the access key was refused", whether CAN or MRZ.
 */
export async function performBac(
  transmit: Transmit,
  key: MrzKey,
  signal: AbortSignal,
  random: RandomBytes = defaultRandom,
): Promise<SecureMessaging> {
  const { kEnc, kMac } = bacKeys(key);
  const challenge = await exchange(transmit, buildApdu({ cla: 0x00, ins: 0x84, p1: 0x00, p2: 0x00, le: 8 }), signal);
  if (challenge.sw !== SW_OK) throw statusError('BAC GET CHALLENGE', challenge.sw);
  if (challenge.data.length !== 8) throw new ChipError('malformed', `BAC GET CHALLENGE: ${challenge.data.length} bytes, not 8`);
  const rndIc = challenge.data;
  const rndIfd = random(8);
  const kIfd = random(16);
  const eIfd = des3CbcEncrypt(kEnc, concat(rndIfd, rndIc, kIfd));
  const cmdData = concat(eIfd, retailMac(kMac, eIfd));
  const auth = await exchange(transmit, buildApdu({ cla: 0x00, ins: 0x82, p1: 0x00, p2: 0x00, data: cmdData, le: 40 }), signal);
  if (isVerificationFailure(auth.sw) || auth.sw === 0x6982)
    throw new ChipError('wrong-can', `BAC EXTERNAL AUTHENTICATE: the chip refused the MRZ key (${auth.sw.toString(16).toUpperCase()})`);
  if (auth.sw !== SW_OK) throw statusError('BAC EXTERNAL AUTHENTICATE', auth.sw);
  if (auth.data.length !== 40) throw new ChipError('malformed', `BAC EXTERNAL AUTHENTICATE: ${auth.data.length} bytes, not 40`);
  const eIc = auth.data.subarray(0, 32);
  if (!sameBytes(retailMac(kMac, eIc), auth.data.subarray(32, 40)))
    throw new ChipError('wrong-can', "BAC: the chip's cryptogram MAC does not verify");
  const r = des3CbcDecrypt(kEnc, eIc);
  if (!sameBytes(r.subarray(0, 8), rndIc) || !sameBytes(r.subarray(8, 16), rndIfd))
    throw new ChipError('malformed', "BAC: the chip's nonces do not match");
  const session = bacSession(kIfd, r.subarray(16, 32), rndIc, rndIfd);
  return createSecureMessaging('3des', session.ksEnc, session.ksMac, session.ssc);
}
