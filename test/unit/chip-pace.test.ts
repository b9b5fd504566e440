// PACE-ECDH-GM-AES-CBC-CMAC-128 on brainpoolP256r1 against ICAO 9303-11 Appendix G.1 (MRZ T22000129 / 640812 / 101031).
// Values from chip.md §11 and the appendix as carried by ZeroPass/dmrtd (test/pace_test_ecdh.dart: keys, points, and the
// full APDU exchange), g0ddest/javacard-express (sm/src/test/python/icao_ref.py) and gmrtd's PACE test. EF.CardAccess bytes:
// chip.md §3 (the Vietnamese set) and the G.1 set from ZeroPass/dmrtd.
import test from 'ava';
import { queuedRandom, scripted } from '../helpers/chip-script.js';
import { createHash } from 'node:crypto';
import { brainpoolP256r1 } from '@noble/curves/misc.js';
import { ChipError, fromHex, hex } from '../../src/chip/apdu.js';
import { decodeOid, encodeOid, parseCardAccess, supportedPace, VIETNAM_CARD_ACCESS } from '../../src/chip/card-access.js';
import { authToken, decodePoint, decryptNonce, mapGenerator, passwordKey, performPace, sessionKeys } from '../../src/chip/pace.js';

const MRZ = { documentNumber: 'T22000129', birthDate: '640812', expiryDate: '101031' };
const OID = '0.4.0.127.0.7.2.2.4.2.2';
const SK_MAP_IFD = '7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99';
const SK_DH_IFD = 'A73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595';
const PK_MAP_IC =
  '04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F5730D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54';
const PK_DH_IFD =
  '042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462';
const PK_DH_IC = '049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094';
const NONCE_Z = '95A3A016522EE98D01E76CB6B98B42C3';
const NONCE_S = '3F00C4D39D153F2B2A214A078D899B22';
const KS_ENC = 'F5F0E35C0D7161EE6724EE513A0D9A7F';
const KS_MAC = 'FE251C7858B356B24514B3BD5F4297D1';

/** The G.1 exchange, as ZeroPass/dmrtd's test lists it (command, response). */
const G1: Array<[string, string]> = [
  ['0022C1A40F800A04007F00070202040202830101', '9000'],
  ['10860000027C0000', `7C128010${NONCE_Z}9000`],
  [
    '10860000457C43814104' +
      '7ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D00',
    `7C438241${PK_MAP_IC}9000`,
  ],
  [`10860000457C438341${PK_DH_IFD}00`, `7C438441${PK_DH_IC}9000`],
  ['008600000C7C0A8508C2B0BD78D94BA86600', '7C0A86083ABB9674BCE93C089000'],
];

const signal = new AbortController().signal;
const info = { oid: OID, version: 2, parameterId: 13 };

test('K_π from the MRZ password and the decrypted nonce are those of G.1', (t) => {
  const kPi = passwordKey({ mrz: MRZ });
  t.is(hex(kPi), '89DED1B26624EC1E634C1989302849DD');
  t.is(hex(decryptNonce(kPi, fromHex(NONCE_Z))), NONCE_S);
});

test('K_π from a CAN is the KDF over its ASCII digits, without the SHA-1 step of the MRZ', (t) => {
  // No published CAN vector was found; this is ICAO 9303-11 §9.7.3's definition, computed here with node:crypto directly.
  const expected = createHash('sha1')
    .update(Buffer.concat([Buffer.from('123456', 'ascii'), Buffer.from([0, 0, 0, 3])]))
    .digest()
    .subarray(0, 16);
  t.is(hex(passwordKey({ can: '123456' })), hex(expected));
  const err = t.throws(() => passwordKey({ can: '12345a' }), { instanceOf: ChipError });
  t.is(err?.reason, 'malformed');
  t.notRegex(err?.message ?? '', /12345/);
});

test('the mapping gives H and the mapped generator of G.1, and the key agreement its keys', (t) => {
  const pkMapIc = decodePoint(fromHex(PK_MAP_IC), 'mapping key');
  const { h, generator } = mapGenerator(fromHex(NONCE_S), BigInt(`0x${SK_MAP_IFD}`), pkMapIc);
  t.is(
    hex(h.toBytes(false)),
    '0460332EF2450B5D247EF6D3868397D398852ED6E8CAF6FFEEF6BF85CA57057FD50840CA7415BAF3E43BD414D35AA4608B93A2CAF3A4E3EA4E82C9C13D03EB7181',
  );
  t.is(
    hex(generator.toBytes(false)),
    '048CED63C91426D4F0EB1435E7CB1D74A46723A0AF21C89634F65A9AE87A9265E28C879506743F8611AC33645C5B985C80B5F09A0B83407C1B6A4D857AE76FE522',
  );
  t.is(hex(generator.multiply(BigInt(`0x${SK_DH_IFD}`)).toBytes(false)), PK_DH_IFD);
  const keys = sessionKeys(BigInt(`0x${SK_DH_IFD}`), decodePoint(fromHex(PK_DH_IC), 'ephemeral key'));
  t.is(hex(keys.shared), '28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925');
  t.is(hex(keys.ksEnc), KS_ENC);
  t.is(hex(keys.ksMac), KS_MAC);
});

test('the tokens are those of G.1: T_IFD over the chip key, T_IC over the terminal key', (t) => {
  t.is(hex(authToken(fromHex(KS_MAC), OID, fromHex(PK_DH_IC))), 'C2B0BD78D94BA866');
  t.is(hex(authToken(fromHex(KS_MAC), OID, fromHex(PK_DH_IFD))), '3ABB9674BCE93C08');
});

test('the whole G.1 exchange, byte for byte, opens an AES channel with SSC zero', async (t) => {
  const card = scripted(G1);
  const sm = await performPace(card.transmit, { info, password: { mrz: MRZ }, signal, randomBytes: queuedRandom(SK_MAP_IFD, SK_DH_IFD) });
  t.deepEqual(
    card.sent,
    G1.map(([cmd]) => cmd),
  );
  t.is(sm.cipher, 'aes');
  t.is(hex(sm.ssc()), '00'.repeat(16));
});

test('with a CAN the MSE:Set AT names password 02', async (t) => {
  const card = scripted([['0022C1A40F800A04007F00070202040202830102', '6A80']]);
  const err = await t.throwsAsync(
    performPace(card.transmit, { info, password: { can: '123456' }, signal, randomBytes: queuedRandom(SK_MAP_IFD, SK_DH_IFD) }),
    {
      instanceOf: ChipError,
    },
  );
  t.deepEqual(card.sent, ['0022C1A40F800A04007F00070202040202830102']);
  t.is(err?.reason, 'unsupported', 'a refused MSE:Set AT means PACE as asked is not supported');
});

test('a chip refusing the terminal token means a wrong CAN, and the CAN is not in the message', async (t) => {
  for (const sw of ['6300', '63C1', '6982']) {
    const steps = G1.map(([c, r], i): [string, string] => [c, i === 4 ? sw : r]);
    const err = await t.throwsAsync(
      performPace(scripted(steps).transmit, { info, password: { mrz: MRZ }, signal, randomBytes: queuedRandom(SK_MAP_IFD, SK_DH_IFD) }),
      {
        instanceOf: ChipError,
      },
    );
    t.is(err?.reason, 'wrong-can', sw);
    t.notRegex(err?.message ?? '', /T22000129|640812|101031/);
  }
});

test('a chip token that does not verify is refused', async (t) => {
  const steps = G1.map(([c, r], i): [string, string] => [c, i === 4 ? '7C0A86083ABB9674BCE93C099000' : r]);
  const err = await t.throwsAsync(
    performPace(scripted(steps).transmit, { info, password: { mrz: MRZ }, signal, randomBytes: queuedRandom(SK_MAP_IFD, SK_DH_IFD) }),
  );
  t.is((err as ChipError).reason, 'wrong-can');
});

test('chip keys off the curve, or reflecting the terminal key, are refused', async (t) => {
  const offCurve = `${PK_MAP_IC.slice(0, -2)}55`;
  const bad1 = G1.map(([c, r], i): [string, string] => [c, i === 2 ? `7C438241${offCurve}9000` : r]);
  const e1 = await t.throwsAsync(
    performPace(scripted(bad1).transmit, { info, password: { mrz: MRZ }, signal, randomBytes: queuedRandom(SK_MAP_IFD, SK_DH_IFD) }),
  );
  t.is((e1 as ChipError).reason, 'malformed');
  const bad2 = G1.map(([c, r], i): [string, string] => [c, i === 3 ? `7C438441${PK_DH_IFD}9000` : r]);
  const e2 = await t.throwsAsync(
    performPace(scripted(bad2).transmit, { info, password: { mrz: MRZ }, signal, randomBytes: queuedRandom(SK_MAP_IFD, SK_DH_IFD) }),
  );
  t.is((e2 as ChipError).reason, 'malformed');
  const bad3 = G1.map(([c, r], i): [string, string] => [c, i === 1 ? '7C0380019000' : r]);
  const e3 = await t.throwsAsync(
    performPace(scripted(bad3).transmit, { info, password: { mrz: MRZ }, signal, randomBytes: queuedRandom(SK_MAP_IFD, SK_DH_IFD) }),
  );
  t.is((e3 as ChipError).reason, 'malformed');
});

test('other PACE variants are reported unsupported without a single APDU', async (t) => {
  const card = scripted([]);
  const other = { oid: '0.4.0.127.0.7.2.2.4.1.2', version: 2, parameterId: 0 };
  const err = await t.throwsAsync(performPace(card.transmit, { info: other, password: { can: '123456' }, signal }));
  t.is((err as ChipError).reason, 'unsupported');
  t.is(card.sent.length, 0);
});

test('EF.CardAccess of the CCCD offers PACE-GM-AES-128 on parameter 13 and CA-ECDH-AES-128', (t) => {
  const access = parseCardAccess(VIETNAM_CARD_ACCESS);
  t.deepEqual(access.pace, [{ oid: OID, version: 2, parameterId: 13 }]);
  t.deepEqual(access.chipAuthentication, [{ oid: '0.4.0.127.0.7.2.2.3.2.2', version: 1 }]);
  t.deepEqual(access.other, ['0.4.0.127.0.7.2.2.2']);
  t.deepEqual(supportedPace(access), { oid: OID, version: 2, parameterId: 13 });
  // The G.1 card's file (ZeroPass/dmrtd): the same PACEInfo alone.
  t.deepEqual(parseCardAccess(fromHex('31143012060A04007F0007020204020202010202010D')).pace, [{ oid: OID, version: 2, parameterId: 13 }]);
});

test('a card offering only other PACE variants has no supported PACE', (t) => {
  // PACEInfo id-PACE-ECDH-GM-3DES (0.4.0.127.0.7.2.2.4.2.1) v2, parameter 13.
  t.is(supportedPace(parseCardAccess(fromHex('31143012060A04007F0007020204020102010202010D'))), undefined);
});

test('OIDs encode and decode both ways', (t) => {
  t.is(hex(encodeOid(OID)), '04007F00070202040202');
  t.is(decodeOid(fromHex('04007F00070202040202')), OID);
  t.is(decodeOid(fromHex('2A864886F70D010701')), '1.2.840.113549.1.7.1');
});

test('EF.CardAccess parsing never crashes on garbage: a ChipError or a result, for every cut and flipped byte', (t) => {
  let errors = 0;
  for (let n = 0; n < VIETNAM_CARD_ACCESS.length; n++) {
    try {
      parseCardAccess(VIETNAM_CARD_ACCESS.subarray(0, n));
    } catch (err) {
      t.true(err instanceof ChipError && err.reason === 'malformed', `cut at ${n}`);
      errors++;
    }
    const flipped = VIETNAM_CARD_ACCESS.slice();
    flipped[n]! ^= 0xff;
    try {
      parseCardAccess(flipped);
    } catch (err) {
      t.true(err instanceof ChipError, `flip at ${n}`);
    }
  }
  t.is(errors, VIETNAM_CARD_ACCESS.length, 'every truncation is refused');
});

test('brainpoolP256r1 from @noble/curves is the curve of RFC 5639 (order as in G.1 sources)', (t) => {
  t.is(brainpoolP256r1.Point.Fn.ORDER, BigInt('0xA9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7'));
});
