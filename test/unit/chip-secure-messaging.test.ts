// Secure messaging against published exchanges:
// - 3DES: ICAO 9303-11 Appendix D.4 (SELECT EF.COM, READ BINARY 4, READ BINARY 18), as carried by
//   g0ddest/javacard-express (IcaoAppendixD4SecureMessagingTest, icao_ref.py) and tsenger/animamea (SecureMessagingTest);
// - AES: tsenger/animamea SecureMessagingTest (junit.de.tsenger.animamea.iso7816): an MSE:Set DST protected with
//   KS_enc 68406B41…, KS_mac 73FF2687…, SSC 4 → 5, and its response at SSC 6.
import test from 'ava';
import { ChipError, fromHex, hex } from '../../src/chip/apdu.js';
import { createSecureMessaging } from '../../src/chip/secure-messaging.js';

const D3_KS_ENC = fromHex('979EC13B1CBFE9DCD01AB0FED307EAE5');
const D3_KS_MAC = fromHex('F1CB1F1FB5ADF208806B89DC579DC1F8');
const D3_SSC = fromHex('887022120C06C226');
const d4 = () => createSecureMessaging('3des', D3_KS_ENC, D3_KS_MAC, D3_SSC);

test('3DES: the App. D.4 exchange, command by command, response by response', (t) => {
  const sm = d4();
  t.is(hex(sm.protect({ cla: 0, ins: 0xa4, p1: 0x02, p2: 0x0c, data: fromHex('011E') })), '0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800');
  t.is(hex(sm.ssc()), '887022120C06C227');
  const sel = sm.unprotect(fromHex('990290008E08FA855A5D4C50A8ED9000'));
  t.is(sel.sw, 0x9000);
  t.is(sel.data.length, 0);
  t.is(hex(sm.protect({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 4 })), '0CB000000D9701048E08ED6705417E96BA5500');
  const head = sm.unprotect(fromHex('8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000'));
  t.is(hex(head.data), '60145F01');
  t.is(hex(sm.protect({ cla: 0, ins: 0xb0, p1: 0, p2: 4, le: 0x12 })), '0CB000040D9701128E082EA28A70F3C7B53500');
  const rest = sm.unprotect(fromHex('871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000'));
  t.is(hex(rest.data), '04303130365F36063034303030305C026175');
  t.is(rest.sw, 0x9000);
  t.is(hex(sm.ssc()), '887022120C06C22C');
});

test('AES: IV from the SSC, CMAC cut to 8 bytes (animamea MSE:Set DST vector)', (t) => {
  const ksEnc = fromHex('68406b4162100563d9c901a6154d2901');
  const ksMac = fromHex('73ff268784f72af833fdc9464049afc9');
  const ssc4 = fromHex('00000000000000000000000000000004');
  const term = createSecureMessaging('aes', ksEnc, ksMac, ssc4);
  const cmd = term.protect({ cla: 0, ins: 0x22, p1: 0x81, p2: 0xb6, data: fromHex('830d44455445535444564445303139') });
  t.is(hex(cmd), '0C2281B61D871101A7BB8F230FFF9221162AD673B9F319A88E08D8713E9B7A600B4900');
  const rsp = term.unprotect(fromHex('990290008e08c8488f79fef386c79000'));
  t.is(rsp.sw, 0x9000);
  t.is(hex(term.ssc()), '00000000000000000000000000000006');
});

test('a response whose MAC does not verify is refused as sm-lost and its data is not returned', (t) => {
  const sm = d4();
  sm.protect({ cla: 0, ins: 0xa4, p1: 0x02, p2: 0x0c, data: fromHex('011E') });
  sm.unprotect(fromHex('990290008E08FA855A5D4C50A8ED9000'));
  sm.protect({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 4 });
  const tampered = fromHex('8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000');
  tampered[4]! ^= 0x01; // one bit of the ciphertext
  const err = t.throws(() => sm.unprotect(tampered), { instanceOf: ChipError });
  t.is(err?.reason, 'sm-lost');
  t.notRegex(err?.message ?? '', /60145F01/i);
});

test('a response replayed under the wrong SSC does not verify', (t) => {
  const sm = d4();
  sm.protect({ cla: 0, ins: 0xa4, p1: 0x02, p2: 0x0c, data: fromHex('011E') });
  sm.unprotect(fromHex('990290008E08FA855A5D4C50A8ED9000'));
  sm.protect({ cla: 0, ins: 0xa4, p1: 0x02, p2: 0x0c, data: fromHex('011E') });
  t.is(t.throws(() => sm.unprotect(fromHex('990290008E08FA855A5D4C50A8ED9000')), { instanceOf: ChipError })?.reason, 'sm-lost');
});

test('6987 and 6988 mean the chip dropped secure messaging', (t) => {
  for (const sw of ['6987', '6988']) {
    const sm = d4();
    sm.protect({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 4 });
    const err = t.throws(() => sm.unprotect(fromHex(sw)), { instanceOf: ChipError });
    t.is(err?.reason, 'sm-lost', sw);
    t.regex(err?.message ?? '', new RegExp(sw));
  }
});

test('an unprotected success is refused; an unprotected error status passes through without data', (t) => {
  const sm = d4();
  sm.protect({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 4 });
  t.is(t.throws(() => sm.unprotect(fromHex('9000')), { instanceOf: ChipError })?.reason, 'sm-lost');
  sm.protect({ cla: 0, ins: 0xa4, p1: 0x02, p2: 0x0c, data: fromHex('0103') });
  t.deepEqual(sm.unprotect(fromHex('6A82')), { data: new Uint8Array(0), sw: 0x6a82 });
});

test('protected responses without a final DO8E, or not TLV at all, are malformed before any MAC is computed', (t) => {
  for (const bad of ['990290009000', '8E08FA855A5D4C50A8ED99029000', '8781FF01AA9000', '5F9000']) {
    const sm = d4();
    sm.protect({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 4 });
    t.is(t.throws(() => sm.unprotect(fromHex(bad)), { instanceOf: ChipError })?.reason, 'malformed', bad);
  }
});

test('a protected command too big for a short APDU needs the extended option', (t) => {
  const big = { cla: 0, ins: 0xd6, p1: 0, p2: 0, data: new Uint8Array(300) };
  t.is(t.throws(() => d4().protect(big), { instanceOf: ChipError })?.reason, 'too-large');
  const apdu = createSecureMessaging('3des', D3_KS_ENC, D3_KS_MAC, D3_SSC, { extended: true }).protect(big);
  t.is(hex(apdu.subarray(0, 5)), '0CD6000000');
  t.is((apdu[5]! << 8) | apdu[6]!, apdu.length - 9, 'three-byte Lc, two-byte Le 0000');
  t.is(hex(apdu.subarray(-2)), '0000');
});

test('the SSC must be as wide as the cipher block', (t) => {
  t.is(t.throws(() => createSecureMessaging('aes', D3_KS_ENC, D3_KS_MAC, D3_SSC), { instanceOf: ChipError })?.reason, 'malformed');
});
