// EF.SOD (ICAO 9303-10 §4.6.2): 77 → CMS SignedData (RFC 5652) over an LDSSecurityObject, the
// hash of each data group, signed by the document signer whose certificate travels inside.
// @peculiar/asn1-cms gives the typed structure; the bytes a signature covers (signed attributes,
// certificates) are cut from the file itself, never re-encoded, so a non-canonical but genuine
// encoding still verifies. Nothing here is personal data; checking is passive-auth.ts's job.
import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ContentInfo, SignedData, type SignerInfo } from '@peculiar/asn1-cms';
import { Certificate, SubjectKeyIdentifier } from '@peculiar/asn1-x509';
import { ChipError } from './apdu.js';
import { childrenOf, malformed, readFile, readOid, readSmallInteger, readTlv, checkTree, type Tlv } from './tlv.js';

export type HashName = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

export interface SodSigner {
  /** The document signer certificate's issuer, as node:crypto prints it. */
  readonly issuer: string;
  /** Its serial number, hex. */
  readonly serial: string;
  readonly certDer: Uint8Array;
}

export interface SodSignature {
  /** The SignerInfo's digest algorithm (for the signed attributes and the message digest). */
  readonly digestAlgorithm: HashName;
  /** The signature algorithm's OID, and its parameters' DER (RSASSA-PSS) if any. */
  readonly algorithm: string;
  readonly parameters?: Uint8Array;
  readonly value: Uint8Array;
  /** The signed attributes re-tagged as the SET (31) the signature covers (RFC 5652 §5.4). */
  readonly signedAttrs?: Uint8Array;
  readonly messageDigest?: Uint8Array;
  readonly contentType?: string;
}

export interface Sod {
  /** The algorithm of the data-group hashes. */
  readonly digestAlgorithm: HashName;
  readonly hashes: ReadonlyMap<number, Uint8Array>;
  /** LDSSecurityObject v1 only: "0108". */
  readonly ldsVersion?: string;
  readonly signer: SodSigner;
  /** The encapsulated LDSSecurityObject: what the message digest is over. */
  readonly content: Uint8Array;
  readonly signature: SodSignature;
}

export const MAX_SOD_BYTES = 128 * 1024;
const ID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const ID_LDS_SECURITY_OBJECT = '2.23.136.1.1.1';
const ID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const ID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const ID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14';

export const HASH_OIDS: ReadonlyMap<string, HashName> = new Map([
  ['1.3.14.3.2.26', 'sha1'],
  ['2.16.840.1.101.3.4.2.4', 'sha224'],
  ['2.16.840.1.101.3.4.2.1', 'sha256'],
  ['2.16.840.1.101.3.4.2.2', 'sha384'],
  ['2.16.840.1.101.3.4.2.3', 'sha512'],
]);
export const HASH_LENGTHS: Readonly<Record<HashName, number>> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

export function parseSod(bytes: Uint8Array): Sod {
  if (bytes.length > MAX_SOD_BYTES) throw new ChipError('too-large', `EF.SOD of ${bytes.length} bytes, limit ${MAX_SOD_BYTES}`);
  const [contentInfo] = childrenOf(readFile(bytes, 0x77, 'EF.SOD'));
  if (!contentInfo || contentInfo.tag !== 0x30) throw malformed('EF.SOD: no ContentInfo');
  const ci = asn1(() => AsnConvert.parse(contentInfo.raw, ContentInfo), 'ContentInfo');
  if (ci.contentType !== ID_SIGNED_DATA) throw malformed('EF.SOD: not a SignedData');
  const sd = asn1(() => AsnConvert.parse(ci.content, SignedData), 'SignedData');
  const raw = rawParts(contentInfo);
  if (sd.encapContentInfo.eContentType !== ID_LDS_SECURITY_OBJECT) throw malformed('EF.SOD: content is not an LDSSecurityObject');
  const single = sd.encapContentInfo.eContent?.single;
  if (!single) throw malformed('EF.SOD: no encapsulated content');
  const content = new Uint8Array(single.buffer.slice(0));
  const signerInfo = sd.signerInfos[0];
  if (!signerInfo || !raw.signerInfo) throw malformed('EF.SOD: no SignerInfo');
  return {
    ...readLdsSecurityObject(content),
    signer: signerOf(signerInfo, raw.certificates),
    content,
    signature: signatureOf(signerInfo, raw.signerInfo),
  };
}

export function hashOf(oid: string, what: string): HashName {
  const name = HASH_OIDS.get(oid);
  if (!name) throw new ChipError('unsupported', `${what}: digest algorithm ${oid}`);
  return name;
}

/** The certificates' DER and the first SignerInfo, cut from the file (ContentInfo → [0] → SignedData). */
function rawParts(contentInfo: Tlv): { certificates: Uint8Array[]; signerInfo?: Tlv } {
  const explicit = childrenOf(contentInfo).find((c) => c.tag === 0xa0);
  const signedData = explicit && childrenOf(explicit)[0];
  if (!signedData || signedData.tag !== 0x30) throw malformed('EF.SOD: no SignedData');
  const parts = childrenOf(signedData);
  const certSet = parts.find((c) => c.tag === 0xa0);
  const signerInfos = parts[parts.length - 1];
  if (!signerInfos || signerInfos.tag !== 0x31) throw malformed('EF.SOD: no SignerInfos');
  const certificates = certSet ? childrenOf(certSet).flatMap((c) => (c.tag === 0x30 ? [c.raw.slice()] : [])) : [];
  const signerInfo = childrenOf(signerInfos)[0];
  return signerInfo ? { certificates, signerInfo } : { certificates };
}

/** LDSSecurityObject ::= SEQUENCE { version, hashAlgorithm, SEQUENCE OF { dataGroupNumber, hash }, ldsVersionInfo OPTIONAL } */
function readLdsSecurityObject(content: Uint8Array): Pick<Sod, 'digestAlgorithm' | 'hashes' | 'ldsVersion'> {
  const { tlv: root, end } = readTlv(content, 0);
  if (root.tag !== 0x30 || end !== content.length) throw malformed('LDSSecurityObject: not one SEQUENCE');
  checkTree(root);
  const [version, algorithm, list, versionInfo] = childrenOf(root);
  if (!version || !algorithm || !list || algorithm.tag !== 0x30 || list.tag !== 0x30) throw malformed('LDSSecurityObject: fields missing');
  if (readSmallInteger(version, 'LDSSecurityObject version') > 1) throw malformed('LDSSecurityObject: version over 1');
  const [oid] = childrenOf(algorithm);
  if (!oid) throw malformed('LDSSecurityObject: no hash algorithm');
  const digestAlgorithm = hashOf(readOid(oid, 'LDSSecurityObject hash algorithm'), 'LDSSecurityObject');
  const hashes = new Map<number, Uint8Array>();
  for (const item of childrenOf(list)) {
    const [number, hash] = item.tag === 0x30 ? childrenOf(item) : [];
    if (!number || !hash || hash.tag !== 0x04) throw malformed('LDSSecurityObject: a DataGroupHash is malformed');
    const dg = readSmallInteger(number, 'DataGroupHash number');
    if (dg < 1 || dg > 16) throw malformed(`LDSSecurityObject: data group ${dg} out of range`);
    if (hashes.has(dg)) throw malformed(`LDSSecurityObject: DG${dg} hashed twice`);
    if (hash.value.length !== HASH_LENGTHS[digestAlgorithm]) throw malformed(`LDSSecurityObject: DG${dg} hash is not ${digestAlgorithm} long`);
    hashes.set(dg, hash.value.slice());
  }
  if (hashes.size === 0) throw malformed('LDSSecurityObject: no data-group hash');
  const ldsVersion = versionInfo?.tag === 0x30 ? childrenOf(versionInfo)[0] : undefined;
  return { digestAlgorithm, hashes, ...(ldsVersion?.tag === 0x13 ? { ldsVersion: String.fromCharCode(...ldsVersion.value) } : {}) };
}

function signatureOf(info: SignerInfo, raw: Tlv): SodSignature {
  const digestAlgorithm = hashOf(info.digestAlgorithm.algorithm, 'SignerInfo');
  const params = info.signatureAlgorithm.parameters;
  const base = {
    digestAlgorithm,
    algorithm: info.signatureAlgorithm.algorithm,
    ...(params ? { parameters: new Uint8Array(params.slice(0)) } : {}),
    value: new Uint8Array(info.signature.buffer.slice(0)),
  };
  const attrsTlv = childrenOf(raw).find((c) => c.tag === 0xa0);
  if (!attrsTlv || !info.signedAttrs) return base;
  const signedAttrs = attrsTlv.raw.slice();
  signedAttrs[0] = 0x31; // [0] IMPLICIT in the file, SET OF in what is signed
  const contentTypeAttr = attributeValue(info, ID_CONTENT_TYPE);
  const digestAttr = attributeValue(info, ID_MESSAGE_DIGEST);
  if (digestAttr && digestAttr.tag !== 0x04) throw malformed('SignerInfo: messageDigest is not an OCTET STRING');
  return {
    ...base,
    signedAttrs,
    ...(digestAttr ? { messageDigest: digestAttr.value.slice() } : {}),
    ...(contentTypeAttr ? { contentType: readOid(contentTypeAttr, 'SignerInfo contentType') } : {}),
  };
}

function attributeValue(info: SignerInfo, oid: string): Tlv | undefined {
  const attrs = (info.signedAttrs ?? []).filter((a) => a.attrType === oid);
  if (attrs.length > 1 || (attrs[0] && attrs[0].attrValues.length !== 1)) throw malformed(`SignerInfo: attribute ${oid} is not single-valued`);
  const value = attrs[0]?.attrValues[0];
  if (!value) return undefined;
  const bytes = new Uint8Array(value);
  const { tlv, end } = readTlv(bytes, 0);
  if (end !== bytes.length) throw malformed(`SignerInfo: attribute ${oid} has trailing bytes`);
  return tlv;
}

/** The certificate the SignerInfo names, by issuer and serial number or by subject key identifier. */
function signerOf(info: SignerInfo, certificates: readonly Uint8Array[]): SodSigner {
  const byIssuer = info.sid.issuerAndSerialNumber;
  const byKeyId = info.sid.subjectKeyIdentifier;
  const wanted = byIssuer
    ? { issuer: AsnConvert.serialize(byIssuer.issuer), serial: byIssuer.serialNumber }
    : byKeyId
      ? { keyId: byKeyId.buffer }
      : undefined;
  if (!wanted) throw malformed('SignerInfo: no signer identifier');
  for (const der of certificates) {
    const cert = asn1(() => AsnConvert.parse(der, Certificate), 'certificate');
    const tbs = cert.tbsCertificate;
    const matches =
      'keyId' in wanted
        ? sameBuffer(subjectKeyId(cert), wanted.keyId)
        : sameBuffer(tbs.serialNumber, wanted.serial) && sameBuffer(AsnConvert.serialize(tbs.issuer), wanted.issuer);
    if (!matches) continue;
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(der);
    } catch {
      throw malformed('EF.SOD: the document signer certificate does not parse');
    }
    return { issuer: x509.issuer.replace(/\n/g, ', '), serial: x509.serialNumber.toUpperCase(), certDer: der };
  }
  throw malformed('EF.SOD: no certificate matches the signer');
}

function subjectKeyId(cert: Certificate): ArrayBuffer | undefined {
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === ID_SUBJECT_KEY_IDENTIFIER);
  return ext && asn1(() => AsnConvert.parse(ext.extnValue, SubjectKeyIdentifier), 'subject key identifier').buffer;
}

function sameBuffer(a: ArrayBuffer | undefined, b: ArrayBuffer): boolean {
  return a !== undefined && Buffer.from(a).equals(Buffer.from(b));
}

/** The ASN.1 library throws its own errors on bad input; they become a malformed file, without their text. */
function asn1<T>(parse: () => T, what: string): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof ChipError) throw e;
    throw malformed(`EF.SOD: ${what} does not decode`);
  }
}
