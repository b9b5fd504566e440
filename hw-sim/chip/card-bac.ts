// The card's side of Basic Access Control (ICAO 9303-11 §4.3, worked example in Appendix D): GET CHALLENGE, then
// EXTERNAL AUTHENTICATE with 3DES and the retail MAC, ending in 3DES session keys.
import { ok, sw, type Command } from './card-apdu.js';
import { concat, kdf16, pad, retailMac, sameBytes, tdesCbcDecrypt, tdesCbcEncrypt, xor } from './card-crypto.js';
import { mrzHash, type MrzKey } from './card-mrz.js';
import type { SmKeys } from './card-sm.js';

export type RandomBytes = (n: number) => Uint8Array;

/** GET CHALLENGE (00 84 00 00 08): eight random bytes, remembered for the one EXTERNAL AUTHENTICATE that may follow. */
export function getChallenge(command: Command, randomBytes: RandomBytes): { response: Uint8Array; challenge: Uint8Array | null } {
  if (command.p1 !== 0 || command.p2 !== 0) return { response: sw(0x6a86), challenge: null };
  if (command.data.length > 0 || command.le !== 8) return { response: sw(0x6700), challenge: null };
  const challenge = randomBytes(8);
  return { response: ok(challenge), challenge };
}

export type BacResult = { response: Uint8Array; keys: SmKeys | null };

/**
 * EXTERNAL AUTHENTICATE (00 82 00 00 28 E_IFD ‖ M_IFD): checks the terminal knows the MRZ key and answered this
 * card's challenge, then sends its own half of the session key seed. A wrong key or a stale challenge → 6300.
 */
export function externalAuthenticate(command: Command, mrz: MrzKey | undefined, challenge: Uint8Array | null, randomBytes: RandomBytes): BacResult {
  if (command.p1 !== 0 || command.p2 !== 0) return { response: sw(0x6a86), keys: null };
  if (command.data.length !== 40 || (command.le !== null && command.le !== 40 && command.le !== 256)) return { response: sw(0x6700), keys: null };
  if (!challenge || !mrz) return { response: sw(0x6985), keys: null };
  const seed = mrzHash(mrz).subarray(0, 16);
  const kEnc = kdf16(seed, 1);
  const kMac = kdf16(seed, 2);
  const eIfd = command.data.subarray(0, 32);
  if (!sameBytes(retailMac(kMac, pad(eIfd, 8)), command.data.subarray(32))) return { response: sw(0x6300), keys: null };
  const s = tdesCbcDecrypt(kEnc, eIfd);
  const rndIfd = s.subarray(0, 8);
  if (!sameBytes(s.subarray(8, 16), challenge)) return { response: sw(0x6300), keys: null };
  const kIfd = s.subarray(16, 32);
  const kIc = randomBytes(16);
  const eIc = tdesCbcEncrypt(kEnc, concat(challenge, rndIfd, kIc));
  const sessionSeed = xor(kIfd, kIc);
  return {
    response: ok(concat(eIc, retailMac(kMac, pad(eIc, 8)))),
    keys: {
      cipher: '3des',
      ksEnc: kdf16(sessionSeed, 1),
      ksMac: kdf16(sessionSeed, 2),
      ssc: concat(challenge.subarray(4, 8), rndIfd.subarray(4, 8)),
    },
  };
}
