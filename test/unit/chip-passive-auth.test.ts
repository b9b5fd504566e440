// Passive authentication: EF.SOD parsed, every read group's hash checked, the signature verified,
// the signer chained to the trust anchors. First on the public BSI TR-03105-5 reference data set
// (RSASSA-PSS, as transcribed in ZeroPass/pymrtd tests/ef/sod_test.py), then on the virtual card.
import test from 'ava';
import { createPrivateKey, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { ChipError } from '../../src/chip/apdu.js';
import { passiveAuth, type PaResult } from '../../src/chip/passive-auth.js';
import type { FileName } from '../../src/chip/read-chip.js';
import { parseSod, type Sod } from '../../src/chip/sod.js';
import { buildCardFiles, createTestPki, type CardFaults } from '../../hw-sim/chip/card-files.js';
import { openssl } from '../helpers/pki.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// BSI TR-03105-5 ReferenceDataSet EF_SOD.bin, and the DG1, DG14 and DG15 of that set.
const BSI_SOD = hex(`
7782078A3082078606092A864886F70D010702A082077730820773020103310F300D060960864801650304020105003081E90606678108010101A081DE0481DB3081D8020100300D060960864801650304020105003081C3302502010104204170CA879FCE6A22FFEF1567FF88079F415C66EAD250AB5F23781AC2CDBF42B630250201020420A9A1B09DFD598087AB3FCE4AE2EC65B1A1525BD258BFC27DF4419F8A65E5474530250201030420403E4D17C26EBC832411898161D8FD5D99C58EE865CB3759B529AA782C7EDE00302502010E0420CF5004FFCCD64E1A8BD3A42FD53814EC3D4481640BE1906D0ECFEB016EF6A6AE302502010404204C7A0F0DDAA473123834F1B0713ED9453D1D1D58BCE447FB1736D40A0761C17BA08204653082046130820295A00302010202060142FD5CF927304106092A864886F70D01010A3034A00F300D06096086480165030402010500A11C301A06092A864886F70D010108300D06096086480165030402010500A2030201203053310B300906035504061302444531173015060355040A0C0E484A5020436F6E73756C74696E6731173015060355040B0C0E436F756E747279205369676E65723112301006035504030C09484A50205042204353301E170D3133313231363231343331385A170D3134313231313231343331385A3054310B300906035504061302444531173015060355040A0C0E484A5020436F6E73756C74696E6731183016060355040B0C0F446F63756D656E74205369676E65723112301006035504030C09484A5020504220445330820122300D06092A864886F70D01010105000382010F003082010A02820101009E7CBB065377041232915A044DD3ADC2199AD4C14BC8E58C24A899DBD62A984EEAE2A0006C1D53439246A67A9964D759BC7B9426CE6C4C078363306CF66645F12F39D950FE2C04100E6FF53C310B52F74CD1ED89931496F376D384AB604A570129445F015FCC3595E161B7C591CB5206BC16477D8CDEC09480DBF6262696F62970DA0978807DBA330EE777BF54D471AE1EB257090F1379E198A2D1503344847347BE46764FA00C4E93BACD32143B2E04C6C369CECE7943FD414521849533F9CDB985E42767F1DD792E7EFED3651E3C75DF868FA2101DF45CD5D3D955B23A88DD30A752F4FB9F4E84B518E0CA0F8F2BACE65D61F98115A0EA88DD3A3416017CA30203010001A3523050301F0603551D230418301680141E4D57560C12902366A8FDE11408A37F70EB7D65301D0603551D0E04160414831C30BE878FDF57273010E5B38950E576F7B08A300E0603551D0F0101FF040403020780304106092A864886F70D01010A3034A00F300D06096086480165030402010500A11C301A06092A864886F70D010108300D06096086480165030402010500A20302012003820181002984DC43028839BB24786A4C9C9C37E76368FF6264707970E5B00F7934840904ED90E34B018D5D634D7536E49AFE7B0E872F5D093E6D11BF31C910686A9106F9F773F59C57AEFF983DE6335B5CB403E0FF7D3055F09948878F8BE1BC184F2A03C82C14097FC19DEDDCCF61A2EAE6F8BF1A64BE4C0253CE0BC35AD41E10D6FF08C1EE872349E8D02A722F48144CAB665D0FADF9DB3B36BFB2B15AE4A3B13DC4CF64133B599CDB3AF8A365AC6228096899FEA8D56A24F90DA72B3E95B97FD82C4B8EF9CBB499C3D9F09053A5FDDD51E94A13A004530D74F7DD1B0C88163F9BFA098923DC81D247D75E33CAC3C7E27AEAC627B99AB18E6B03D38260E2DCCFA1D638D17614773BC13EBA0D53E2E3E9A202E0742C25DF471072CDA2A88BA2B25648970BC31132DE84F702ABBC98740B4FEE7C66CD149755A763B801DCF9DC1B52191A3ACC514244C51D297F35E5AEA328B8641B33D54DC7C50D2466F9DDDCE98A75F276D48D614B6C4FA675C2017824BED7CC27B46FCBE5B82CE4B433E34AAED2EBEE3182020630820202020101305D3053310B300906035504061302444531173015060355040A0C0E484A5020436F6E73756C74696E6731173015060355040B0C0E436F756E747279205369676E65723112301006035504030C09484A5020504220435302060142FD5CF927300D06096086480165030402010500A048301506092A864886F70D01090331080606678108010101302F06092A864886F70D01090431220420B46A0D05E280F398EFEEEBFF67E78C736ADD15E75670B1AD4C6C534E8187B9D6304106092A864886F70D01010A3034A00F300D06096086480165030402010500A11C301A06092A864886F70D010108300D06096086480165030402010500A20302012004820100761106E9FBD2ED1B2F75027DAF13975A4C7ADFC54D675D2DD2BBA762BC073D9288AF4B1B87BA7987D53FA1D321D1943F58573F4913424E2BCDD080C2D8927A985BE2BDCAF6B8FE21EC99D8227F052ED118B7EAE6029F57889CA723912076916355068EBBCF46F19C3FBB49DCF1E9F3B10DF11E270FAC11BC6D1E3C5ADF68E0E46381A45F737E91EE9F889DB6D418AA2C6C3213C47FBC2787F0134384B343CC921A9A03878EBA79BA00901115495942C3E7B0E4DA09E0916C172228AD28D9DBEC915F32E58D7431480443030C2C3D1DEF840223FED41A92C5B30AA2CE9ED346CBB8BB172A2EFF73E0B8CFEC89071A07DC62627421F808DA541A58A1A572E7583F`);
const BSI_DG1 = hex(
  '615B5F1F58503C443C3C4D55535445524D414E4E3C3C4552494B413C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C433131543030324A4D34443C3C3936303831323246323331303331343C3C3C3C3C3C3C3C3C3C3C3C3C3C3C34',
);
const BSI_DG14 = hex(`
6E82014A3182014630820122060904007F000702020102308201133081D406072A8648CE3D02013081C8020101302806072A8648CE3D0101021D00D7C134AA264366862A18302575D1D787B09F075797DA89F57EC8C0FF303C041C68A5E62CA9CE6C1C299803A6C1530B514E182AD8B0042A59CAD29F43041C2580F63CCFE44138870713B1A92369E33E2135D266DBB372386C400B0439040D9029AD2C7E5CF4340823B2A87DC68C9E4CE3174C1E6EFDEE12C07D58AA56F772C0726F24C6B89E4ECDAC24354B9E99CAA3F6D3761402CD021D00D7C134AA264366862A18302575D0FB98D116BC4B6DDEBCA3A5A7939F020101033A0004A847F020F71DF33D386BE7C9223A354D6AC7727018B26E281C6FFB96A83B142AAF303C23F2BCF2CDE4706C14E45914A9BE42C15BCB67A01F300F060A04007F00070202030201020101300D060804007F0007020202020101`);
const BSI_DG15 = hex(`
6F81A230819F300D06092A864886F70D010101050003818D00308189028181008130E120BB785A45D8D87E6F1A89EF4C6B655A555F58887DC6F78C293E71B028621B464C7B3123DF8896449ACB2A6E0219B7A43141BA617AE0E94CB5372EB6D964A1DBF2A43BD0CE659E962AC2CE9CEDF681CA1E3C74EA23C62D9ABFB81371D2602E39162EB578F9DED459C758EFD6A27A755B8C0E0E31E040D4D37A276939090203010001`);

const pki = createTestPki();
const portrait = new Uint8Array(jpeg.encode({ data: Buffer.alloc(32 * 40 * 4, 90), width: 32, height: 40 }, 80).data);
const ID = '079045900002';
const NAME = 'Trần Văn Đức';

function card(faults: CardFaults = {}): { files: Map<FileName, Uint8Array>; groups: Map<FileName, Uint8Array>; sod: Sod } {
  const files = buildCardFiles({ idNumber: ID, fullName: NAME, birthDate: '07/03/1945', sex: 'M', portrait, pki, faults });
  const groups = new Map([...files].filter(([name]) => name.startsWith('DG')));
  return { files, groups, sod: parseSod(files.get('SOD')!) };
}

/** No verdict may carry anything read from the card. */
function privateFree(t: import('ava').ExecutionContext, r: PaResult): void {
  const text = JSON.stringify(r);
  for (const secret of [ID, ID.slice(-6), 'Trần', 'TRAN', '450307']) t.false(text.includes(secret), secret);
}

test('BSI reference EF.SOD: SHA-256 hashes of DG1-4 and DG14, an RSASSA-PSS signer, its certificate found by issuer and serial', (t) => {
  const sod = parseSod(BSI_SOD);
  t.is(sod.digestAlgorithm, 'sha256');
  t.deepEqual([...sod.hashes.keys()], [1, 2, 3, 14, 4]);
  t.deepEqual(sod.hashes.get(1), hex('4170CA879FCE6A22FFEF1567FF88079F415C66EAD250AB5F23781AC2CDBF42B6'));
  t.deepEqual(sod.hashes.get(2), hex('A9A1B09DFD598087AB3FCE4AE2EC65B1A1525BD258BFC27DF4419F8A65E54745'));
  t.deepEqual(sod.hashes.get(14), hex('CF5004FFCCD64E1A8BD3A42FD53814EC3D4481640BE1906D0ECFEB016EF6A6AE'));
  t.deepEqual(sod.signer.issuer, 'C=DE, O=HJP Consulting, OU=Country Signer, CN=HJP PB CS');
  t.is(sod.signer.serial, '0142FD5CF927');
  t.is(sod.signature.algorithm, '1.2.840.113549.1.1.10');
  t.is(sod.signature.contentType, '2.23.136.1.1.1');
  t.deepEqual(sod.signature.messageDigest, hex('B46A0D05E280F398EFEEEBFF67E78C736ADD15E75670B1AD4C6C534E8187B9D6'));
});

test('BSI reference: DG1 and DG14 hash to EF.SOD and the PSS signature verifies; no CSCA, so hashes-ok, never chain-ok', (t) => {
  const sod = parseSod(BSI_SOD);
  const r = passiveAuth(
    new Map<FileName, Uint8Array>([
      ['DG1', BSI_DG1],
      ['DG14', BSI_DG14],
    ]),
    sod,
    [],
  );
  t.is(r.pa, 'hashes-ok');
  t.deepEqual(r.checked, ['DG1', 'DG14']);
  t.regex(r.detail, /no trust anchors/);
  t.is(passiveAuth(new Map([['DG1', BSI_DG1]]), sod, [pki.cscaDer]).pa, 'hashes-ok', 'our test CSCA did not issue it');
});

test('BSI reference: one changed byte in DG1 fails, DG15 (not in that EF.SOD) fails, a changed signature byte fails', (t) => {
  const sod = parseSod(BSI_SOD);
  const dg1 = BSI_DG1.slice();
  dg1[20] = dg1[20]! ^ 0x01;
  const changed = passiveAuth(
    new Map<FileName, Uint8Array>([
      ['DG1', dg1],
      ['DG14', BSI_DG14],
    ]),
    sod,
    [],
  );
  t.like(changed, { pa: 'failed', detail: 'hash mismatch: DG1', mismatched: ['DG1'] });
  const dg15 = passiveAuth(
    new Map<FileName, Uint8Array>([
      ['DG1', BSI_DG1],
      ['DG15', BSI_DG15],
    ]),
    sod,
    [],
  );
  t.like(dg15, { pa: 'failed', detail: 'not in EF.SOD: DG15', mismatched: ['DG15'] });
  const forged = BSI_SOD.slice();
  forged[forged.length - 10] = forged[forged.length - 10]! ^ 0x01;
  const bad = passiveAuth(new Map([['DG1', BSI_DG1]]), parseSod(forged), []);
  t.like(bad, { pa: 'failed', detail: 'EF.SOD signature invalid: signature does not verify' });
});

test('virtual card: chain-ok against its CSCA, hashes-ok without anchors or with only unrelated and broken ones', (t) => {
  const { groups, sod } = card();
  const ok = passiveAuth(groups, sod, [pki.cscaDer]);
  t.like(ok, { pa: 'chain-ok', mismatched: [], checked: ['DG1', 'DG2', 'DG13', 'DG14'] });
  t.regex(ok.detail, /issued by trust anchor C=VN, O=kioskd hw-sim, CN=Test CSCA/);
  privateFree(t, ok);
  t.is(passiveAuth(groups, sod, []).pa, 'hashes-ok');
  const unrelated = passiveAuth(groups, sod, [pki.rogueCscaDer, Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00), pki.dsc.certDer]);
  t.is(unrelated.pa, 'hashes-ok');
  t.regex(unrelated.detail, /not issued by any of 3 trust anchor/);
  t.is(passiveAuth(groups, sod, [Uint8Array.of(1, 2, 3), pki.cscaDer]).pa, 'chain-ok', 'a broken anchor does not hide a good one');
});

test('faults: unknownSigner is hashes-ok (not issued by the anchor); corruptHashOf names the group and fails', (t) => {
  const rogue = card({ unknownSigner: true });
  const r = passiveAuth(rogue.groups, rogue.sod, [pki.cscaDer]);
  t.is(r.pa, 'hashes-ok');
  t.regex(r.signer.issuer, /Unknown CSCA/);
  t.is(passiveAuth(rogue.groups, rogue.sod, [pki.rogueCscaDer]).pa, 'chain-ok');
  for (const group of ['DG1', 'DG2', 'DG13'] as const) {
    const corrupt = card({ corruptHashOf: group });
    const f = passiveAuth(corrupt.groups, corrupt.sod, [pki.cscaDer]);
    t.like(f, { pa: 'failed', detail: `hash mismatch: ${group}`, mismatched: [group] });
    privateFree(t, f);
  }
});

test('a changed name in DG13 under a genuine EF.SOD fails, and the verdict says which group, not what changed', (t) => {
  const { groups, sod } = card();
  const dg13 = groups.get('DG13')!.slice();
  const at = Buffer.from(dg13).indexOf(Buffer.from('Trần', 'utf8'));
  dg13[at] = 0x44; // 'D'
  groups.set('DG13', dg13);
  const r = passiveAuth(groups, sod, [pki.cscaDer]);
  t.like(r, { pa: 'failed', mismatched: ['DG13'], checked: ['DG1', 'DG2', 'DG14'] });
  privateFree(t, r);
});

test('a changed hash of a group not read still fails: the message digest no longer matches the signed content', (t) => {
  const { files } = card();
  const sodBytes = files.get('SOD')!.slice();
  const sod = parseSod(sodBytes);
  const dg14Hash = Buffer.from(sodBytes).indexOf(Buffer.from(sod.hashes.get(14)!));
  sodBytes[dg14Hash] = sodBytes[dg14Hash]! ^ 0xff;
  const r = passiveAuth(new Map([['DG1', files.get('DG1')!]]), parseSod(sodBytes), [pki.cscaDer]);
  t.like(r, { pa: 'failed', detail: 'EF.SOD signature invalid: message digest does not match the LDSSecurityObject' });
});

test('nothing to check is unverified; an unknown signature algorithm is unverified, never hashes-ok', (t) => {
  const { files, groups, sod } = card();
  t.is(passiveAuth(new Map([['COM', files.get('COM')!]]), sod, [pki.cscaDer]).pa, 'unverified');
  const odd = { ...sod, signature: { ...sod.signature, algorithm: '1.2.3.4' } };
  t.like(passiveAuth(groups, odd, [pki.cscaDer]), {
    pa: 'unverified',
    detail: 'hashes of DG1, DG2, DG13, DG14 match, but the signature cannot be checked: signature algorithm 1.2.3.4',
  });
});

test('signature schemes: BSI plain ECDSA, RSA PKCS#1 v1.5 (both OIDs); an RSA signature claimed as ECDSA fails', (t) => {
  const { groups, sod } = card();
  const attrs = sod.signature.signedAttrs!;
  const plain = {
    ...sod,
    signature: {
      ...sod.signature,
      algorithm: '0.4.0.127.0.7.1.1.4.1.3',
      value: sign('sha256', attrs, { key: pki.dsc.key, dsaEncoding: 'ieee-p1363' }),
    },
  };
  t.is(passiveAuth(groups, plain, [pki.cscaDer]).pa, 'chain-ok');
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-rsa-dsc-'));
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'k.pem',
    '-out',
    'c.pem',
    '-days',
    '2',
    '-subj',
    '/CN=RSA Document Signer',
  ]);
  const rsaKey = createPrivateKey(readFileSync(join(dir, 'k.pem')));
  const rsaCert = new Uint8Array(new X509Certificate(readFileSync(join(dir, 'c.pem'))).raw);
  const rsaSigner = { ...sod.signer, certDer: rsaCert };
  for (const algorithm of ['1.2.840.113549.1.1.11', '1.2.840.113549.1.1.1']) {
    const rsa = { ...sod, signer: rsaSigner, signature: { ...sod.signature, algorithm, value: sign('sha256', attrs, rsaKey) } };
    t.is(passiveAuth(groups, rsa, []).pa, 'hashes-ok', algorithm);
    const flipped = { ...rsa, signature: { ...rsa.signature, value: rsa.signature.value.map((b, i) => (i === 7 ? b ^ 1 : b)) } };
    t.is(passiveAuth(groups, flipped, []).pa, 'failed', `${algorithm}, one bit changed`);
  }
  const claimed = { ...sod, signer: rsaSigner, signature: { ...sod.signature, value: sign('sha256', attrs, rsaKey) } };
  t.like(passiveAuth(groups, claimed, []), { pa: 'failed', detail: 'EF.SOD signature invalid: signature algorithm does not fit the signer key' });
});

test('parseSod refuses what is not an EF.SOD, with a reason', (t) => {
  const { files } = card();
  const sod = files.get('SOD')!;
  for (const [bytes, reason, message] of [
    [Uint8Array.of(0x77, 0x00), 'malformed', /EF.SOD: no ContentInfo/],
    [Uint8Array.of(0x60, 0x00), 'malformed', /EF.SOD: tag 60, expected 77/],
    [sod.subarray(0, sod.length - 1), 'malformed', /runs past the end/],
    [new Uint8Array(200_000), 'too-large', /limit/],
    [Uint8Array.of(0x77, 0x05, 0x30, 0x03, 0x06, 0x01, 0x2a), 'malformed', /ContentInfo does not decode|not a SignedData/],
  ] as const) {
    const e = t.throws(() => parseSod(bytes), { instanceOf: ChipError });
    t.is(e?.reason, reason);
    t.regex(e?.message ?? '', message);
  }
});
