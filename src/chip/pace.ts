// PACE (ICAO 9303-11 §4.4), terminal side, for id-PACE-ECDH-GM-AES-CBC-CMAC-128 on brainpoolP256r1: the
// protocol of the Vietnamese CCCD and of the worked example in Appendix G.1. Node's ECDH takes no custom
// generator, so the Generic Mapping's point arithmetic is @noble/curves.
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { brainpoolP256r1 } from '@noble/curves/misc.js';
import { buildApdu, ChipError, concat, exchange, isVerificationFailure, readTlv, statusError, SW_OK, swHex, tlv, type Transmit } from './apdu.js';
import { mrzInformation, type MrzKey, type RandomBytes } from './bac.js';
import { BRAINPOOL_P256R1, encodeOid, PACE_ECDH_GM_AES_128, type PaceInfo } from './card-access.js';
import { aesCbcDecrypt, aesCmac, kdf, KDF_ENC, KDF_MAC, KDF_PI, sameBytes, sha1 } from './crypto.js';
import { createSecureMessaging, type SecureMessaging } from './secure-messaging.js';

/** CAN (password reference 02) or MRZ (01), ICAO 9303-11 §4.4.4.1 / §9.7.3. */
export type PacePassword = { readonly can: string } | { readonly mrz: MrzKey };

const Point = brainpoolP256r1.Point;
type EcPoint = InstanceType<typeof Point>;
const ORDER = Point.Fn.ORDER;
const defaultRandom: RandomBytes = (n) => new Uint8Array(nodeRandomBytes(n));

/** K_π = KDF(f(π), 3): f(π) = the CAN's ASCII digits; for the MRZ, SHA-1 of the MRZ information. Never echoes the secret. */
export function passwordKey(password: PacePassword): Uint8Array {
  if ('can' in password) {
    if (!/^\d{6}$/.test(password.can)) throw new ChipError('malformed', 'CAN must be 6 digits');
    return kdf(new TextEncoder().encode(password.can), KDF_PI);
  }
  return kdf(sha1(new TextEncoder().encode(mrzInformation(password.mrz))), KDF_PI);
}

/** s = AES-CBC⁻¹(K_π, z), IV zero. */
export function decryptNonce(kPi: Uint8Array, z: Uint8Array): Uint8Array {
  if (z.length === 0 || z.length % 16 !== 0) throw new ChipError('malformed', `PACE nonce of ${z.length} bytes`);
  return aesCbcDecrypt(kPi, z);
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function toBytes32(n: bigint): Uint8Array {
  return Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex'));
}

/** A chip public key: an uncompressed point on the curve, not the identity (Point.fromBytes checks both). */
export function decodePoint(bytes: Uint8Array, what: string): EcPoint {
  if (bytes.length !== 65 || bytes[0] !== 0x04) throw new ChipError('malformed', `PACE ${what}: not an uncompressed brainpoolP256r1 point`);
  try {
    return Point.fromBytes(bytes);
  } catch {
    throw new ChipError('malformed', `PACE ${what}: not a point on brainpoolP256r1`);
  }
}

export function encodePoint(p: EcPoint): Uint8Array {
  return p.toBytes(false);
}

/** An ephemeral private key in [1, n-1], by rejection sampling: injected bytes are used as the key itself. */
export function randomScalar(random: RandomBytes): bigint {
  for (let i = 0; i < 64; i++) {
    const k = toBigInt(random(32));
    if (k > 0n && k < ORDER) return k;
  }
  throw new ChipError('io', 'random source gave no usable scalar');
}

/** Generic Mapping (§4.4.3.3.1): H = sk_map·PK_map,IC; Ĝ = s·G + H. */
export function mapGenerator(s: Uint8Array, skMap: bigint, pkMapIc: EcPoint): { h: EcPoint; generator: EcPoint } {
  const h = pkMapIc.multiply(skMap);
  const sScalar = toBigInt(s) % ORDER;
  const generator = sScalar === 0n ? h : Point.BASE.multiply(sScalar).add(h);
  if (generator.is0()) throw new ChipError('malformed', 'PACE: mapped generator is the identity');
  return { h, generator };
}

/** K = x(sk·PK) as 32 bytes; KS_enc = KDF(K, 1), KS_mac = KDF(K, 2) (AES-128). */
export function sessionKeys(sk: bigint, pkIc: EcPoint): { shared: Uint8Array; ksEnc: Uint8Array; ksMac: Uint8Array } {
  const point = pkIc.multiply(sk);
  if (point.is0()) throw new ChipError('malformed', 'PACE: shared point is the identity');
  const shared = toBytes32(point.toAffine().x);
  return { shared, ksEnc: kdf(shared, KDF_ENC), ksMac: kdf(shared, KDF_MAC) };
}

/** Authentication token (§4.4.3.4): AES-CMAC(KS_mac, 7F49 { 06 OID, 86 public point })[0..8]. */
export function authToken(ksMac: Uint8Array, oid: string, publicKey: Uint8Array): Uint8Array {
  const input = tlv(0x7f49, concat(tlv(0x06, encodeOid(oid)), tlv(0x86, publicKey)));
  return aesCmac(ksMac, input).slice(0, 8);
}

/** MSE:Set AT for mutual authentication; the parameter id (84) only when the card lists several PACE domain parameters. */
export function mseSetAt(oid: string, password: PacePassword, parameterId?: number): Uint8Array {
  const ref = 'can' in password ? 0x02 : 0x01;
  const data = concat(
    tlv(0x80, encodeOid(oid)),
    tlv(0x83, Uint8Array.of(ref)),
    parameterId === undefined ? new Uint8Array(0) : tlv(0x84, Uint8Array.of(parameterId)),
  );
  return buildApdu({ cla: 0x00, ins: 0x22, p1: 0xc1, p2: 0xa4, data });
}

interface Exchange {
  readonly transmit: Transmit;
  readonly signal: AbortSignal;
}

/** One GENERAL AUTHENTICATE: data in 7C, answer's 7C must hold `expect`. CLA 10 (chained) except for the last. */
async function generalAuthenticate(x: Exchange, step: number, sendTag: number, value: Uint8Array, expect: number): Promise<Uint8Array> {
  const data = tlv(0x7c, value.length === 0 ? new Uint8Array(0) : tlv(sendTag, value));
  const apdu = buildApdu({ cla: step < 4 ? 0x10 : 0x00, ins: 0x86, p1: 0x00, p2: 0x00, data, le: 256 });
  const rsp = await exchange(x.transmit, apdu, x.signal);
  if (step === 4 && (isVerificationFailure(rsp.sw) || rsp.sw === 0x6982)) {
    throw new ChipError('wrong-can', `PACE: the chip refused the access key (${swHex(rsp.sw)})`);
  }
  if (rsp.sw !== SW_OK) throw statusError(`PACE GENERAL AUTHENTICATE ${step}`, rsp.sw);
  const outer = readTlv(rsp.data);
  if (outer.tag !== 0x7c) throw new ChipError('malformed', `PACE step ${step}: answer is not a 7C template`);
  for (let at = 0; at < outer.value.length;) {
    const inner = readTlv(outer.value, at);
    if (inner.tag === expect) return inner.value;
    at = inner.end;
  }
  throw new ChipError('malformed', `PACE step ${step}: answer lacks tag ${expect.toString(16)}`);
}

export interface PaceOptions {
  readonly info: PaceInfo;
  readonly password: PacePassword;
  readonly signal: AbortSignal;
  /** Send the parameter id in MSE:Set AT (needed only when EF.CardAccess offers several PACE parameter sets). */
  readonly sendParameterId?: boolean;
  /** Random source for the two ephemeral private keys, in that order (tests inject App. G.1's). */
  readonly randomBytes?: RandomBytes;
}

/** Runs PACE and returns the AES secure-messaging session (SSC zero). Wrong CAN → ChipError 'wrong-can'. */
export async function performPace(transmit: Transmit, opts: PaceOptions): Promise<SecureMessaging> {
  const { info, password } = opts;
  if (info.oid !== PACE_ECDH_GM_AES_128 || info.parameterId !== BRAINPOOL_P256R1) {
    throw new ChipError('unsupported', `PACE ${info.oid} with parameter ${info.parameterId ?? 'none'} is not implemented`);
  }
  const random = opts.randomBytes ?? defaultRandom;
  const x: Exchange = { transmit, signal: opts.signal };
  const kPi = passwordKey(password);
  const mse = await exchange(transmit, mseSetAt(info.oid, password, opts.sendParameterId === true ? info.parameterId : undefined), opts.signal);
  // 63Cx here is a retry counter warning (PIN-style passwords), not a refusal; any other refusal means the chip
  // does not do PACE as asked (the reader may then fall back to BAC).
  if (mse.sw !== SW_OK && (mse.sw & 0xfff0) !== 0x63c0) throw new ChipError('unsupported', `PACE MSE:Set AT: status ${swHex(mse.sw)}`);

  const s = decryptNonce(kPi, await generalAuthenticate(x, 1, 0x80, new Uint8Array(0), 0x80));

  const skMap = randomScalar(random);
  const pkMapIfd = encodePoint(Point.BASE.multiply(skMap));
  const pkMapIc = decodePoint(await generalAuthenticate(x, 2, 0x81, pkMapIfd, 0x82), 'mapping key');
  const { generator } = mapGenerator(s, skMap, pkMapIc);

  const skDh = randomScalar(random);
  const pkDhIfd = encodePoint(generator.multiply(skDh));
  const pkDhIcBytes = await generalAuthenticate(x, 3, 0x83, pkDhIfd, 0x84);
  const pkDhIc = decodePoint(pkDhIcBytes, 'ephemeral key');
  // §4.4.3.3.2: the terminal checks the chip did not echo its own key (a reflection).
  if (sameBytes(pkDhIcBytes, pkDhIfd)) throw new ChipError('malformed', "PACE: the chip's ephemeral key equals the terminal's");
  const { ksEnc, ksMac } = sessionKeys(skDh, pkDhIc);

  const tIc = await generalAuthenticate(x, 4, 0x85, authToken(ksMac, info.oid, pkDhIcBytes), 0x86);
  if (!sameBytes(tIc, authToken(ksMac, info.oid, pkDhIfd))) throw new ChipError('wrong-can', "PACE: the chip's token does not verify");
  return createSecureMessaging('aes', ksEnc, ksMac, new Uint8Array(16));
}
