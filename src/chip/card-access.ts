// EF.CardAccess (ICAO 9303-11 §9.2): a SET of SecurityInfos telling the terminal which PACE and Chip
// Authentication protocols the chip offers. Only what the reader needs is decoded; the rest is kept as OIDs.
import { ChipError, fromHex, readTlv, readTlvs, type Tlv } from './apdu.js';

export interface PaceInfo {
  readonly oid: string;
  readonly version: number;
  /** Standardized domain parameters (ICAO 9303-11 Table 6); 13 = brainpoolP256r1. */
  readonly parameterId?: number;
}

export interface ChipAuthenticationInfo {
  readonly oid: string;
  readonly version: number;
  readonly keyId?: number;
}

export interface CardAccess {
  readonly pace: readonly PaceInfo[];
  readonly chipAuthentication: readonly ChipAuthenticationInfo[];
  /** OIDs of the other SecurityInfos (Terminal Authentication, domain parameter infos…). */
  readonly other: readonly string[];
}

/** id-PACE-ECDH-GM-AES-CBC-CMAC-128, the protocol of the Vietnamese card and of ICAO 9303-11 App. G.1. */
export const PACE_ECDH_GM_AES_128 = '0.4.0.127.0.7.2.2.4.2.2';
export const BRAINPOOL_P256R1 = 13;

const ID_PACE = '0.4.0.127.0.7.2.2.4.';
const ID_CA = '0.4.0.127.0.7.2.2.3.';

/**
 * The bytes phone apps hard-code for the CCCD (chip.md §3: byte-identical in five public apps): TA v1,
 * CA-ECDH-AES-CBC-CMAC-128 v1, PACE-ECDH-GM-AES-CBC-CMAC-128 v2 on parameterId 13. Used when the card refuses the file.
 */
export const VIETNAM_CARD_ACCESS = fromHex(
  '3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010d',
);

/** Dotted form of a DER OBJECT IDENTIFIER's content. */
export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0 || bytes.length > 64) throw new ChipError('malformed', 'OID of unreasonable length');
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (value > 0x00ffffff) throw new ChipError('malformed', 'OID arc too large');
    value = value * 128 + (b & 0x7f);
    if (b & 0x80) {
      if (i === bytes.length - 1) throw new ChipError('malformed', 'OID cut short');
      continue;
    }
    if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
    else arcs.push(value);
    value = 0;
  }
  return arcs.join('.');
}

/** DER content octets of an OID, for the PACE MSE:Set AT and token input. */
export function encodeOid(oid: string): Uint8Array {
  const arcs = oid.split('.').map((a) => {
    if (!/^\d{1,9}$/.test(a)) throw new ChipError('malformed', 'not a dotted OID');
    return Number(a);
  });
  if (arcs.length < 2) throw new ChipError('malformed', 'OID needs two arcs');
  const out: number[] = [];
  const values = [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)];
  for (const v of values) {
    const chunk = [v & 0x7f];
    for (let rest = Math.floor(v / 128); rest > 0; rest = Math.floor(rest / 128)) chunk.unshift((rest & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return Uint8Array.from(out);
}

function integer(t: Tlv | undefined): number | undefined {
  if (t === undefined || t.tag !== 0x02) return undefined;
  if (t.value.length === 0 || t.value.length > 4) throw new ChipError('malformed', 'SecurityInfo INTEGER of unreasonable length');
  return t.value.reduce((n, b) => n * 256 + b, 0);
}

function securityInfo(seq: Tlv, into: { pace: PaceInfo[]; chipAuthentication: ChipAuthenticationInfo[]; other: string[] }): void {
  if (seq.tag !== 0x30) throw new ChipError('malformed', 'SecurityInfo is not a SEQUENCE');
  const [oidTlv, second, third] = readTlvs(seq.value);
  if (oidTlv?.tag !== 0x06) throw new ChipError('malformed', 'SecurityInfo without protocol OID');
  const oid = decodeOid(oidTlv.value);
  const version = integer(second);
  // PACEInfo / ChipAuthenticationInfo carry INTEGER version; the *DomainParameterInfo variants carry a SEQUENCE instead.
  if (oid.startsWith(ID_PACE) && version !== undefined) {
    const parameterId = integer(third);
    into.pace.push(parameterId === undefined ? { oid, version } : { oid, version, parameterId });
  } else if (oid.startsWith(ID_CA) && oid.split('.').length === 11 && version !== undefined) {
    const keyId = integer(third);
    into.chipAuthentication.push(keyId === undefined ? { oid, version } : { oid, version, keyId });
  } else {
    into.other.push(oid);
  }
}

/** Parses EF.CardAccess; throws ChipError 'malformed' on anything that is not a SET of SecurityInfos. */
export function parseCardAccess(bytes: Uint8Array): CardAccess {
  const set = readTlv(bytes);
  if (set.tag !== 0x31) throw new ChipError('malformed', 'EF.CardAccess is not a SET');
  const into = { pace: [] as PaceInfo[], chipAuthentication: [] as ChipAuthenticationInfo[], other: [] as string[] };
  for (const seq of readTlvs(set.value)) securityInfo(seq, into);
  return into;
}

/** The PACE variant this reader implements, if the card offers it: GM, ECDH, AES-128 on brainpoolP256r1. */
export function supportedPace(access: CardAccess): PaceInfo | undefined {
  return access.pace.find((p) => p.oid === PACE_ECDH_GM_AES_128 && p.version === 2 && p.parameterId === BRAINPOOL_P256R1);
}
