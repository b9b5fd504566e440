// The document signer's signature over EF.SOD (RFC 5652 §5.4, ICAO 9303-12 for the algorithms):
// the message digest attribute must be the hash of the LDSSecurityObject, and the signature
// covers the DER of the signed attributes. RSA PKCS#1 v1.5, RSASSA-PSS, ECDSA (X9.62 DER) and
// the BSI TR-03111 plain ECDSA, all through node:crypto.
import { constants, createHash, timingSafeEqual, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { childrenOf, readOid, readSmallInteger, readTlv } from './tlv.js';
import { hashOf, type HashName, type Sod } from './sod.js';

export type SignatureCheck = { readonly status: 'ok' } | { readonly status: 'bad' | 'unsupported'; readonly why: string };

interface Scheme {
  readonly family: 'rsa' | 'ec';
  /** Undefined: the SignerInfo's digest algorithm. */
  readonly hash?: HashName;
  readonly pss?: boolean;
  readonly plain?: boolean;
}

const SCHEMES: ReadonlyMap<string, Scheme> = new Map<string, Scheme>([
  ['1.2.840.113549.1.1.1', { family: 'rsa' }],
  ['1.2.840.113549.1.1.5', { family: 'rsa', hash: 'sha1' }],
  ['1.2.840.113549.1.1.14', { family: 'rsa', hash: 'sha224' }],
  ['1.2.840.113549.1.1.11', { family: 'rsa', hash: 'sha256' }],
  ['1.2.840.113549.1.1.12', { family: 'rsa', hash: 'sha384' }],
  ['1.2.840.113549.1.1.13', { family: 'rsa', hash: 'sha512' }],
  ['1.2.840.113549.1.1.10', { family: 'rsa', pss: true }],
  ['1.2.840.10045.2.1', { family: 'ec' }],
  ['1.2.840.10045.4.1', { family: 'ec', hash: 'sha1' }],
  ['1.2.840.10045.4.3.1', { family: 'ec', hash: 'sha224' }],
  ['1.2.840.10045.4.3.2', { family: 'ec', hash: 'sha256' }],
  ['1.2.840.10045.4.3.3', { family: 'ec', hash: 'sha384' }],
  ['1.2.840.10045.4.3.4', { family: 'ec', hash: 'sha512' }],
  ['0.4.0.127.0.7.1.1.4.1.1', { family: 'ec', hash: 'sha1', plain: true }],
  ['0.4.0.127.0.7.1.1.4.1.2', { family: 'ec', hash: 'sha224', plain: true }],
  ['0.4.0.127.0.7.1.1.4.1.3', { family: 'ec', hash: 'sha256', plain: true }],
  ['0.4.0.127.0.7.1.1.4.1.4', { family: 'ec', hash: 'sha384', plain: true }],
  ['0.4.0.127.0.7.1.1.4.1.5', { family: 'ec', hash: 'sha512', plain: true }],
]);
const ID_LDS_SECURITY_OBJECT = '2.23.136.1.1.1';
const ID_MGF1 = '1.2.840.113549.1.1.8';

export function verifySodSignature(sod: Sod): SignatureCheck {
  const sig = sod.signature;
  if (sig.signedAttrs) {
    if (!sig.messageDigest) return { status: 'bad', why: 'signed attributes carry no message digest' };
    if (!sameBytes(sig.messageDigest, digest(sig.digestAlgorithm, sod.content)))
      return { status: 'bad', why: 'message digest does not match the LDSSecurityObject' };
    if (sig.contentType !== undefined && sig.contentType !== ID_LDS_SECURITY_OBJECT)
      return { status: 'bad', why: 'signed content type is not an LDSSecurityObject' };
  }
  const scheme = SCHEMES.get(sig.algorithm);
  if (!scheme) return { status: 'unsupported', why: `signature algorithm ${sig.algorithm}` };
  let key: KeyObject;
  try {
    key = new X509Certificate(sod.signer.certDer).publicKey;
  } catch {
    return { status: 'unsupported', why: 'document signer public key not usable' };
  }
  const keyFamily = key.asymmetricKeyType === 'ec' ? 'ec' : key.asymmetricKeyType?.startsWith('rsa') ? 'rsa' : undefined;
  if (keyFamily !== scheme.family) return { status: 'bad', why: 'signature algorithm does not fit the signer key' };
  let options: Parameters<typeof verify>[2] = key;
  let hash = scheme.hash ?? sig.digestAlgorithm;
  if (scheme.pss) {
    const pss = pssParameters(sig.parameters);
    if ('why' in pss) return { status: 'unsupported', why: pss.why };
    hash = pss.hash;
    options = { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength };
  } else if (scheme.plain) options = { key, dsaEncoding: 'ieee-p1363' };
  try {
    return verify(hash, sig.signedAttrs ?? sod.content, options, sig.value) ? { status: 'ok' } : { status: 'bad', why: 'signature does not verify' };
  } catch {
    return { status: 'bad', why: 'signature does not verify' };
  }
}

export function digest(hash: HashName, data: Uint8Array): Uint8Array {
  return createHash(hash).update(data).digest();
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** RSASSA-PSS-params (RFC 4055): [0] hash (default SHA-1), [1] MGF1 with the same hash, [2] salt length (default 20). */
function pssParameters(der: Uint8Array | undefined): { hash: HashName; saltLength: number } | { why: string } {
  let hash: HashName = 'sha1';
  let mgfHash: HashName = 'sha1';
  let saltLength = 20;
  try {
    const { tlv, end } = der ? readTlv(der, 0) : { tlv: undefined, end: 0 };
    if (tlv && (tlv.tag !== 0x30 || end !== der!.length)) return { why: 'RSASSA-PSS parameters malformed' };
    for (const field of tlv ? childrenOf(tlv) : []) {
      const [inner] = childrenOf(field);
      if (!inner) return { why: 'RSASSA-PSS parameters malformed' };
      if (field.tag === 0xa0) hash = hashOf(readOid(childrenOf(inner)[0]!, 'PSS hash'), 'RSASSA-PSS');
      else if (field.tag === 0xa1) {
        const [mgfOid, mgfParams] = childrenOf(inner);
        if (!mgfOid || readOid(mgfOid, 'PSS mask generation') !== ID_MGF1 || !mgfParams) return { why: 'RSASSA-PSS mask generation not MGF1' };
        mgfHash = hashOf(readOid(childrenOf(mgfParams)[0]!, 'MGF1 hash'), 'MGF1');
      } else if (field.tag === 0xa2) saltLength = readSmallInteger(inner, 'PSS salt length');
    }
  } catch {
    return { why: 'RSASSA-PSS parameters malformed' };
  }
  if (mgfHash !== hash) return { why: 'RSASSA-PSS with an MGF1 hash unlike its message hash' };
  return { hash, saltLength };
}
