// The card's symmetric primitives (ICAO 9303-11 §9.7, §9.8), on node:crypto only: the virtual chip must not share code
// with the reader in src/chip/, so that a bug in one shows up as a failed read instead of hiding in both.
import { createCipheriv, createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';

export const concat = (...parts: readonly Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** ISO/IEC 9797-1 padding method 2: 0x80, then zeros up to a whole block (always at least one byte). */
export function pad(data: Uint8Array, block: number): Uint8Array {
  const out = new Uint8Array((Math.floor(data.length / block) + 1) * block);
  out.set(data);
  out[data.length] = 0x80;
  return out;
}

/** Undoes pad(); null when the padding is not there (a wrong key or a tampered cryptogram). */
export function unpad(data: Uint8Array): Uint8Array | null {
  let i = data.length - 1;
  while (i >= 0 && data[i] === 0) i--;
  return i >= 0 && data[i] === 0x80 ? data.subarray(0, i) : null;
}

/** KDF(K, c) = the first 16 bytes of SHA-1(K ‖ c), c a 32-bit counter: 1 enc, 2 MAC, 3 PACE password (§9.7.1). */
export function kdf16(secret: Uint8Array, counter: number): Uint8Array {
  const c = Buffer.alloc(4);
  c.writeUInt32BE(counter);
  return Uint8Array.from(createHash('sha1').update(secret).update(c).digest().subarray(0, 16));
}

export const sha1 = (data: Uint8Array): Uint8Array => Uint8Array.from(createHash('sha1').update(data).digest());

function run(decrypt: boolean, algorithm: string, key: Uint8Array, iv: Uint8Array | null, data: Uint8Array): Uint8Array {
  const cipher = decrypt ? createDecipheriv(algorithm, key, iv) : createCipheriv(algorithm, key, iv);
  cipher.setAutoPadding(false);
  return concat(cipher.update(data), cipher.final());
}

const zeros = (n: number) => new Uint8Array(n);

export const aesCbcEncrypt = (key: Uint8Array, iv: Uint8Array, data: Uint8Array) => run(false, 'aes-128-cbc', key, iv, data);
export const aesCbcDecrypt = (key: Uint8Array, iv: Uint8Array, data: Uint8Array) => run(true, 'aes-128-cbc', key, iv, data);
export const aesEcbEncrypt = (key: Uint8Array, block: Uint8Array) => run(false, 'aes-128-ecb', key, null, block);

/** Two-key 3DES-CBC, IV 0 (BAC and its secure messaging). OpenSSL ignores the DES parity bits, so keys need no adjusting. */
export const tdesCbcEncrypt = (key: Uint8Array, data: Uint8Array) => run(false, 'des-ede-cbc', key, zeros(8), data);
export const tdesCbcDecrypt = (key: Uint8Array, data: Uint8Array) => run(true, 'des-ede-cbc', key, zeros(8), data);

/**
 * ISO/IEC 9797-1 MAC algorithm 3 (retail MAC) over already padded data. Single DES is refused by OpenSSL 3, but
 * 3DES with K‖K is single DES: CBC under Ka for all blocks but the last, then the last through full 3DES (Ka, Kb).
 */
export function retailMac(key: Uint8Array, padded: Uint8Array): Uint8Array {
  const ka = key.subarray(0, 8);
  const singleDes = concat(ka, ka);
  let h: Uint8Array = zeros(8);
  for (let off = 0; off + 8 < padded.length; off += 8) h = run(false, 'des-ede-ecb', singleDes, null, xor(h, padded.subarray(off, off + 8)));
  return run(false, 'des-ede-ecb', key, null, xor(h, padded.subarray(padded.length - 8)));
}

export function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** The CMAC subkey step (NIST SP 800-38B): shift left one bit, xor 0x87 when a bit fell off. */
function doubleBlock(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = ((block[i]! << 1) | ((block[i + 1] ?? 0) >> 7)) & 0xff;
  if (block[0]! & 0x80) out[15] = out[15]! ^ 0x87;
  return out;
}

/** AES-128-CMAC (RFC 4493), full 16 bytes; ICAO keeps the first 8. */
export function aesCmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  const k1 = doubleBlock(aesEcbEncrypt(key, zeros(16)));
  const n = Math.max(1, Math.ceil(message.length / 16));
  const complete = message.length > 0 && message.length % 16 === 0;
  const lastIn = message.subarray((n - 1) * 16);
  const last = complete ? xor(lastIn, k1) : xor(pad(lastIn, 16).subarray(0, 16), doubleBlock(k1));
  let x: Uint8Array = zeros(16);
  for (let i = 0; i < n - 1; i++) x = aesEcbEncrypt(key, xor(x, message.subarray(i * 16, i * 16 + 16)));
  return aesEcbEncrypt(key, xor(x, last));
}

/** Big-endian increment of a send sequence counter, wrapping at the top. */
export function increment(counter: Uint8Array): Uint8Array {
  const out = Uint8Array.from(counter);
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = (out[i]! + 1) & 0xff;
    if (out[i] !== 0) break;
  }
  return out;
}
