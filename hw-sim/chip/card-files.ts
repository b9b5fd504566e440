// The files of a virtual CCCD chip for one (invented) identity, laid out as docs/chip.md §3 and §6
// describe a real card's: EF.CardAccess (the Vietnamese bytes), EF.COM, DG1 (TD1 MRZ), DG2 (the
// portrait in an ISO 19794-5 record), DG13 (Vietnam's own fields), DG14, and EF.SOD over them.
import { generateKeyPairSync } from 'node:crypto';
import { readJpegHeader } from '../../src/faceid/jpeg-header.js';
import type { FileName } from '../../src/chip/read-chip.js';
import { der, int, oid, printable, seq, set, u16, u32, utf8 } from './card-der.js';
import { buildSod } from './card-sod.js';
import type { TestPki } from './card-pki.js';

export { createTestPki, type TestPki } from './card-pki.js';

export interface CardIdentity {
  /** The 12-digit number. */
  readonly idNumber: string;
  readonly fullName: string;
  /** DD/MM/YYYY */
  readonly birthDate: string;
  readonly sex: 'M' | 'F';
  /** DD/MM/YYYY; absent: a card without expiry (MRZ field left as fillers: how real cards write it is unknown). */
  readonly expiryDate?: string;
  /** DD/MM/YYYY */
  readonly issueDate?: string;
  /** A JPEG. */
  readonly portrait: Uint8Array;
}

export interface CardFaults {
  /** EF.SOD stores a wrong hash for this file (the SOD itself stays validly signed). */
  readonly corruptHashOf?: FileName;
  /** EF.SOD is signed by a document signer that the test CSCA did not issue. */
  readonly unknownSigner?: boolean;
  /** DG2 carries a JPEG 2000 codestream instead of the JPEG. */
  readonly jpeg2000?: boolean;
}

/** EF.CardAccess of Vietnamese cards, byte for byte (docs/chip.md §3): TA, CA-ECDH-AES-128, PACE-ECDH-GM-AES-128 on brainpoolP256r1. */
export const VIETNAMESE_CARD_ACCESS = Buffer.from(
  '3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010d',
  'hex',
);

export function buildCardFiles(input: CardIdentity & { readonly pki: TestPki; readonly faults?: CardFaults }): Map<FileName, Uint8Array> {
  if (!/^\d{12}$/.test(input.idNumber)) throw new Error('buildCardFiles: idNumber must be 12 digits');
  const groups = new Map<number, Uint8Array>([
    [1, dg1(input)],
    [2, dg2(input.portrait, input.sex, input.faults?.jpeg2000 === true)],
    [13, dg13(input)],
    [14, dg14()],
  ]);
  const corrupt = /^DG(\d+)$/.exec(input.faults?.corruptHashOf ?? '')?.[1];
  const signer = input.faults?.unknownSigner ? input.pki.rogueDsc : input.pki.dsc;
  const files = new Map<FileName, Uint8Array>([
    ['CardAccess', new Uint8Array(VIETNAMESE_CARD_ACCESS)],
    ['COM', com([0x61, 0x75, 0x6d, 0x6e])],
  ]);
  for (const [dg, bytes] of groups) files.set(`DG${dg}` as FileName, bytes);
  files.set('SOD', buildSod(groups, signer, corrupt === undefined ? undefined : Number(corrupt)));
  return files;
}

function com(tags: readonly number[]): Uint8Array {
  return der(0x60, der(0x5f01, ascii('0107')), der(0x5f36, ascii('040000')), der(0x5c, Uint8Array.from(tags)));
}

/** TD1: IDVNM, the last 9 digits as document number, the 12 digits in the optional data; VNM; the name without diacritics. */
function dg1(p: CardIdentity): Uint8Array {
  const { documentNumber, birthDate: birth, expiryDate: expiry } = mrzKeyOf(p);
  const line1 = `IDVNM${documentNumber}${cd(documentNumber)}${p.idNumber}<<<`;
  const head2 = `${birth}${cd(birth)}${p.sex}${expiry}${cd(expiry)}VNM${'<'.repeat(11)}`;
  const composite = cd(line1.slice(5, 30) + head2.slice(0, 7) + head2.slice(8, 15) + head2.slice(18, 29));
  const line3 = mrzName(p.fullName).padEnd(30, '<').slice(0, 30);
  return der(0x61, der(0x5f1f, ascii(line1 + head2 + composite + line3)));
}

const FAC_010 = Uint8Array.of(0x46, 0x41, 0x43, 0x00, 0x30, 0x31, 0x30, 0x00); // 'FAC\0' '010\0'

/** 75 → 7F61 → 7F60 → A1 header, 5F2E ISO 19794-5:2005 record: 'FAC\0' '010\0', one facial record. */
function dg2(portrait: Uint8Array, sex: 'M' | 'F', jpeg2000: boolean): Uint8Array {
  const header = readJpegHeader(portrait);
  if (!header.ok) throw new Error(`buildCardFiles: portrait is not a JPEG (${header.reason})`);
  const { width, height } = header.header;
  const image = jpeg2000 ? j2kCodestream(width, height) : portrait;
  const facialHeader = [u16(0), Uint8Array.of(sex === 'M' ? 1 : 2, 0, 0), new Uint8Array(3 + 2 + 3 + 3)]; // no feature points; gender; eye, hair; mask, expression, pose, uncertainty
  const imageInfo = [Uint8Array.of(1, jpeg2000 ? 1 : 0), u16(width), u16(height), Uint8Array.of(1, 2), u16(0), u16(0)]; // full frontal; JPEG / JPEG 2000; size; RGB, digital camera
  const blockLength = 4 + 2 + 3 + 11 + 12 + image.length;
  const record = Buffer.concat([FAC_010, u32(14 + blockLength), u16(1), u32(blockLength), ...facialHeader, ...imageInfo, image]);
  const bht = der(0xa1, der(0x81, Uint8Array.of(0x02)), der(0x82, Uint8Array.of(0x00)), der(0x87, u16(0x0101)), der(0x88, u16(0x0008)));
  return der(0x75, der(0x7f61, int(1), der(0x7f60, bht, der(0x5f2e, record))));
}

/** SOC, and a SIZ segment declaring the size, then EOC: the magic and header of a J2K codestream, no tiles. */
function j2kCodestream(width: number, height: number): Uint8Array {
  const component = Uint8Array.of(7, 1, 1); // 8-bit unsigned, no subsampling
  const siz = [
    u16(0x2f),
    u16(0),
    u32(width),
    u32(height),
    u32(0),
    u32(0),
    u32(width),
    u32(height),
    u32(0),
    u32(0),
    u16(3),
    component,
    component,
    component,
  ];
  return new Uint8Array(Buffer.concat([Uint8Array.of(0xff, 0x4f, 0xff, 0x51), ...siz, Uint8Array.of(0xff, 0xd9)]));
}

/** DG13's invented personal fields, the same on every virtual card: the privacy checks look for them too. */
export const DG13_INVENTED = {
  placeOfOrigin: 'Xã Ngũ Lão, Hải Phòng',
  residence: 'Số 1 Phố Huế, Hà Nội',
  identifyingMarks: 'Nốt ruồi C:2cm dưới trước mép trái',
  father: 'Nguyễn Văn Bình',
  mother: 'Trần Thị Cúc',
} as const;

/** 6D → SEQUENCE { 1, OID 1.0.10646.1.0.8, SET { SEQUENCE { field, value } } }, with invented values for the fields the kiosk must never use. */
function dg13(p: CardIdentity): Uint8Array {
  const field = (n: number, value: Uint8Array) => seq(int(n), value);
  const fields = [
    field(1, printable(p.idNumber)),
    field(2, utf8(p.fullName)),
    field(3, utf8(p.birthDate)),
    field(4, utf8(p.sex === 'M' ? 'Nam' : 'Nữ')),
    field(5, utf8('Việt Nam')),
    field(6, utf8('Kinh')),
    field(7, utf8('Không')),
    field(8, utf8(DG13_INVENTED.placeOfOrigin)),
    field(9, utf8(DG13_INVENTED.residence)),
    field(10, utf8(DG13_INVENTED.identifyingMarks)),
    ...(p.issueDate ? [field(11, utf8(p.issueDate))] : []),
    ...(p.expiryDate ? [field(12, utf8(p.expiryDate))] : []),
    field(13, seq(utf8(DG13_INVENTED.father), utf8(DG13_INVENTED.mother))),
  ];
  return der(0x6d, seq(int(1), oid('1.0.10646.1.0.8'), set(...fields)));
}

/** DG14 (ICAO 9303-11 §9.2.5): ChipAuthenticationInfo (CA-ECDH-AES-CBC-CMAC-128, v1) and its brainpoolP256r1 public key. */
function dg14(): Uint8Array {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' });
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  const caInfo = seq(oid('0.4.0.127.0.7.2.2.3.2.2'), int(1));
  const caKey = seq(oid('0.4.0.127.0.7.2.2.1.2'), spki);
  return der(0x6e, set(caInfo, caKey));
}

/** What BAC keys are made from, as this card's DG1 writes them: the last 9 digits, YYMMDD, YYMMDD (or fillers). */
export function mrzKeyOf(p: Pick<CardIdentity, 'idNumber' | 'birthDate' | 'expiryDate'>): {
  documentNumber: string;
  birthDate: string;
  expiryDate: string;
} {
  return { documentNumber: p.idNumber.slice(3), birthDate: yymmdd(p.birthDate), expiryDate: p.expiryDate ? yymmdd(p.expiryDate) : '<<<<<<' };
}

/** SURNAME<<GIVEN<NAMES: Vietnamese letters without their marks, Đ as D. */
export function mrzName(fullName: string): string {
  const plain = fullName
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[Đđ]/g, 'D')
    .toUpperCase();
  const [surname = '', ...given] = plain.split(/[^A-Z]+/).filter(Boolean);
  return `${surname}<<${given.join('<')}`;
}

/** DD/MM/YYYY → YYMMDD */
function yymmdd(date: string): string {
  const m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(date);
  if (!m) throw new Error('buildCardFiles: dates are DD/MM/YYYY');
  return `${m[3]!.slice(2)}${m[2]}${m[1]}`;
}

/** ICAO 9303-3 check digit (written again here, apart from the reader's). */
function cd(field: string): string {
  const value = (c: string) => (c === '<' ? 0 : /\d/.test(c) ? Number(c) : c.charCodeAt(0) - 55);
  return String([...field].reduce((sum, c, i) => sum + value(c) * [7, 3, 1][i % 3]!, 0) % 10);
}

function ascii(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}
