// A throwaway document PKI for the virtual CCCD: a test CSCA issues the document signer (DSC) that
// signs EF.SOD; a second, untrusted CSCA issues the "unknown signer" of the fault. ECDSA P-256,
// keys made at start with node:crypto, certificates built with @peculiar/asn1-x509.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';

export interface Signer {
  readonly certDer: Uint8Array;
  readonly key: KeyObject;
}

export interface TestPki {
  /** The trust anchor to configure (DER). */
  readonly cscaDer: Uint8Array;
  /** The document signer it issued: signs EF.SOD. */
  readonly dsc: Signer;
  /** Not issued by the trust anchor: the unknownSigner fault signs with it. */
  readonly rogueCscaDer: Uint8Array;
  readonly rogueDsc: Signer;
}

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';

export function createTestPki(): TestPki {
  const csca = authority('Test CSCA');
  const rogue = authority('Unknown CSCA');
  return {
    cscaDer: csca.certDer,
    dsc: issue(csca, 'Test Document Signer', 2, false),
    rogueCscaDer: rogue.certDer,
    rogueDsc: issue(rogue, 'Unknown Document Signer', 2, false),
  };
}

interface Authority extends Signer {
  readonly name: Name;
  readonly keyId: Uint8Array;
}

function authority(cn: string): Authority {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const name = dn(cn);
  const keyId = keyIdOf(publicKey);
  const certDer = certificate({ serial: 1, issuer: name, subject: name, subjectKey: publicKey, issuerKeyId: keyId, ca: true }, privateKey);
  return { certDer, key: privateKey, name, keyId };
}

function issue(ca: Authority, cn: string, serial: number, isCa: boolean): Signer {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const certDer = certificate({ serial, issuer: ca.name, subject: dn(cn), subjectKey: publicKey, issuerKeyId: ca.keyId, ca: isCa }, ca.key);
  return { certDer, key: privateKey };
}

interface CertFields {
  readonly serial: number;
  readonly issuer: Name;
  readonly subject: Name;
  readonly subjectKey: KeyObject;
  readonly issuerKeyId: Uint8Array;
  readonly ca: boolean;
}

function certificate(f: CertFields, issuerKey: KeyObject): Uint8Array {
  const algorithm = new AlgorithmIdentifier({ algorithm: ECDSA_SHA256 });
  const usage = f.ca ? KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign : KeyUsageFlags.digitalSignature;
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: Uint8Array.of(f.serial, ...randomBytes(7)).buffer, // first byte < 0x80: a positive INTEGER
    signature: algorithm,
    issuer: f.issuer,
    validity: new Validity({ notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2044-01-01T00:00:00Z') }),
    subject: f.subject,
    subjectPublicKeyInfo: AsnConvert.parse(f.subjectKey.export({ format: 'der', type: 'spki' }), SubjectPublicKeyInfo),
    extensions: new Extensions([
      extension('2.5.29.19', f.ca, new BasicConstraints({ cA: f.ca })),
      extension('2.5.29.15', true, new KeyUsage(usage)),
      extension('2.5.29.14', false, new SubjectKeyIdentifier(keyIdOf(f.subjectKey))),
      extension('2.5.29.35', false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(f.issuerKeyId) })),
    ]),
  });
  const signature = sign('sha256', new Uint8Array(AsnConvert.serialize(tbsCertificate)), issuerKey);
  const cert = new Certificate({ tbsCertificate, signatureAlgorithm: algorithm, signatureValue: new Uint8Array(signature).buffer });
  return new Uint8Array(AsnConvert.serialize(cert));
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

function dn(cn: string): Name {
  const rdn = (type: string, value: AttributeValue) => new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value })]);
  return new Name([
    rdn('2.5.4.6', new AttributeValue({ printableString: 'VN' })),
    rdn('2.5.4.10', new AttributeValue({ utf8String: 'kioskd hw-sim' })),
    rdn('2.5.4.3', new AttributeValue({ utf8String: cn })),
  ]);
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the public key bits (here of the whole SPKI: any stable id will do). */
function keyIdOf(key: KeyObject): Uint8Array {
  return createHash('sha1')
    .update(key.export({ format: 'der', type: 'spki' }))
    .digest();
}
