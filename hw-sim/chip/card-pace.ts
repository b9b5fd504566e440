// The card's side of PACE-ECDH-GM-AES-CBC-CMAC-128 on brainpoolP256r1 (ICAO 9303-11 §4.4, worked example in
// Appendix G.1): MSE:Set AT, then four GENERAL AUTHENTICATEs (nonce, mapping, key agreement, tokens).
// Point arithmetic from @noble/curves: Node's ECDH takes no mapped generator.
import { brainpoolP256r1 } from '@noble/curves/misc.js';
import { ok, parseTlvs, sw, tlv, type Command } from './card-apdu.js';
import { aesCbcEncrypt, aesCmac, kdf16, sameBytes } from './card-crypto.js';
import { mrzHash, type MrzKey } from './card-mrz.js';
import type { RandomBytes } from './card-bac.js';
import type { SmKeys } from './card-sm.js';

const Point = brainpoolP256r1.Point;
type Point = InstanceType<typeof Point>;
const N = Point.CURVE().n;

/** id-PACE-ECDH-GM-AES-CBC-CMAC-128 (0.4.0.127.0.7.2.2.4.2.2), content bytes only. */
export const PACE_OID = Uint8Array.from([0x04, 0x00, 0x7f, 0x00, 0x07, 0x02, 0x02, 0x04, 0x02, 0x02]);
/** Standardized domain parameter 13 = brainpoolP256r1 (ICAO 9303-11 Table 6). */
const BRAINPOOL_P256R1 = 13;

export interface PaceSecrets {
  readonly can: string;
  readonly mrzKey?: MrzKey | undefined;
}

/** Where a PACE run stands between commands; dropped on any error, so a terminal must start again with MSE:Set AT. */
export type PaceState =
  | { readonly step: 'nonce'; readonly kPi: Uint8Array }
  | { readonly step: 'map'; readonly s: bigint }
  | { readonly step: 'agree'; readonly g: Point; readonly pkMapIfd: Point }
  | { readonly step: 'token'; readonly pkIfd: Point; readonly pkIc: Point; readonly ksEnc: Uint8Array; readonly ksMac: Uint8Array };

export type PaceResult = { response: Uint8Array; state: PaceState | null; keys: SmKeys | null };

const refuse = (word: number): PaceResult => ({ response: sw(word), state: null, keys: null });

/** MSE:Set AT (00 22 C1 A4): 80 the protocol OID, 83 the password (01 MRZ, 02 CAN), optionally 84 the domain parameters. */
export function mseSetAt(command: Command, secrets: PaceSecrets): PaceResult {
  const objects = parseTlvs(command.data);
  if (!objects) return refuse(0x6a80);
  const get = (tag: number) => objects.find((o) => o.tag === tag)?.value;
  const oid = get(0x80);
  const ref = get(0x83);
  const params = get(0x84);
  if (!oid || !sameBytes(oid, PACE_OID)) return refuse(0x6a80);
  if (params && !(params.length === 1 && params[0] === BRAINPOOL_P256R1)) return refuse(0x6a80);
  if (!ref || ref.length !== 1) return refuse(0x6a80);
  let secret: Uint8Array;
  if (ref[0] === 0x02) secret = new TextEncoder().encode(secrets.can);
  else if (ref[0] === 0x01 && secrets.mrzKey) secret = mrzHash(secrets.mrzKey);
  else return refuse(0x6a88); // referenced data (that password) not found
  return { response: sw(0x9000), state: { step: 'nonce', kPi: kdf16(secret, 3) }, keys: null };
}

/** A scalar in [1, n-1] from the random source (redrawn when out of range, as a chip's key generator does). */
function privateKey(randomBytes: RandomBytes): bigint {
  for (let tries = 0; tries < 64; tries++) {
    const k = BigInt('0x' + Buffer.from(randomBytes(32)).toString('hex'));
    if (k > 0n && k < N) return k;
  }
  throw new Error('the random source gives no usable private key');
}

/** An uncompressed point on the curve (04 ‖ x ‖ y), not the point at infinity; null otherwise. */
function readPoint(bytes: Uint8Array): Point | null {
  if (bytes.length !== 65 || bytes[0] !== 0x04) return null;
  try {
    const p = Point.fromBytes(bytes);
    p.assertValidity();
    return p.is0() ? null : p;
  } catch {
    return null;
  }
}

const bytes32 = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex'));

/** The authentication token: CMAC over the other side's key as a 7F49 public key object, first 8 bytes. */
function token(ksMac: Uint8Array, key: Point): Uint8Array {
  const template = tlv(0x7f49, Uint8Array.from([...tlv(0x06, PACE_OID), ...tlv(0x86, key.toBytes(false))]));
  return aesCmac(ksMac, template).subarray(0, 8);
}

/** The single object inside the 7C dynamic authentication data, with the tag this step expects; null when absent. */
function stepData(command: Command, tag: number): Uint8Array | null {
  const outer = parseTlvs(command.data);
  if (!outer || outer.length !== 1 || outer[0]!.tag !== 0x7c) return null;
  const inner = parseTlvs(outer[0]!.value);
  if (!inner) return null;
  if (tag === 0) return inner.length === 0 ? new Uint8Array(0) : null;
  return inner.length === 1 && inner[0]!.tag === tag ? inner[0]!.value : null;
}

const answer = (tag: number, value: Uint8Array) => ok(tlv(0x7c, tlv(tag, value)));

/**
 * GENERAL AUTHENTICATE (INS 86): one PACE step per call, chained (CLA 10) for the first three, last (CLA 00) for the
 * tokens. A wrong token → 6300 and no channel; a malformed step or a key not on the curve → 6A80; out of order → 6985.
 */
export function generalAuthenticate(command: Command, state: PaceState | null, randomBytes: RandomBytes): PaceResult {
  if (!state) return refuse(0x6985);
  if (command.p1 !== 0 || command.p2 !== 0) return refuse(0x6a86);
  const chained = (command.cla & 0x10) !== 0;
  if (chained !== (state.step !== 'token')) return refuse(0x6985);
  switch (state.step) {
    case 'nonce': {
      if (!stepData(command, 0)) return refuse(0x6a80);
      const s = randomBytes(16);
      const z = aesCbcEncrypt(state.kPi, new Uint8Array(16), s);
      return { response: answer(0x80, z), state: { step: 'map', s: BigInt('0x' + Buffer.from(s).toString('hex')) }, keys: null };
    }
    case 'map': {
      const pkMapIfd = readPoint(stepData(command, 0x81) ?? new Uint8Array(0));
      if (!pkMapIfd) return refuse(0x6a80);
      const sk = privateKey(randomBytes);
      const h = pkMapIfd.multiply(sk);
      // Generic mapping: G' = s·G + H; s is below n (16 bytes), so multiply() accepts it unless it is zero.
      const g = state.s === 0n ? h : Point.BASE.multiply(state.s).add(h);
      if (g.is0()) return refuse(0x6a80);
      return { response: answer(0x82, Point.BASE.multiply(sk).toBytes(false)), state: { step: 'agree', g, pkMapIfd }, keys: null };
    }
    case 'agree': {
      const pkIfd = readPoint(stepData(command, 0x83) ?? new Uint8Array(0));
      if (!pkIfd || pkIfd.equals(state.pkMapIfd)) return refuse(0x6a80);
      const sk = privateKey(randomBytes);
      const pkIc = state.g.multiply(sk);
      if (pkIc.equals(pkIfd)) return refuse(0x6a80); // ICAO: the two ephemeral keys must differ
      const k = bytes32(pkIfd.multiply(sk).toAffine().x);
      const next: PaceState = { step: 'token', pkIfd, pkIc, ksEnc: kdf16(k, 1), ksMac: kdf16(k, 2) };
      return { response: answer(0x84, pkIc.toBytes(false)), state: next, keys: null };
    }
    case 'token': {
      const tIfd = stepData(command, 0x85);
      if (!tIfd || tIfd.length !== 8) return refuse(0x6a80);
      if (!sameBytes(tIfd, token(state.ksMac, state.pkIc))) return refuse(0x6300);
      const keys: SmKeys = { cipher: 'aes', ksEnc: state.ksEnc, ksMac: state.ksMac, ssc: new Uint8Array(16) };
      return { response: answer(0x86, token(state.ksMac, state.pkIfd)), state: null, keys };
    }
  }
}
