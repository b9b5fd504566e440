// The card's side of secure messaging (ICAO 9303-11 §9.8): protected commands in (DO87, DO97, DO8E), protected
// responses out (DO87, DO99, DO8E). One counter (SSC) for both directions, incremented before each command is checked
// and before each response is protected.
import { encodeCommand, parseCommand, parseTlvs, sw, tlv, type Command } from './card-apdu.js';
import {
  aesCbcDecrypt,
  aesCbcEncrypt,
  aesCmac,
  aesEcbEncrypt,
  concat,
  increment,
  pad,
  retailMac,
  sameBytes,
  tdesCbcDecrypt,
  tdesCbcEncrypt,
  unpad,
} from './card-crypto.js';

export type SmCipher = 'aes' | '3des';

export interface SmKeys {
  readonly cipher: SmCipher;
  readonly ksEnc: Uint8Array;
  readonly ksMac: Uint8Array;
  /** The counter's value before the first command: 16 zero bytes after PACE, RND.IC[4..8] ‖ RND.IFD[4..8] after BAC. */
  readonly ssc: Uint8Array;
}

export type Unwrapped = { ok: true; plain: Uint8Array } | { ok: false; response: Uint8Array };

export interface SmChannel {
  unwrap(apdu: Uint8Array): Unwrapped;
  wrap(response: Uint8Array): Uint8Array;
}

/** 6987: expected SM data objects missing; 6988: SM data objects incorrect (a wrong MAC among them). */
const MISSING = 0x6987;
const INCORRECT = 0x6988;

/** The per-cipher pieces: block size, cryptogram in both directions (IV from the SSC for AES), 8-byte MAC. */
function suite(keys: SmKeys) {
  const block = keys.cipher === 'aes' ? 16 : 8;
  const aesIv = (ssc: Uint8Array) => aesEcbEncrypt(keys.ksEnc, ssc);
  return {
    block,
    encrypt: (ssc: Uint8Array, data: Uint8Array) =>
      keys.cipher === 'aes' ? aesCbcEncrypt(keys.ksEnc, aesIv(ssc), data) : tdesCbcEncrypt(keys.ksEnc, data),
    decrypt: (ssc: Uint8Array, data: Uint8Array) =>
      keys.cipher === 'aes' ? aesCbcDecrypt(keys.ksEnc, aesIv(ssc), data) : tdesCbcDecrypt(keys.ksEnc, data),
    // The MAC input is padded for both ciphers: a real AES chip answers 6988 to an unpadded one.
    mac: (input: Uint8Array) => {
      const padded = pad(input, block);
      return keys.cipher === 'aes' ? aesCmac(keys.ksMac, padded).subarray(0, 8) : retailMac(keys.ksMac, padded);
    },
  };
}

type Parts = { do87: Uint8Array | null; cryptogram: Uint8Array | null; do97: Uint8Array | null; le: number | null; cc: Uint8Array };

/** Splits a protected command's data into its objects, in the order ICAO gives; a status word when they are wrong. */
function splitObjects(data: Uint8Array): Parts | number {
  const objects = parseTlvs(data);
  if (!objects) return INCORRECT;
  const parts: Parts = { do87: null, cryptogram: null, do97: null, le: null, cc: new Uint8Array(0) };
  let i = 0;
  const o87 = objects[i];
  if (o87?.tag === 0x87) {
    if (o87.value.length < 2 || o87.value[0] !== 0x01) return INCORRECT;
    [parts.do87, parts.cryptogram, i] = [o87.raw, o87.value.subarray(1), i + 1];
  }
  const o97 = objects[i];
  if (o97?.tag === 0x97) {
    const v = o97.value;
    if (v.length > 2) return INCORRECT;
    const le = v.length === 0 ? null : v.length === 1 ? v[0]! || 256 : (v[0]! << 8) | v[1]! || 65536;
    [parts.do97, parts.le, i] = [o97.raw, le, i + 1];
  }
  const o8e = objects[i];
  if (!o8e || o8e.tag !== 0x8e) return objects.slice(i).some((o) => o.tag !== 0x8e) ? INCORRECT : MISSING;
  if (o8e.value.length !== 8 || i + 1 !== objects.length) return INCORRECT;
  parts.cc = o8e.value;
  return parts;
}

/**
 * A secure channel over the given session keys. It knows nothing of its own closing: the caller drops it when
 * unwrap() fails, as the chip drops the session keys.
 */
export function openSmChannel(keys: SmKeys): SmChannel {
  const s = suite(keys);
  let ssc: Uint8Array = Uint8Array.from(keys.ssc);
  const fail = (word: number): Unwrapped => ({ ok: false, response: sw(word) });

  return {
    unwrap(apdu) {
      const command = parseCommand(apdu);
      if (!command || (command.cla & 0x0c) !== 0x0c) return fail(INCORRECT);
      const parts = splitObjects(command.data);
      if (typeof parts === 'number') return fail(parts);
      ssc = increment(ssc);
      const header = Uint8Array.of(command.cla, command.ins, command.p1, command.p2);
      const macInput = concat(ssc, pad(header, s.block), parts.do87 ?? new Uint8Array(0), parts.do97 ?? new Uint8Array(0));
      if (!sameBytes(s.mac(macInput), parts.cc)) return fail(INCORRECT);
      let data: Uint8Array = new Uint8Array(0);
      if (parts.cryptogram) {
        if (parts.cryptogram.length % s.block !== 0) return fail(INCORRECT);
        const plain = unpad(s.decrypt(ssc, parts.cryptogram));
        if (!plain) return fail(INCORRECT);
        data = plain;
      }
      const plain: Command = { cla: command.cla & ~0x0c, ins: command.ins, p1: command.p1, p2: command.p2, data, le: parts.le };
      return { ok: true, plain: encodeCommand(plain) };
    },

    wrap(answer) {
      const response: Uint8Array = answer.length >= 2 ? answer : sw(0x6f00); // no status word: report "no precise diagnosis"
      const data = response.subarray(0, Math.max(0, response.length - 2));
      const status = response.subarray(Math.max(0, response.length - 2));
      ssc = increment(ssc);
      const do87 = data.length > 0 ? tlv(0x87, concat(Uint8Array.of(0x01), s.encrypt(ssc, pad(data, s.block)))) : new Uint8Array(0);
      const do99 = tlv(0x99, status);
      const cc = s.mac(concat(ssc, do87, do99));
      return concat(do87, do99, tlv(0x8e, cc), status);
    },
  };
}
