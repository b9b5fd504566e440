// The data-group parsers, against public samples first (so the virtual card's builder and the
// parsers cannot share a misreading), then against the virtual card's files for every sample identity.
import test from 'ava';
import jpeg from 'jpeg-js';
import { ChipError, type ChipErrorReason } from '../../src/chip/apdu.js';
import { parseCom } from '../../src/chip/com.js';
import { checkDigit, parseDg1 } from '../../src/chip/dg1.js';
import { parseDg2 } from '../../src/chip/dg2.js';
import { parseDg13 } from '../../src/chip/dg13.js';
import { buildCardFiles, createTestPki, mrzKeyOf, mrzName } from '../../hw-sim/chip/card-files.js';
import { SAMPLE_IDENTITIES } from '../../hw-sim/identities.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const dg1Of = (mrz: string): Uint8Array => new Uint8Array([0x61, mrz.length + 3, 0x5f, 0x1f, mrz.length, ...Buffer.from(mrz, 'latin1')]);
const pki = createTestPki();
const portrait = (() => {
  const data = Buffer.alloc(48 * 64 * 4);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  return new Uint8Array(jpeg.encode({ data, width: 48, height: 64 }, 80).data);
})();
const slashed = (d: string): string => `${d.slice(0, 2)}/${d.slice(2, 4)}/${d.slice(4)}`;

function refused(t: import('ava').ExecutionContext, fn: () => unknown, reason: ChipErrorReason, message: RegExp): ChipError | undefined {
  const e = t.throws(fn, { instanceOf: ChipError });
  t.is(e?.reason, reason);
  t.regex(e?.message ?? '', message);
  return e;
}

test('EF.COM: ICAO 9303-10 A.1 test cases 1 and 2 (via ZeroPass/dmrtd test/ef_test.dart)', (t) => {
  const one = parseCom(hex('60165F0104303130375F36063034303030305C046175766C'));
  t.deepEqual(one, { ldsVersion: '0107', unicodeVersion: '040000', tags: [0x61, 0x75, 0x76, 0x6c], groups: [1, 2, 4, 12] });
  t.is(parseCom(hex('60165F0104313539395F36063034303030305C046175766C')).ldsVersion, '1599');
  refused(t, () => parseCom(hex('60105F0104303130375F3606303430303030')), 'malformed', /EF.COM: no 5C/);
  refused(t, () => parseCom(hex('60125F01043031302E5F36063034303030305C00')), 'malformed', /LDS version is not 4 digits/);
});

test('DG1: ICAO 9303-10 A.2.1 TD1 (via dmrtd, its composite check digit corrected there from 4 to 8)', (t) => {
  const d = parseDg1(
    hex(
      '615D5F1F5A493C4E4C44584938353933354638363939393939393939303C3C3C3C3C3C3732303831343846313130383236384E4C443C3C3C3C3C3C3C3C3C3C3C3856414E3C4445523C535445454E3C3C4D415249414E4E453C4C4F55495345',
    ),
  );
  t.like(d, {
    documentCode: 'I<',
    issuingState: 'NLD',
    documentNumber: 'XI85935F8',
    nationality: 'NLD',
    sex: 'F',
    birthDate: '720814',
    expiryDate: '110826',
    optionalData: '999999990',
    optionalData2: '',
    names: { surname: 'VAN DER STEEN', givenNames: 'MARIANNE LOUISE' },
  });
  t.is(d.idNumber, undefined, 'nine digits are not a CCCD number');
});

test('DG1: ICAO 9303-5 App. A TD1 and ICAO 9303-11 D.2 long document number (via dmrtd test/mrz_test.dart)', (t) => {
  const a = parseDg1(dg1Of('I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<'));
  t.like(a, {
    documentNumber: 'D23145890',
    birthDate: '740812',
    expiryDate: '120415',
    sex: 'F',
    names: { surname: 'ERIKSSON', givenNames: 'ANNA MARIA' },
  });
  const d2 = parseDg1(dg1Of('I<UTOD23145890<7349<<<<<<<<<<<3407127M9507122UTO<<<<<<<<<<<2STEVENSON<<PETER<JOHN<<<<<<<<<'));
  t.like(d2, { documentNumber: 'D23145890734', sex: 'M', optionalData: '', names: { surname: 'STEVENSON', givenNames: 'PETER JOHN' } });
});

test('DG1: each wrong check digit is refused, naming the field and nothing of its value (dmrtd fuzz vectors)', (t) => {
  const cases = [
    ['I<UTOD231458902<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<', /document number/],
    ['I<UTOD231458907<<<<<<<<<<<<<<<7408123F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<', /date of birth/],
    ['I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204158UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<', /date of expiry/],
    ['I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<5ERIKSSON<<ANNA<MARIA<<<<<<<<<<', /composite/],
  ] as const;
  for (const [mrz, field] of cases) {
    const e = refused(t, () => parseDg1(dg1Of(mrz)), 'malformed', field);
    for (const secret of ['D23145890', '740812', '120415', 'ERIKSSON']) t.false(e?.message.includes(secret) ?? true);
  }
  refused(
    t,
    () => parseDg1(dg1Of('I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<>')),
    'malformed',
    /outside A-Z/,
  );
});

test('check digits: ICAO 9303-3 examples (via dmrtd)', (t) => {
  t.is(checkDigit('520727'), 3);
  t.is(checkDigit('AB2134<<<'), 5);
  t.is(checkDigit('HA672242<658022549601086<<<<<<<<<<<<<<0'), 8);
  t.is(checkDigit('D231458907<<<<<<<<<<<<<<<34071279507122<<<<<<<<<<<'), 2);
});

test('DG1: a TD3 (passport) MRZ is not read as TD1 (BSI TR-03105-5 DG1, via ZeroPass/pymrtd)', (t) => {
  const td3 = hex(
    '615B5F1F58503C443C3C4D55535445524D414E4E3C3C4552494B413C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C433131543030324A4D34443C3C3936303831323246323331303331343C3C3C3C3C3C3C3C3C3C3C3C3C3C3C34',
  );
  refused(t, () => parseDg1(td3), 'unsupported', /88 characters, not TD1/);
});

// BSI TR-03105-5 reference Datagroup2.bin (via ZeroPass/pymrtd tests/ef/dg2_test.py): its first 96 bytes
// verbatim (75/7F61/7F60/A1/5F2E, the 19794-5 record and facial headers, the JP2 signature box);
// the rest of its 15,083 bytes, the JPEG 2000 codestream, is replaced by zeros to keep this file small.
const BSI_DG2_HEAD =
  '75823ae77f61823ae20201017f60823adaa10e81010282010087020101880200085f2e823ac5464143003031300000003ac5000100003ab7000000000000000000000000000000000101015101c10000000000000000000c6a5020200d0a870a';

test('DG2: the BSI reference record reads as a 337 × 449 JPEG 2000 (JP2) image of 14,999 bytes, as pymrtd reads it', (t) => {
  const file = new Uint8Array(0x3ae7 + 4);
  file.set(hex(BSI_DG2_HEAD));
  const d = parseDg2(file);
  t.is(d.format, 'jp2');
  t.is(d.width, 337);
  t.is(d.height, 449);
  t.is(d.image.length, 15031 - 20 - 12);
  t.deepEqual([...d.image.subarray(0, 12)], [...hex('0000000c6a5020200d0a870a')]);
  refused(t, () => parseDg2(file, { maxImageBytes: 10_000 }), 'too-large', /image of 14999 bytes/);
  const v030 = file.slice();
  v030.set([0x30, 0x33, 0x30, 0x00], 38 + 4);
  refused(t, () => parseDg2(v030), 'unsupported', /version is not 010/);
  const noFac = file.slice();
  noFac[38] = 0x47;
  refused(t, () => parseDg2(noFac), 'malformed', /not an ISO 19794-5 record/);
});

test('DG2: the virtual card carries the portrait byte for byte, as JPEG with its size; the jpeg2000 fault gives a J2K codestream', (t) => {
  const files = buildCardFiles({ idNumber: '001190900001', fullName: 'Nguyễn Thị Ánh Tuyết', birthDate: '01/01/1990', sex: 'F', portrait, pki });
  const d = parseDg2(files.get('DG2')!);
  t.deepEqual(d, { format: 'jpeg', image: portrait, width: 48, height: 64 });
  t.not(d.image.buffer, files.get('DG2')!.buffer, 'a copy, so it can be zeroed');
  const j2k = parseDg2(
    buildCardFiles({ idNumber: '001190900001', fullName: 'A B', birthDate: '01/01/1990', sex: 'F', portrait, pki, faults: { jpeg2000: true } }).get(
      'DG2',
    )!,
  );
  t.is(j2k.format, 'j2k');
  t.deepEqual([j2k.width, j2k.height], [48, 64]);
});

// DG13 as NghiaLio/NFC_CCCD_Reader documents it (lib/src/data/parser/nfc_dg13_parser.dart, built in
// test/data/dg13_fixture_builder.dart with asn1lib); no public hex of a real card was found, so these
// bytes were encoded by hand (a separate Python DER writer), with invented values:
// 6D { 30 { 02 01 01, 06 06 28D316010008 (1.0.10646.1.0.8), 31 { 30 { 02 field, value } … } } },
// fields 1 (PrintableString) to 16, 13 and 14 nested SEQUENCEs of UTF8Strings.
const DG13_SAMPLE = `
6D8201A23082019E020101060628D3160100083182018F3011020101130C30373930343539303030303230170201020C125472E1BAA76E2056C4836E
20C490E1BBA963300F0201030C0A30372F30332F3139343530080201040C034E616D300F0201050C0A5669E1BB8774204E616D30090201060C044B69
6E6830110201070C0C5068E1BAAD74206769C3A16F30100201080C0B4E616D20C490E1BB8B6E68303E0201090C3931322F33204CC3AA204CE1BBA369
2C205068C6B0E1BB9D6E672042E1BABF6E205468C3A06E682C2054502048E1BB93204368C3AD204D696E68303102010A0C2C53E1BAB96F206368E1BA
A56D20433A31636D207472C3AA6E20C49175C3B469206DE1BAAF74207068E1BAA369300F02010B0C0A32302F30362F32303232301802010C0C134B68
C3B46E67207468E1BB9D692068E1BAA16E302702010D30220C115472E1BAA76E2056C4836E204769C3A1700C0D4CC3AA205468E1BB8B20486F613017
02010E30120C105068E1BAA16D205468E1BB8B204C616E300E02010F1309303230313435363738301502011013104531423243334434453546363037
3138`;

test('DG13: the kiosk gets number, name, birth date, sex, nationality, issue and expiry; ethnicity, religion and family never', (t) => {
  const d = parseDg13(hex(DG13_SAMPLE));
  t.deepEqual(d, {
    idNumber: '079045900002',
    fullName: 'Trần Văn Đức',
    birthDate: '07/03/1945',
    sex: 'Nam',
    nationality: 'Việt Nam',
    issueDate: '20/06/2022',
    expiryDate: 'Không thời hạn',
  });
  const all = JSON.stringify(d);
  for (const secret of ['Kinh', 'Phật', 'Nam Định', 'Lê Lợi', 'Sẹo', 'Giáp', 'Hoa', 'Lan', '020145678', 'E1B2'])
    t.false(all.includes(secret), secret);
});

test('DG13: a missing or malformed kept field is refused, and the message holds no value', (t) => {
  const sample = hex(DG13_SAMPLE);
  const at = Buffer.from(sample).indexOf(Buffer.from('079045900002'));
  const letter = sample.slice();
  letter[at + 3] = 0x41; // 'A' inside the number
  const e = refused(t, () => parseDg13(letter), 'malformed', /field 1 is not a 12-digit number/);
  t.false(e?.message.includes('079') ?? true);
  const noNumber = sample.slice();
  noNumber[at - 3] = 0x11; // field 1 becomes field 17, which nobody reads
  refused(t, () => parseDg13(noNumber), 'malformed', /field 1 missing/);
  const twice = sample.slice();
  twice[at - 3 + 0x13] = 0x01; // field 2's number becomes 1 again
  refused(t, () => parseDg13(twice), 'malformed', /field 1 appears twice/);
  const badUtf8 = sample.slice();
  badUtf8[Buffer.from(sample).indexOf(Buffer.from('Tr'), at) + 2] = 0xff;
  refused(t, () => parseDg13(badUtf8), 'malformed', /field 2 is not UTF-8/);
  refused(t, () => parseDg13(hex('6D03 020101')), 'malformed', /no SEQUENCE/);
});

test('every sample identity: the virtual card DG1 and DG13 read back as the identity, with valid check digits and the BAC key the card uses', (t) => {
  for (const p of SAMPLE_IDENTITIES) {
    const sex = p.sex === 'Nam' ? 'M' : 'F';
    const expiryDate = p.dob.endsWith('1945') ? undefined : '31/12/2035';
    const files = buildCardFiles({
      idNumber: p.idNumber,
      fullName: p.fullName,
      birthDate: slashed(p.dob),
      sex,
      ...(expiryDate ? { expiryDate } : {}),
      issueDate: slashed(p.issued),
      portrait,
      pki,
    });
    const dg1 = parseDg1(files.get('DG1')!);
    t.is(dg1.documentNumber, p.idNumber.slice(3), 'the last 9 digits');
    t.is(dg1.idNumber, p.idNumber);
    t.is(dg1.documentCode, 'ID');
    t.is(dg1.nationality, 'VNM');
    t.is(dg1.birthDate, `${p.dob.slice(6)}${p.dob.slice(2, 4)}${p.dob.slice(0, 2)}`);
    t.is(dg1.expiryDate, expiryDate ? '351231' : '<<<<<<');
    t.is(dg1.sex, sex);
    t.deepEqual(mrzKeyOf({ idNumber: p.idNumber, birthDate: slashed(p.dob), ...(expiryDate ? { expiryDate } : {}) }), {
      documentNumber: dg1.documentNumber,
      birthDate: dg1.birthDate,
      expiryDate: dg1.expiryDate,
    });
    t.is(`${dg1.names.surname}<<${dg1.names.givenNames.replace(/ /g, '<')}`, mrzName(p.fullName).slice(0, 30).replace(/<+$/, ''));
    t.deepEqual(parseDg13(files.get('DG13')!), {
      idNumber: p.idNumber,
      fullName: p.fullName,
      birthDate: slashed(p.dob),
      sex: p.sex,
      nationality: 'Việt Nam',
      issueDate: slashed(p.issued),
      ...(expiryDate ? { expiryDate } : {}),
    });
  }
});

test('the MRZ name drops Vietnamese marks and writes Đ as D', (t) => {
  t.is(mrzName('Trần Văn Đức'), 'TRAN<<VAN<DUC');
  t.is(mrzName('Lê Hoàng Phượng Ỷ'), 'LE<<HOANG<PHUONG<Y');
});

test('the virtual card: EF.CardAccess is the Vietnamese bytes of docs/chip.md §3, EF.COM lists the groups it has', (t) => {
  const files = buildCardFiles({ idNumber: '001190900001', fullName: 'A B', birthDate: '01/01/1990', sex: 'F', portrait, pki });
  t.is(
    Buffer.from(files.get('CardAccess')!).toString('hex'),
    '3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010d',
  );
  t.deepEqual(parseCom(files.get('COM')!).groups, [1, 2, 13, 14]);
  t.deepEqual([...files.keys()].sort(), ['COM', 'CardAccess', 'DG1', 'DG13', 'DG14', 'DG2', 'SOD']);
});
