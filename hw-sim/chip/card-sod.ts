// The virtual card's EF.SOD (ICAO 9303-10 §4.6.2): an LDSSecurityObject with the SHA-256 of each
// data group, in a CMS SignedData signed by a document signer (ECDSA with SHA-256 over the signed
// attributes), its certificate included. Built with @peculiar/asn1-cms and node:crypto.
import { createHash, sign } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  Attribute,
  CertificateChoices,
  CertificateSet,
  ContentInfo,
  DigestAlgorithmIdentifier,
  DigestAlgorithmIdentifiers,
  EncapsulatedContent,
  EncapsulatedContentInfo,
  IssuerAndSerialNumber,
  SignatureAlgorithmIdentifier,
  SignedData,
  SignerIdentifier,
  SignerInfo,
  SignerInfos,
} from '@peculiar/asn1-cms';
import { Certificate } from '@peculiar/asn1-x509';
import { der, int, octets, oid, seq, set } from './card-der.js';
import type { Signer } from './card-pki.js';

const SHA256 = '2.16.840.1.101.3.4.2.1';
const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const ID_LDS_SECURITY_OBJECT = '2.23.136.1.1.1';
const ID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const ID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const ID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';

/** `groups`: data-group number → the file's bytes. `corrupt`: a group whose hash is stored wrong (the SOD stays validly signed). */
export function buildSod(groups: ReadonlyMap<number, Uint8Array>, signer: Signer, corrupt?: number): Uint8Array {
  const hashes = [...groups]
    .sort(([a], [b]) => a - b)
    .map(([dg, bytes]) => {
      const hash = sha256(bytes);
      if (dg === corrupt) hash[0] = hash[0]! ^ 0xff;
      return seq(int(dg), octets(hash));
    });
  const lds = seq(int(0), seq(oid(SHA256)), seq(...hashes));
  // The signed attributes as signed (a SET); in the SignerInfo they travel as [0] IMPLICIT.
  const attrs = [attribute(ID_CONTENT_TYPE, oid(ID_LDS_SECURITY_OBJECT)), attribute(ID_MESSAGE_DIGEST, octets(sha256(lds)))];
  const signature = sign('sha256', set(...attrs.map((a) => new Uint8Array(AsnConvert.serialize(a)))), signer.key);
  const cert = AsnConvert.parse(signer.certDer, Certificate);
  const signerInfo = new SignerInfo({
    version: 1,
    sid: new SignerIdentifier({
      issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: cert.tbsCertificate.issuer, serialNumber: cert.tbsCertificate.serialNumber }),
    }),
    digestAlgorithm: new DigestAlgorithmIdentifier({ algorithm: SHA256 }),
    signedAttrs: attrs,
    signatureAlgorithm: new SignatureAlgorithmIdentifier({ algorithm: ECDSA_SHA256 }),
    signature: new OctetString(signature),
  });
  const signedData = new SignedData({
    version: 3,
    digestAlgorithms: new DigestAlgorithmIdentifiers([new DigestAlgorithmIdentifier({ algorithm: SHA256 })]),
    encapContentInfo: new EncapsulatedContentInfo({
      eContentType: ID_LDS_SECURITY_OBJECT,
      eContent: new EncapsulatedContent({ single: new OctetString(lds) }),
    }),
    certificates: new CertificateSet([new CertificateChoices({ certificate: cert })]),
    signerInfos: new SignerInfos([signerInfo]),
  });
  const contentInfo = new ContentInfo({ contentType: ID_SIGNED_DATA, content: AsnConvert.serialize(signedData) });
  return der(0x77, new Uint8Array(AsnConvert.serialize(contentInfo)));
}

function attribute(type: string, value: Uint8Array): Attribute {
  return new Attribute({ attrType: type, attrValues: [value.slice().buffer] });
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}
