// The virtual CCCD's side of BAC, PACE and secure messaging against published worked examples. Every expected value
// below comes from a public source named next to it, never from this code's own output.
import test from 'ava';
import { brainpoolP256r1 } from '@noble/curves/misc.js';
import { createCardSecurity, type CardSecurity } from '../../hw-sim/chip/card-security.js';
import { openSmChannel } from '../../hw-sim/chip/card-sm.js';
import { aesCbcDecrypt, aesCmac, kdf16 } from '../../hw-sim/chip/card-crypto.js';

const H = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();

/** A random source that hands out the given values in order, checking each is asked for at the length it has. */
function scripted(...values: string[]) {
  const queue = values.map(H);
  return (n: number) => {
    const next = queue.shift();
    if (!next || next.length !== n) throw new Error(`unexpected randomBytes(${n})`);
    return next;
  };
}

function send(card: CardSecurity, apdu: string): string {
  const answer = card.authenticate(H(apdu));
  if (!answer) throw new Error('the card did not take an authentication command');
  return hex(answer);
}

// --- AES-CMAC, the primitive under PACE tokens and AES secure messaging (RFC 4493 §4) --------------------------

test('AES-CMAC gives the RFC 4493 examples (empty, one block, partial last block)', (t) => {
  const key = H('2b7e151628aed2a6abf7158809cf4f3c');
  const message = H('6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411');
  t.is(hex(aesCmac(key, message.subarray(0, 0))), 'BB1D6929E95937287FA37D129B756746');
  t.is(hex(aesCmac(key, message.subarray(0, 16))), '070A16B46B4D4144F79BDD9DD04A287C');
  t.is(hex(aesCmac(key, message)), 'DFA66747DE9AE63030CA32611497C827');
});

// --- ICAO 9303-11 Appendix D: BAC and 3DES secure messaging -------------------------------------------------------
// Values as printed in the appendix, taken from gmrtd/gmrtd bac/bac_test.go (TestDoBAC: D.3) and
// iso7816/nfc_session_test.go (TestNfcSessionSecureMessagingTDES: D.4), and chip.md §11.
const D_MRZ = { documentNumber: 'L898902C', birthDate: '690806', expiryDate: '940623' };
const D_RND_IC = '4608F91988702212';
const D_K_IC = '0B4F80323EB3191CB04970CB4052790B';
const D_EXTERNAL_AUTHENTICATE = '0082000028 72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2 5F1448EEA8AD90A7 28';
const D_RESPONSE = '46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D7449';
const D_SELECT = '0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800';

function bacCard(): CardSecurity {
  const card = createCardSecurity({ can: '123456', mrzKey: D_MRZ }, { randomBytes: scripted(D_RND_IC, D_K_IC) });
  card.authenticate(H('0084000008'));
  card.authenticate(H(D_EXTERNAL_AUTHENTICATE));
  return card;
}

test('Appendix D.3: the card answers GET CHALLENGE and EXTERNAL AUTHENTICATE as the worked example does', (t) => {
  const card = createCardSecurity({ can: '123456', mrzKey: D_MRZ }, { randomBytes: scripted(D_RND_IC, D_K_IC) });
  t.false(card.secured);
  t.is(send(card, '0084000008'), D_RND_IC + '9000');
  t.is(send(card, D_EXTERNAL_AUTHENTICATE), D_RESPONSE + '9000');
  t.true(card.secured);
});

test('Appendix D.4: the card unwraps the protected SELECT and READ BINARYs and wraps its answers byte for byte', (t) => {
  const card = bacCard();
  const steps: Array<[string, string, string, string]> = [
    // protected command, plain command, plain answer, protected answer
    [D_SELECT, '00A4020C02011E', '9000', '990290008E08FA855A5D4C50A8ED9000'],
    ['0CB000000D9701048E08ED6705417E96BA5500', '00B0000004', '60145F01 9000', '8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000'],
    [
      '0CB000040D9701128E082EA28A70F3C7B53500',
      '00B0000412',
      '04303130365F36063034303030305C026175 9000',
      '871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000',
    ],
  ];
  for (const [wrapped, plain, answer, wrappedAnswer] of steps) {
    const unwrapped = card.unwrap(H(wrapped));
    t.deepEqual(unwrapped, { ok: true, plain: H(plain) });
    t.is(hex(card.wrap(H(answer))), wrappedAnswer);
  }
  t.true(card.secured);
});

test('BAC with a wrong MRZ key: 6300 and no channel', (t) => {
  const card = createCardSecurity({ can: '123456', mrzKey: { ...D_MRZ, birthDate: '690807' } }, { randomBytes: scripted(D_RND_IC, D_K_IC) });
  send(card, '0084000008');
  t.is(send(card, D_EXTERNAL_AUTHENTICATE), '6300');
  t.false(card.secured);
  t.false(card.unwrap(H(D_SELECT)).ok);
});

test('EXTERNAL AUTHENTICATE without a fresh challenge is refused (a challenge serves once)', (t) => {
  const card = createCardSecurity({ can: '123456', mrzKey: D_MRZ }, { randomBytes: scripted(D_RND_IC, D_K_IC) });
  t.is(send(card, D_EXTERNAL_AUTHENTICATE), '6985');
  send(card, '0084000008');
  send(card, D_EXTERNAL_AUTHENTICATE);
  card.reset();
  t.is(send(card, D_EXTERNAL_AUTHENTICATE), '6985');
});

// --- ICAO 9303-11 Appendix G.1: PACE-ECDH-GM-AES-CBC-CMAC-128 on brainpoolP256r1 ----------------------------------
// APDUs, the chip's mapping key and the session keys (the expected SecureMessaging) from gmrtd/gmrtd
// pace/pace_test.go (TestDoPace_GM_ECDH, "worked example in ICAO9303 p11 specs (Appendix G1)"; TestDoECDH); the chip's
// key-agreement key 107CF586… as several public emrtd tests quote Appendix G.1 (a Dart simulated chip, C# and Java
// PACE tests); K_pi, nonce and mapped generator also in chip.md §11.
const G_MRZ = { documentNumber: 'T22000129', birthDate: '640812', expiryDate: '101031' };
const G_NONCE = '3F00C4D39D153F2B2A214A078D899B22';
const G_SK_MAP_IC = '498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560';
const G_SK_DH_IC = '107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A';
const G_PK_MAP_IFD =
  '047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D';
const G_PK_DH_IFD =
  '042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462';
const G_STEPS: Array<[string, string]> = [
  ['0022C1A40F800A04007F00070202040202830101', '9000'],
  ['10860000027C0000', '7C12801095A3A016522EE98D01E76CB6B98B42C39000'],
  [
    `10860000457C438141${G_PK_MAP_IFD}00`,
    '7C43824104824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F5730D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C549000',
  ],
  [
    `10860000457C438341${G_PK_DH_IFD}00`,
    '7C438441049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F0949000',
  ],
  ['008600000C7C0A8508C2B0BD78D94BA86600', '7C0A86083ABB9674BCE93C089000'],
];
const G_KS_ENC = 'F5F0E35C0D7161EE6724EE513A0D9A7F';
const G_KS_MAC = 'FE251C7858B356B24514B3BD5F4297D1';

const paceCard = (secrets = { can: '123456', mrzKey: G_MRZ }) =>
  createCardSecurity(secrets, { randomBytes: scripted(G_NONCE, G_SK_MAP_IC, G_SK_DH_IC) });

test('Appendix G.1: the card gives the encrypted nonce, its keys and its token, and opens AES secure messaging', (t) => {
  const card = paceCard();
  for (const [command, response] of G_STEPS) {
    t.false(card.secured);
    t.is(send(card, command), response, command.slice(0, 10));
  }
  t.true(card.secured);
  // The channel runs on the appendix's KS_enc / KS_mac with a zero SSC: an answer wrapped by the card matches one
  // wrapped by a channel built from those published keys.
  const reference = openSmChannel({ cipher: 'aes', ksEnc: H(G_KS_ENC), ksMac: H(G_KS_MAC), ssc: new Uint8Array(16) });
  for (const answer of ['60145F01 9000', '6A82']) t.is(hex(card.wrap(H(answer))), hex(reference.wrap(H(answer))));
});

test('PACE where the terminal mapped with another nonce than the card (a wrong password): 6300, no channel, start again', (t) => {
  // The appendix terminal's keys fit nonce 3F00…; a card that drew another nonce ends on another generator and keys.
  const card = createCardSecurity({ can: '123456', mrzKey: G_MRZ }, { randomBytes: scripted('00'.repeat(15) + '01', G_SK_MAP_IC, G_SK_DH_IC) });
  t.is(send(card, G_STEPS[0]![0]), '9000');
  for (const [command] of G_STEPS.slice(1, 4)) t.regex(send(card, command), /^7C.*9000$/);
  t.is(send(card, G_STEPS[4]![0]), '6300');
  t.false(card.secured);
  t.is(send(card, G_STEPS[4]![0]), '6985');
});

test('PACE refuses a mapping key that is not on the curve, and a step out of order or unchained', (t) => {
  const offCurve = G_PK_MAP_IFD.slice(0, -2) + '2E';
  let card = paceCard();
  send(card, G_STEPS[0]![0]);
  send(card, G_STEPS[1]![0]);
  t.is(send(card, `10860000457C438141${offCurve}00`), '6A80');
  t.is(send(card, G_STEPS[3]![0]), '6985');
  t.false(card.secured);

  card = paceCard();
  t.is(send(card, G_STEPS[1]![0]), '6985', 'GENERAL AUTHENTICATE before MSE:Set AT');
  send(card, G_STEPS[0]![0]);
  t.is(send(card, '00860000027C0000'), '6985', 'step 1 must be chained (CLA 10)');
});

test('PACE with the MRZ password is refused when the card has no MRZ key; an unknown protocol too', (t) => {
  const card = createCardSecurity({ can: '123456' });
  t.is(send(card, G_STEPS[0]![0]), '6A88');
  t.is(send(card, '0022C1A40F800A04007F00070202040602830102'), '6A80'); // PACE-ECDH-CAM: not this card's
  t.is(card.authenticate(H('002241A40F800A04007F000702020302028401C3')), null, 'Chip Authentication is not handled here');
  t.is(card.authenticate(H('0C860000027C0000')), null, 'a protected command goes to unwrap() first');
});

// --- PACE with the CAN, from a minimal terminal written here (noble for the curve) --------------------------------

const PACE_OID = '04007F00070202040202';
const Point = brainpoolP256r1.Point;
const big = (h: string) => BigInt('0x' + h);

/** Runs the terminal's side with the given CAN; returns the last status word and whether the chip's token checked out. */
function paceWithCan(card: CardSecurity, can: string): { sw: string; chipTokenOk: boolean } {
  const kPi = kdf16(new TextEncoder().encode(can), 3);
  const point = (response: string) => Point.fromBytes(H(response.slice(8, 8 + 130)));
  const template = (p: InstanceType<typeof Point>) => H(`7F494F060A${PACE_OID}8641${p.toHex(false)}`);
  if (send(card, `0022C1A40F800A${PACE_OID}830102`) !== '9000') return { sw: 'mse', chipTokenOk: false };
  const s = aesCbcDecrypt(kPi, new Uint8Array(16), H(send(card, '10860000027C0000').slice(8, 40)));
  const skMap = big(G_PK_MAP_IFD.slice(2, 66)) % Point.CURVE().n; // any fixed scalar will do
  const pkMapIc = point(send(card, `10860000457C438141${Point.BASE.multiply(skMap).toHex(false)}00`));
  const g = Point.BASE.multiply(big(hex(s))).add(pkMapIc.multiply(skMap));
  const skDh = big(G_PK_DH_IFD.slice(2, 66)) % Point.CURVE().n;
  const pkDh = g.multiply(skDh);
  const pkDhIc = point(send(card, `10860000457C438341${pkDh.toHex(false)}00`));
  const ksMac = kdf16(H(pkDhIc.multiply(skDh).toAffine().x.toString(16).padStart(64, '0')), 2);
  const answer = send(card, `008600000C7C0A8508${hex(aesCmac(ksMac, template(pkDhIc)).subarray(0, 8))}00`);
  return { sw: answer.slice(-4), chipTokenOk: answer.slice(8, 24) === hex(aesCmac(ksMac, template(pkDh)).subarray(0, 8)) };
}

test('PACE with the right CAN opens the channel and the chip proves it knows the CAN too', (t) => {
  const card = createCardSecurity({ can: '901234' });
  t.deepEqual(paceWithCan(card, '901234'), { sw: '9000', chipTokenOk: true });
  t.true(card.secured);
});

test('PACE with a wrong CAN: 63xx and no channel', (t) => {
  const card = createCardSecurity({ can: '901234' });
  const { sw } = paceWithCan(card, '901235');
  t.regex(sw, /^63[0-9A-F]{2}$/);
  t.false(card.secured);
});

// --- AES secure messaging against a real chip's trace ------------------------------------------------------------
// gmrtd/gmrtd iso7816/secure_messaging_test.go: TestSecureMessageEncode (an AES protected MSE:Set AT as a terminal
// sent it) and TestSecureMessageDecode (a German ID card's protected READ BINARY answer, also in pace/pace_test.go).

test('AES secure messaging: unwraps a terminal-protected command and wraps an answer as a real chip did', (t) => {
  const inbound = openSmChannel({
    cipher: 'aes',
    ksEnc: H('cc86415f2ed7e8fd663b754265695ae1'),
    ksMac: H('581e84b8ee06c4d3eee30461498d7fb3'),
    ssc: H('000000000000000000000000000000ba'),
  });
  t.deepEqual(inbound.unwrap(H('0c2241a41d871101980953d37f67558690045d78a853b18a8e08929767a2cef172e200')), {
    ok: true,
    plain: H('002241a40f800a04007f000702020302028401c3'),
  });
  const outbound = openSmChannel({
    cipher: 'aes',
    ksEnc: H('a8e85e938514ec67ae33cda3d43d3c48'),
    ksMac: H('27f1adeb705a049a305b0c619b14b9b3'),
    ssc: H('0000000000000000000000000000000b'),
  });
  const data =
    'a729901d1a71874700133107ec53306404307bc382c63d8c150c3c72080ace05afa0c2bea28e4fb22787139165efba91f90f8aa5814a503ad4eb04a8c7dd22ce2826043004a8c7dd22ce28268b39b55416f0447c2fb77de107dcd2a62e880ea53eeb62d57cb4390295dbc9943ab78696fa504c110461041d1c64f068cf45ffa2a63a81b7c13f6b8847a3e77ef14fe3db7fcafe0cbd10e8e826e03436d646aaef87b2e247d4af1e8abe1d7520f9c2a45cb1eb8e95cfd55262b70b29feec5864e19c054ff99129280e4646217791811142820341263c53150231008cb91e82a3';
  const chip =
    '8781e1012fabf9e0655d7e987fd28a8aeb19c9cadd990d49399799ed1fe465bcea56da9ba3024291d40d23d7f1e00485d71faddc6d8c1382e8028dd22efdcc72ed47663d56d20dd6c4b867956fe0507313083ae7fc54fb46133f184febbe13ad6fd3e2616a1f4a829e75ada1a0e443ca738288f6014be8a7745d8259b089e6bee35bcc4bf5b63db5fdd84244f67eca099213b70a861b4487225aa68af684278fceb4cb809de42be3ee95b0e0d72bcdb0ed47cb56efc264e04a9397a90e81ad1d81efa2d14b2ca8ec7bd997f4b1c1fd344d5dee8589c38b227ca4cb35810060a7cc76403e990290008e083eb47ef4fa82afc99000';
  t.is(hex(outbound.wrap(H(data + '9000'))), chip.toUpperCase());
});

// --- losing the channel ------------------------------------------------------------------------------------------

test('a tampered MAC: 6988, the channel is closed, and even a correct command is refused afterwards', (t) => {
  const card = bacCard();
  const tampered = H(D_SELECT);
  tampered[tampered.length - 2] = tampered[tampered.length - 2]! ^ 0x01; // last MAC byte, before Le
  t.deepEqual(card.unwrap(tampered), { ok: false, response: H('6988') });
  t.false(card.secured);
  t.deepEqual(card.unwrap(H(D_SELECT)), { ok: false, response: H('6988') });
});

test('a plain command while secured gives 6988; a protected one without its MAC gives 6987; both close the channel', (t) => {
  let card = bacCard();
  t.deepEqual(card.unwrap(H('00A4020C02011E')), { ok: false, response: H('6988') });
  t.false(card.secured);
  card = bacCard();
  t.deepEqual(card.unwrap(H('0CA4020C0B8709016375432908C044F600')), { ok: false, response: H('6987') });
  t.false(card.secured);
});

test('reset() (power off, card removed) closes the channel', (t) => {
  const card = bacCard();
  t.true(card.secured);
  card.reset();
  t.false(card.secured);
  t.false(card.unwrap(H(D_SELECT)).ok);
  t.is(hex(card.wrap(H('9000'))), '9000', 'no channel, nothing to protect');
});

test('garbage never throws: every answer is a status word or null', (t) => {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
  const card = createCardSecurity({ can: '123456', mrzKey: D_MRZ });
  for (let i = 0; i < 400; i++) {
    const apdu = Uint8Array.from({ length: next() % 80 }, next);
    if (apdu.length > 1 && i % 2 === 0) apdu[1] = [0x22, 0x86, 0x84, 0x82][i % 4]!; // aim at the card's instructions
    if (apdu.length > 3 && i % 4 === 0) [apdu[2], apdu[3]] = [0xc1, 0xa4];
    const answer = card.authenticate(apdu);
    t.true(answer === null || answer.length >= 2);
    const unwrapped = card.unwrap(apdu);
    t.true(unwrapped.ok || unwrapped.response.length === 2);
  }
});
