// The symmetric cryptography of ICAO 9303-11 on node:crypto: AES-CMAC (RFC 4493), the KDF (§9.7.1),
// ISO/IEC 9797-1 padding method 2 and MAC algorithm 3 ("retail MAC"), 3DES key parity.
// OpenSSL 3 refuses single DES, so each single-DES block is 2-key 3DES with K‖K: E_K(D_K(E_K(x))) = E_K(x).
import { createCipheriv, createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';
import { ChipError, concat } from './apdu.js';

function run(cipher: ReturnType<typeof createCipheriv> | ReturnType<typeof createDecipheriv>, data: Uint8Array): Uint8Array {
  cipher.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([cipher.update(data), cipher.final()]));
}

function checkBlocks(data: Uint8Array, size: number, what: string): void {
  if (data.length % size !== 0) throw new ChipError('malformed', `${what}: ${data.length} bytes is not a whole number of blocks`);
}

function aesName(key: Uint8Array, mode: 'ecb' | 'cbc'): string {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) throw new ChipError('malformed', `AES key of ${key.length} bytes`);
  return `aes-${key.length * 8}-${mode}`;
}

function desKey(key: Uint8Array): Uint8Array {
  if (key.length !== 16) throw new ChipError('malformed', `3DES key of ${key.length} bytes (2-key 3DES needs 16)`);
  return key;
}

export function aesEcbEncrypt(key: Uint8Array, data: Uint8Array): Uint8Array {
  checkBlocks(data, 16, 'AES-ECB');
  return run(createCipheriv(aesName(key, 'ecb'), key, null), data);
}

export function aesCbcEncrypt(key: Uint8Array, data: Uint8Array, iv: Uint8Array = new Uint8Array(16)): Uint8Array {
  checkBlocks(data, 16, 'AES-CBC');
  return run(createCipheriv(aesName(key, 'cbc'), key, iv), data);
}

export function aesCbcDecrypt(key: Uint8Array, data: Uint8Array, iv: Uint8Array = new Uint8Array(16)): Uint8Array {
  checkBlocks(data, 16, 'AES-CBC');
  return run(createDecipheriv(aesName(key, 'cbc'), key, iv), data);
}

/** 2-key 3DES-CBC, IV zero unless given (BAC and its secure messaging). */
export function des3CbcEncrypt(key: Uint8Array, data: Uint8Array, iv: Uint8Array = new Uint8Array(8)): Uint8Array {
  checkBlocks(data, 8, '3DES-CBC');
  return run(createCipheriv('des-ede-cbc', desKey(key), iv), data);
}

export function des3CbcDecrypt(key: Uint8Array, data: Uint8Array, iv: Uint8Array = new Uint8Array(8)): Uint8Array {
  checkBlocks(data, 8, '3DES-CBC');
  return run(createDecipheriv('des-ede-cbc', desKey(key), iv), data);
}

/** ISO/IEC 9797-1 padding method 2: 80, then zeros to a whole block. */
export function pad(data: Uint8Array, blockSize: number): Uint8Array {
  const n = blockSize - (data.length % blockSize);
  const out = new Uint8Array(data.length + n);
  out.set(data);
  out[data.length] = 0x80;
  return out;
}

export function unpad(data: Uint8Array): Uint8Array {
  let i = data.length - 1;
  while (i >= 0 && data[i] === 0) i--;
  if (i < 0 || data[i] !== 0x80) throw new ChipError('malformed', 'padding method 2 not found');
  return data.slice(0, i);
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((v, i) => v ^ b[i]!);
}

/** Left shift by one bit of a 16-byte block, with the RFC 4493 constant folded in on carry. */
function dbl(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = ((block[i]! << 1) | ((block[i + 1] ?? 0) >> 7)) & 0xff;
  if (block[0]! & 0x80) out[15]! ^= 0x87;
  return out;
}

/** AES-CMAC (RFC 4493, NIST SP 800-38B), full 16-byte tag; ICAO 9303 uses the first 8. */
export function aesCmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  const k1 = dbl(aesEcbEncrypt(key, new Uint8Array(16)));
  const k2 = dbl(k1);
  const complete = message.length > 0 && message.length % 16 === 0;
  const blocks = complete ? message.slice() : pad(message, 16);
  const lastAt = blocks.length - 16;
  blocks.set(xor(blocks.subarray(lastAt), complete ? k1 : k2), lastAt);
  return aesCbcEncrypt(key, blocks).slice(-16);
}

/**
 * ISO/IEC 9797-1 MAC algorithm 3 with DES, IV zero, over the message padded by method 2:
 * single-DES CBC with Ka, then the last block through E_Ka(D_Kb(·)), i.e. 3DES-EDE(Ka,Kb) of (H_{q-1} ⊕ D_q).
 */
export function retailMac(key: Uint8Array, message: Uint8Array): Uint8Array {
  desKey(key);
  const data = pad(message, 8);
  const ka = key.subarray(0, 8);
  const head = data.subarray(0, data.length - 8);
  const chained = head.length > 0 ? des3CbcEncrypt(concat(ka, ka), head).slice(-8) : new Uint8Array(8);
  const last = xor(chained, data.subarray(data.length - 8));
  return run(createCipheriv('des-ede-ecb', key, null), last);
}

/** ICAO 9303-11 §9.7.1: KDF(K, c) = H(K ‖ c as 4 bytes), SHA-1 cut to 16 bytes for 3DES and AES-128, SHA-256 beyond. */
export function kdf(secret: Uint8Array, counter: number, keyLength: 16 | 24 | 32 = 16): Uint8Array {
  const c = Uint8Array.of(counter >>> 24, (counter >>> 16) & 0xff, (counter >>> 8) & 0xff, counter & 0xff);
  const hash = createHash(keyLength === 16 ? 'sha1' : 'sha256')
    .update(concat(secret, c))
    .digest();
  return new Uint8Array(hash.subarray(0, keyLength));
}

export const KDF_ENC = 1;
export const KDF_MAC = 2;
export const KDF_PI = 3;

/** DES keys carry odd parity in each byte's low bit (the spec prints parity-adjusted keys). */
export function adjustParity(key: Uint8Array): Uint8Array {
  return key.map((b) => {
    let ones = 0;
    for (let v = b >> 1; v; v >>= 1) ones += v & 1;
    return (b & 0xfe) | (ones % 2 === 0 ? 1 : 0);
  });
}

export function sha1(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha1').update(data).digest());
}

/** Constant-time comparison of two MACs or tokens. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
