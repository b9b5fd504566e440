// Known-answer tests of the ICAO 9303 symmetric cryptography. Every expected value is copied from a public source:
// - RFC 4493 §4 (AES-CMAC examples 1-4), as carried by many public test suites;
// - ICAO 9303-11 Appendix D.2-D.4 (BAC, 3DES): chip.md §11, and the appendix values in g0ddest/javacard-express
//   (sm/src/test/python/icao_ref.py, IcaoAppendixD4SecureMessagingTest), ZeroPass/dmrtd (test/des_test.dart), NFCPassportReader BACTests;
// - ICAO 9303-11 Appendix G.1 (PACE): ZeroPass/dmrtd test/pace_test_ecdh.dart, g0ddest/javacard-express icao_ref.py.
import test from 'ava';
import { buildApdu, ChipError, fromHex, hex, parseResponse, readTlv, readTlvHeader, readTlvs, tlv } from '../../src/chip/apdu.js';
import { mrzInformation } from '../../src/chip/bac.js';
import { adjustParity, aesCmac, des3CbcDecrypt, des3CbcEncrypt, kdf, pad, retailMac, unpad } from '../../src/chip/crypto.js';

const RFC4493_KEY = fromHex('2b7e151628aed2a6abf7158809cf4f3c');
const RFC4493_MSG = fromHex(
  '6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710',
);

test('AES-CMAC gives the RFC 4493 tags for empty, one-block, partial and whole-block messages', (t) => {
  const cases: Array<[number, string]> = [
    [0, 'bb1d6929e95937287fa37d129b756746'],
    [16, '070a16b46b4d4144f79bdd9dd04a287c'],
    [40, 'dfa66747de9ae63030ca32611497c827'],
    [64, '51f0bebf7e3b9d92fc49741779363cfe'],
  ];
  for (const [n, tag] of cases) t.is(hex(aesCmac(RFC4493_KEY, RFC4493_MSG.subarray(0, n))), tag.toUpperCase(), `${n} bytes`);
});

test('MRZ information carries a check digit after each field (App. D.2)', (t) => {
  t.is(mrzInformation({ documentNumber: 'L898902C', birthDate: '690806', expiryDate: '940623' }), 'L898902C<369080619406236');
  // A document number longer than 9 characters keeps all of them (g0ddest/javacard-express icao_ref.py, "D.2 long docno").
  t.is(mrzInformation({ documentNumber: 'D23145890734', birthDate: '340712', expiryDate: '950712' }), 'D23145890734934071279507122');
});

test('the KDF gives the BAC keys of App. D.2, before and after parity adjustment', (t) => {
  const kSeed = fromHex('239AB9CB282DAF66231DC5A4DF6BFBAE');
  // chip.md §11: K_mac before parity adjustment.
  t.is(hex(kdf(kSeed, 2)), '7862D9ECE03C1BCD4D77089DCF131442');
  t.is(hex(adjustParity(kdf(kSeed, 1))), 'AB94FDECF2674FDFB9B391F85D7F76F2');
  t.is(hex(adjustParity(kdf(kSeed, 2))), '7962D9ECE03D1ACD4C76089DCE131543');
});

test('the KDF gives the session keys of App. D.3 (3DES) and App. G.1 (AES-128)', (t) => {
  const bacSeed = fromHex('0036D272F5C350ACAC50C3F572D23600');
  t.is(hex(adjustParity(kdf(bacSeed, 1))), '979EC13B1CBFE9DCD01AB0FED307EAE5');
  t.is(hex(adjustParity(kdf(bacSeed, 2))), 'F1CB1F1FB5ADF208806B89DC579DC1F8');
  const shared = fromHex('28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925');
  t.is(hex(kdf(shared, 1)), 'F5F0E35C0D7161EE6724EE513A0D9A7F');
  t.is(hex(kdf(shared, 2)), 'FE251C7858B356B24514B3BD5F4297D1');
});

test('parity adjustment leaves every byte with an odd number of ones', (t) => {
  const adjusted = adjustParity(fromHex('000102037F80FEFF'));
  for (const b of adjusted) t.is([...b.toString(2)].filter((c) => c === '1').length % 2, 1);
  // Worked by hand: only the low bit changes, and only where the upper seven bits have an even count of ones.
  t.is(hex(adjusted), '010102027F80FEFE');
});

test('3DES-CBC and the retail MAC give E_IFD, M_IFD, E_IC and M_IC of App. D.3', (t) => {
  const kEnc = fromHex('AB94FDECF2674FDFB9B391F85D7F76F2');
  const kMac = fromHex('7962D9ECE03D1ACD4C76089DCE131543');
  const s = fromHex('781723860C06C2264608F919887022120B795240CB7049B01C19B33E32804F0B');
  const eIfd = des3CbcEncrypt(kEnc, s);
  t.is(hex(eIfd), '72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2');
  t.is(hex(retailMac(kMac, eIfd)), '5F1448EEA8AD90A7');
  const eIc = fromHex('46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F');
  t.is(hex(retailMac(kMac, eIc)), '2F2D235D074D7449');
  t.is(hex(des3CbcDecrypt(kEnc, eIc)), '4608F91988702212781723860C06C2260B4F80323EB3191CB04970CB4052790B');
});

test('3DES-CBC with padding method 2 gives the DO87 cryptogram of App. D.4 (SELECT EF.COM)', (t) => {
  t.is(hex(des3CbcEncrypt(fromHex('979EC13B1CBFE9DCD01AB0FED307EAE5'), pad(fromHex('011E'), 8))), '6375432908C044F6');
});

test('padding method 2 round-trips and a block without its 80 marker is refused', (t) => {
  t.is(hex(pad(fromHex('011E'), 8)), '011E800000000000');
  t.is(hex(pad(new Uint8Array(8), 8)).length, 32, 'a whole block gains a whole block of padding');
  t.is(hex(unpad(fromHex('60145F0180000000'))), '60145F01');
  const err = t.throws(() => unpad(fromHex('60145F0100000000')), { instanceOf: ChipError });
  t.is(err?.reason, 'malformed');
  t.is(t.throws(() => unpad(new Uint8Array(8)), { instanceOf: ChipError })?.reason, 'malformed');
});

test('wrong key and block sizes are refused with a ChipError, not an OpenSSL crash', (t) => {
  t.is(t.throws(() => des3CbcEncrypt(new Uint8Array(8), new Uint8Array(8)), { instanceOf: ChipError })?.reason, 'malformed');
  t.is(t.throws(() => des3CbcEncrypt(new Uint8Array(16), new Uint8Array(7)), { instanceOf: ChipError })?.reason, 'malformed');
  t.is(t.throws(() => aesCmac(new Uint8Array(15), new Uint8Array(1)), { instanceOf: ChipError })?.reason, 'malformed');
});

test('command APDUs take the short and extended forms of ISO/IEC 7816-4', (t) => {
  t.is(hex(buildApdu({ cla: 0, ins: 0xa4, p1: 2, p2: 0x0c, data: fromHex('011C') })), '00A4020C02011C');
  t.is(hex(buildApdu({ cla: 0, ins: 0x84, p1: 0, p2: 0, le: 8 })), '0084000008');
  t.is(hex(buildApdu({ cla: 0x10, ins: 0x86, p1: 0, p2: 0, data: fromHex('7C00'), le: 256 })), '10860000027C0000');
  t.is(hex(buildApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 4 }, { extended: true })), '00B00000000004');
  t.is(hex(buildApdu({ cla: 0, ins: 0xd6, p1: 0, p2: 0, data: fromHex('AABB'), le: 65536 })), '00D60000000002AABB0000');
  const big = buildApdu({ cla: 0, ins: 0xd6, p1: 0, p2: 0, data: new Uint8Array(300) });
  t.is(hex(big.subarray(0, 7)), '00D6000000012C', 'data over 255 bytes forces extended Lc');
  t.is(t.throws(() => buildApdu({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 0 }), { instanceOf: ChipError })?.reason, 'malformed');
});

test('responses split into data and status word; fewer than 2 bytes is malformed', (t) => {
  const r = parseResponse(fromHex('60145F019000'));
  t.is(hex(r.data), '60145F01');
  t.is(r.sw, 0x9000);
  t.is(t.throws(() => parseResponse(fromHex('90')), { instanceOf: ChipError })?.reason, 'malformed');
});

test('BER-TLV reading is bounded: lengths past the buffer, over 3 bytes or indefinite are refused', (t) => {
  const t1 = readTlv(fromHex('7F4903860100'));
  t.is(t1.tag, 0x7f49);
  t.is(hex(t1.value), '860100');
  t.deepEqual(readTlvHeader(fromHex('77820500')), { tag: 0x77, length: 0x500, headerLength: 4 });
  t.is(hex(tlv(0x87, new Uint8Array(200)).subarray(0, 3)), '8781C8');
  for (const bad of ['6105AABB', '618400000001', '6180', '5F', '5F1F', '9000AA']) {
    t.is(t.throws(() => readTlvs(fromHex(bad)), { instanceOf: ChipError })?.reason, 'malformed', bad);
  }
  t.is(t.throws(() => readTlv(new Uint8Array(0)), { instanceOf: ChipError })?.reason, 'malformed');
});
