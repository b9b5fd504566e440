// The terminal side of ICAO 9303-11 §9.8 secure messaging, both flavours:
// - 3DES (after BAC): 2-key 3DES-CBC with IV zero, retail MAC, 8-byte SSC;
// - AES (after PACE): AES-CBC with IV = AES-ECB(KS_enc, SSC), AES-CMAC cut to 8 bytes, 16-byte SSC.
// Commands go out as CLA 0C with DO87 (or DO85 for an odd INS), DO97, DO8E; responses come back as DO87/DO85, DO99, DO8E.
// The SSC is incremented before each command and before each response; the response MAC is checked before any of it is used.
import { ChipError, concat, readTlvs, swHex, tlv, type Command, type Response } from './apdu.js';
import { aesCbcDecrypt, aesCbcEncrypt, aesCmac, aesEcbEncrypt, des3CbcDecrypt, des3CbcEncrypt, pad, retailMac, sameBytes, unpad } from './crypto.js';

export type SmCipher = 'aes' | '3des';

export interface SecureMessaging {
  readonly cipher: SmCipher;
  /** The protected form of a plain command (increments the SSC). */
  protect(cmd: Command): Uint8Array;
  /** The plain response of a protected one (increments the SSC); throws ChipError 'sm-lost' when the chip dropped the channel. */
  unprotect(response: Uint8Array): Response;
  /** The current send sequence counter (a copy). */
  ssc(): Uint8Array;
}

export interface SmOptions {
  /** Allow extended-length protected APDUs (off: the CCCD path keeps to short APDUs). */
  readonly extended?: boolean;
}

interface Suite {
  readonly block: number;
  encrypt(data: Uint8Array, ssc: Uint8Array): Uint8Array;
  decrypt(data: Uint8Array, ssc: Uint8Array): Uint8Array;
  mac(data: Uint8Array): Uint8Array;
}

function suite(cipher: SmCipher, ksEnc: Uint8Array, ksMac: Uint8Array): Suite {
  if (cipher === '3des') {
    return {
      block: 8,
      encrypt: (data) => des3CbcEncrypt(ksEnc, data),
      decrypt: (data) => des3CbcDecrypt(ksEnc, data),
      mac: (data) => retailMac(ksMac, data),
    };
  }
  // §9.8.7.1: the IV is the SSC encrypted with KS_enc, so the same plaintext never encrypts alike twice.
  const iv = (ssc: Uint8Array): Uint8Array => aesEcbEncrypt(ksEnc, ssc);
  return {
    block: 16,
    encrypt: (data, ssc) => aesCbcEncrypt(ksEnc, data, iv(ssc)),
    decrypt: (data, ssc) => aesCbcDecrypt(ksEnc, data, iv(ssc)),
    mac: (data) => aesCmac(ksMac, pad(data, 16)).slice(0, 8),
  };
}

function toBytes(value: bigint, width: number): Uint8Array {
  const out = new Uint8Array(width);
  let v = value;
  for (let i = width - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function do97(le: number): Uint8Array {
  return tlv(0x97, le <= 256 ? Uint8Array.of(le & 0xff) : Uint8Array.of((le >> 8) & 0xff, le & 0xff));
}

/** CLA of a protected command: SM bits b4 b3 = 11 (header authenticated), chaining and channel bits kept. */
function protectedCla(cla: number): number {
  if (cla & 0x40) return cla | 0x20;
  return (cla & 0xf3) | 0x0c;
}

const SM_ERRORS = new Set([0x6987, 0x6988]);

/**
 * One secure-messaging session. `ssc` is the initial counter: 8 bytes for 3DES (from BAC's nonces), 16 zero bytes for AES.
 * Holds the keys and counter in a closure: one object per authenticated session.
 */
export function createSecureMessaging(
  cipher: SmCipher,
  ksEnc: Uint8Array,
  ksMac: Uint8Array,
  initialSsc: Uint8Array,
  opts: SmOptions = {},
): SecureMessaging {
  const s = suite(cipher, ksEnc, ksMac);
  if (initialSsc.length !== s.block) throw new ChipError('malformed', `SSC of ${initialSsc.length} bytes for ${cipher}`);
  const width = s.block;
  const modulus = 1n << BigInt(width * 8);
  let counter = BigInt(`0x${Buffer.from(initialSsc).toString('hex')}`);
  const next = (): Uint8Array => {
    counter = (counter + 1n) % modulus;
    return toBytes(counter, width);
  };

  function protect(cmd: Command): Uint8Array {
    const ssc = next();
    const header = Uint8Array.of(protectedCla(cmd.cla), cmd.ins, cmd.p1, cmd.p2);
    const odd = (cmd.ins & 1) === 1;
    let dataDo: Uint8Array = new Uint8Array(0);
    if (cmd.data !== undefined && cmd.data.length > 0) {
      const ct = s.encrypt(pad(cmd.data, s.block), ssc);
      // §9.8.4: an odd INS carries BER-TLV data, sent as DO85 without the padding-content indicator.
      dataDo = odd ? tlv(0x85, ct) : tlv(0x87, concat(Uint8Array.of(0x01), ct));
    }
    const leDo = cmd.le !== undefined ? do97(cmd.le) : new Uint8Array(0);
    const mac = s.mac(concat(ssc, pad(header, s.block), dataDo, leDo));
    const body = concat(dataDo, leDo, tlv(0x8e, mac));
    const extended = body.length > 255 || (cmd.le !== undefined && cmd.le > 256);
    if (!extended) return concat(header, Uint8Array.of(body.length), body, Uint8Array.of(0));
    if (opts.extended !== true) throw new ChipError('too-large', 'protected command needs extended length, which is off');
    return concat(header, Uint8Array.of(0, body.length >> 8, body.length & 0xff), body, Uint8Array.of(0, 0));
  }

  function unprotect(response: Uint8Array): Response {
    const ssc = next();
    if (response.length < 2) throw new ChipError('malformed', 'protected response without status word');
    const sw = (response[response.length - 2]! << 8) | response[response.length - 1]!;
    const body = response.subarray(0, response.length - 2);
    if (body.length === 0) {
      if (SM_ERRORS.has(sw)) throw new ChipError('sm-lost', `secure messaging: chip answered ${swHex(sw)}`);
      // An unprotected success would be unauthenticated data: refuse it. An unprotected error carries nothing to trust.
      if (sw === 0x9000 || sw >> 8 === 0x61 || sw >> 8 === 0x62) throw new ChipError('sm-lost', `secure messaging: unprotected ${swHex(sw)}`);
      return { data: new Uint8Array(0), sw };
    }
    return open(body, ssc);
  }

  function open(body: Uint8Array, ssc: Uint8Array): Response {
    const objects = readTlvs(body);
    const macAt = objects.findIndex((o) => o.tag === 0x8e);
    if (macAt !== objects.length - 1) throw new ChipError('malformed', 'protected response: DO8E missing or not last');
    const covered = objects.slice(0, macAt);
    const macObject = objects[macAt]!;
    // The MAC covers the data objects exactly as sent, so take their bytes rather than re-encode them.
    const macInput = body.subarray(0, macObject.end - macObject.headerLength - macObject.value.length);
    if (!sameBytes(s.mac(concat(ssc, macInput)), macObject.value)) throw new ChipError('sm-lost', 'protected response: MAC does not verify');
    let data: Uint8Array = new Uint8Array(0);
    let status: number | undefined;
    for (const o of covered) {
      if (o.tag === 0x87) {
        if (o.value[0] !== 0x01) throw new ChipError('malformed', 'DO87 without padding indicator 01');
        data = unpad(s.decrypt(o.value.subarray(1), ssc));
      } else if (o.tag === 0x85) {
        data = unpad(s.decrypt(o.value, ssc));
      } else if (o.tag === 0x99 && o.value.length === 2) {
        status = (o.value[0]! << 8) | o.value[1]!;
      } else {
        throw new ChipError('malformed', `protected response: unexpected DO${o.tag.toString(16).toUpperCase()}`);
      }
    }
    if (status === undefined) throw new ChipError('malformed', 'protected response without DO99');
    if (SM_ERRORS.has(status)) throw new ChipError('sm-lost', `secure messaging: chip answered ${swHex(status)}`);
    return { data, sw: status };
  }

  return { cipher, protect, unprotect, ssc: () => toBytes(counter, width) };
}
