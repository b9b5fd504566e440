// BAC against ICAO 9303-11 Appendix D (values from chip.md §11, g0ddest/javacard-express sm/src/test/python/icao_ref.py
// and IcaoAppendixD4SecureMessagingTest, NFCPassportReader BACTests): MRZ L898902C< / 690806 / 940623,
// RND.IC 4608F91988702212, RND.IFD 781723860C06C226, K.IFD 0B795240CB7049B01C19B33E32804F0B, K.IC 0B4F80323EB3191CB04970CB4052790B.
import test from 'ava';
import { queuedRandom, scripted } from '../helpers/chip-script.js';
import { ChipError, fromHex, hex } from '../../src/chip/apdu.js';
import { bacKeys, bacSession, checkDigit, mrzInformation, performBac } from '../../src/chip/bac.js';
import { des3CbcEncrypt, retailMac } from '../../src/chip/crypto.js';

const MRZ = { documentNumber: 'L898902C', birthDate: '690806', expiryDate: '940623' };
const RND_IFD = '781723860C06C226';
const K_IFD = '0B795240CB7049B01C19B33E32804F0B';
const GET_CHALLENGE = '0084000008';
const CHALLENGE = '4608F91988702212';
const EXT_AUTH = '0082000028' + '72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2' + '5F1448EEA8AD90A7' + '28'; // E_IFD ‖ M_IFD, Le 28
const EXT_AUTH_RESPONSE = '46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F' + '2F2D235D074D7449'; // E_IC ‖ M_IC

const signal = new AbortController().signal;

test('check digits follow the 7-3-1 weights with letters as 10-35 and filler as 0', (t) => {
  t.is(checkDigit('L898902C<'), 3);
  t.is(checkDigit('690806'), 1);
  t.is(checkDigit('940623'), 6);
});

test('document basic access keys are those of App. D.2', (t) => {
  const k = bacKeys(MRZ);
  t.is(hex(k.kSeed), '239AB9CB282DAF66231DC5A4DF6BFBAE');
  t.is(hex(k.kEnc), 'AB94FDECF2674FDFB9B391F85D7F76F2');
  t.is(hex(k.kMac), '7962D9ECE03D1ACD4C76089DCE131543');
});

test('session keys and SSC from K.IFD ⊕ K.IC are those of App. D.3', (t) => {
  const s = bacSession(fromHex(K_IFD), fromHex('0B4F80323EB3191CB04970CB4052790B'), fromHex(CHALLENGE), fromHex(RND_IFD));
  t.is(hex(s.ksEnc), '979EC13B1CBFE9DCD01AB0FED307EAE5');
  t.is(hex(s.ksMac), 'F1CB1F1FB5ADF208806B89DC579DC1F8');
  t.is(hex(s.ssc), '887022120C06C226');
});

test('the mutual authentication sends the App. D.3 cryptogram and opens the App. D.4 channel', async (t) => {
  const card = scripted([
    [GET_CHALLENGE, `${CHALLENGE}9000`],
    [EXT_AUTH, `${EXT_AUTH_RESPONSE}9000`],
  ]);
  const sm = await performBac(card.transmit, MRZ, signal, queuedRandom(RND_IFD, K_IFD));
  t.deepEqual(card.sent, [GET_CHALLENGE, EXT_AUTH]);
  t.is(sm.cipher, '3des');
  t.is(hex(sm.ssc()), '887022120C06C226');
  // The first protected command of App. D.4 proves KS_enc and KS_mac.
  t.is(hex(sm.protect({ cla: 0, ins: 0xa4, p1: 2, p2: 0x0c, data: fromHex('011E') })), '0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800');
});

test('a chip refusing the MRZ key gives wrong-can, and the message holds no part of the MRZ', async (t) => {
  for (const sw of ['6300', '63C2', '6982']) {
    const card = scripted([
      [GET_CHALLENGE, `${CHALLENGE}9000`],
      [EXT_AUTH, sw],
    ]);
    const err = await t.throwsAsync(performBac(card.transmit, MRZ, signal, queuedRandom(RND_IFD, K_IFD)), { instanceOf: ChipError });
    t.is(err?.reason, 'wrong-can', sw);
    t.notRegex(err?.message ?? '', /L898902C|690806|940623/);
  }
});

test('a chip cryptogram whose MAC does not verify is refused as wrong-can', async (t) => {
  const badMac = `${EXT_AUTH_RESPONSE.slice(0, -2)}48`;
  const card = scripted([
    [GET_CHALLENGE, `${CHALLENGE}9000`],
    [EXT_AUTH, `${badMac}9000`],
  ]);
  t.is((await t.throwsAsync(performBac(card.transmit, MRZ, signal, queuedRandom(RND_IFD, K_IFD)), { instanceOf: ChipError }))?.reason, 'wrong-can');
});

test("a well-MACed cryptogram that does not echo the terminal's nonce is refused", async (t) => {
  // A card with the right keys that answers for another RND.IFD (a replayed answer): built here with the App. D.2 keys.
  const { kEnc, kMac } = bacKeys(MRZ);
  const eIc = des3CbcEncrypt(kEnc, fromHex(`${CHALLENGE}0000000000000000${'0B4F80323EB3191CB04970CB4052790B'}`));
  const card = scripted([
    [GET_CHALLENGE, `${CHALLENGE}9000`],
    [EXT_AUTH, `${hex(eIc)}${hex(retailMac(kMac, eIc))}9000`],
  ]);
  const err = await t.throwsAsync(performBac(card.transmit, MRZ, signal, queuedRandom(RND_IFD, K_IFD)), { instanceOf: ChipError });
  t.is(err?.reason, 'malformed');
});

test('short or odd answers are malformed, not a crash', async (t) => {
  const shortChallenge = scripted([[GET_CHALLENGE, '46089000']]);
  t.is(
    (await t.throwsAsync(performBac(shortChallenge.transmit, MRZ, signal, queuedRandom(RND_IFD, K_IFD)), { instanceOf: ChipError }))?.reason,
    'malformed',
  );
  const shortAuth = scripted([
    [GET_CHALLENGE, `${CHALLENGE}9000`],
    [EXT_AUTH, '46B9342A9000'],
  ]);
  t.is(
    (await t.throwsAsync(performBac(shortAuth.transmit, MRZ, signal, queuedRandom(RND_IFD, K_IFD)), { instanceOf: ChipError }))?.reason,
    'malformed',
  );
});

test('an MRZ key not in MRZ form is refused without echoing it', (t) => {
  for (const bad of [
    { ...MRZ, birthDate: '1969-08-06' },
    { ...MRZ, documentNumber: 'l8989-02c' },
    { ...MRZ, expiryDate: '9406' },
  ]) {
    const err = t.throws(() => mrzInformation(bad), { instanceOf: ChipError });
    t.is(err?.reason, 'malformed');
    t.notRegex(err?.message ?? '', /1969|l8989|9406/);
  }
});

test('an aborted signal stops before the first APDU', async (t) => {
  const card = scripted([[GET_CHALLENGE, `${CHALLENGE}9000`]]);
  const ac = new AbortController();
  ac.abort();
  t.is((await t.throwsAsync(performBac(card.transmit, MRZ, ac.signal, queuedRandom(RND_IFD, K_IFD)), { instanceOf: ChipError }))?.reason, 'aborted');
  t.is(card.sent.length, 0);
});
