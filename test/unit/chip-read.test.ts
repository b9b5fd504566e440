// readChip against a small fake card: a plain file system behind a fake card-side secure messaging, with the
// authentication replayed from the ICAO 9303-11 worked examples (App. D.3 for BAC, App. G.1 for PACE; sources in
// chip-bac.test.ts and chip-pace.test.ts). Not the virtual CCCD (hw-sim/chip/, another module's work).
import test from 'ava';
import { createCipheriv, createHash } from 'node:crypto';
import { ChipError, concat, fromHex, hex, readTlvs, tlv, type Command, type Transmit } from '../../src/chip/apdu.js';
import { VIETNAM_CARD_ACCESS } from '../../src/chip/card-access.js';
import {
  aesCbcDecrypt,
  aesCbcEncrypt,
  aesCmac,
  aesEcbEncrypt,
  des3CbcDecrypt,
  des3CbcEncrypt,
  pad,
  retailMac,
  unpad,
} from '../../src/chip/crypto.js';
import { readChip, type FileName } from '../../src/chip/read-chip.js';

type Cipher = 'aes' | '3des';
type Session = { cipher: Cipher; ksEnc: string; ksMac: string; ssc: string };
const session = (cipher: Cipher, ksEnc: string, ksMac: string, ssc: string): Session => ({ cipher, ksEnc, ksMac, ssc });

/** The card's side of secure messaging, written from ICAO 9303-11 §9.8 for this test only. */
function cardSm(s: Session) {
  const width = s.cipher === 'aes' ? 16 : 8;
  const [enc, mac] = [fromHex(s.ksEnc), fromHex(s.ksMac)];
  let ssc = BigInt(`0x${s.ssc}`);
  const bump = () => fromHex((++ssc).toString(16).padStart(width * 2, '0'));
  const iv = (c: Uint8Array) => aesEcbEncrypt(enc, c);
  const encrypt = (d: Uint8Array, c: Uint8Array) => (s.cipher === 'aes' ? aesCbcEncrypt(enc, pad(d, 16), iv(c)) : des3CbcEncrypt(enc, pad(d, 8)));
  const decrypt = (d: Uint8Array, c: Uint8Array) => unpad(s.cipher === 'aes' ? aesCbcDecrypt(enc, d, iv(c)) : des3CbcDecrypt(enc, d));
  const macOf = (d: Uint8Array) => (s.cipher === 'aes' ? aesCmac(mac, pad(d, 16)).slice(0, 8) : retailMac(mac, d));
  return {
    unwrap(apdu: Uint8Array): Command | null {
      const c = bump();
      const objs = readTlvs(apdu.subarray(5, 5 + apdu[4]!));
      const covered = concat(...objs.filter((o) => o.tag !== 0x8e).map((o) => tlv(o.tag, o.value)));
      if (hex(macOf(concat(c, pad(apdu.subarray(0, 4), width), covered))) !== hex(objs.find((o) => o.tag === 0x8e)?.value ?? new Uint8Array(0)))
        return null;
      const d87 = objs.find((o) => o.tag === 0x87 || o.tag === 0x85);
      const le = objs.find((o) => o.tag === 0x97)?.value[0];
      const data = d87 === undefined ? undefined : decrypt(d87.tag === 0x87 ? d87.value.subarray(1) : d87.value, c);
      return { cla: 0, ins: apdu[1]!, p1: apdu[2]!, p2: apdu[3]!, ...(data ? { data } : {}), ...(le !== undefined ? { le: le || 256 } : {}) };
    },
    wrap(data: Uint8Array, sw: number, odd: boolean): Uint8Array {
      const c = bump();
      const ct = data.length === 0 ? new Uint8Array(0) : encrypt(data, c);
      const dataDo = data.length === 0 ? new Uint8Array(0) : odd ? tlv(0x85, ct) : tlv(0x87, concat(Uint8Array.of(1), ct));
      const body = concat(dataDo, tlv(0x99, Uint8Array.of(sw >> 8, sw & 0xff)));
      return concat(body, tlv(0x8e, macOf(concat(c, body))), Uint8Array.of(sw >> 8, sw & 0xff));
    },
  };
}

/** A plain file system by file id: SELECT by id or AID, READ BINARY (B0, and B1 with DO54/DO53). */
function fileSystem(files: Map<number, Uint8Array>, denied: Set<number>) {
  let current: Uint8Array | undefined;
  return (cmd: Command): { data: Uint8Array; sw: number } => {
    const none = new Uint8Array(0);
    const d = cmd.data ?? none;
    if (cmd.ins === 0xa4 && cmd.p1 === 0x04) return { data: none, sw: hex(d) === 'A0000002471001' ? 0x9000 : 0x6a82 };
    if (cmd.ins === 0xa4 && cmd.p1 === 0x02) {
      const id = (d[0]! << 8) | d[1]!;
      current = files.get(id);
      return { data: none, sw: denied.has(id) ? 0x6982 : current ? 0x9000 : 0x6a82 };
    }
    if ((cmd.ins === 0xb0 || cmd.ins === 0xb1) && current) {
      const odd = cmd.ins === 0xb1;
      const offset = odd ? d.subarray(2).reduce((n, b) => n * 256 + b, 0) : (cmd.p1 << 8) | cmd.p2;
      const slice = current.subarray(offset, offset + (cmd.le ?? 256) - (odd ? 3 : 0));
      return { data: odd ? tlv(0x53, slice) : slice, sw: offset > current.length ? 0x6b00 : 0x9000 };
    }
    return { data: none, sw: 0x6d00 };
  };
}

interface CardSpec {
  files: Map<FileName, Uint8Array>;
  denied?: FileName[];
  /** Authentication exchange run in plain, '*' matching any command; the channel opens after its last step succeeds. */
  auth: Array<[string, string]>;
  session: Session;
  /** Replaces the answer to the n-th protected command (from 1). */
  fault?: (n: number) => string | undefined;
  onApdu?: (count: number) => void;
}

const ID: Record<string, number> = { CardAccess: 0x011c, COM: 0x011e, SOD: 0x011d };
const idOf = (n: FileName) => ID[n] ?? 0x100 + Number(n.slice(2));

function fakeCard(spec: CardSpec): { transmit: Transmit; log: Array<[string, string]> } {
  const byId = new Map([...spec.files].map(([n, b]) => [idOf(n), b]));
  const fs = fileSystem(byId, new Set((spec.denied ?? []).map(idOf)));
  const plainFs = fileSystem(new Map([...byId].filter(([id]) => id === 0x011c)), new Set());
  let step = 0;
  let sm: ReturnType<typeof cardSm> | undefined;
  let protectedCount = 0;
  const log: Array<[string, string]> = [];
  const answer = (apdu: Uint8Array): string => {
    if (sm) {
      const faulty = spec.fault?.(++protectedCount);
      if (faulty !== undefined) return faulty;
      const cmd = apdu[0] === 0x0c ? sm.unwrap(apdu) : null;
      if (cmd === null) return ((sm = undefined), '6988');
      const r = fs(cmd);
      return hex(sm.wrap(r.data, r.sw, (cmd.ins & 1) === 1));
    }
    const next = spec.auth[step];
    if (next && (next[0] === '*' || next[0] === hex(apdu))) {
      step++;
      if (step === spec.auth.length && next[1].endsWith('9000')) sm = cardSm(spec.session);
      return next[1];
    }
    const [cla, ins, p1, p2, lc] = apdu;
    const data = apdu.length > 5 && ins === 0xa4 ? apdu.subarray(5, 5 + lc!) : undefined;
    const r = plainFs({ cla: cla!, ins: ins!, p1: p1!, p2: p2!, ...(data ? { data } : {}), ...(ins === 0xb0 ? { le: apdu[4] || 256 } : {}) });
    return hex(r.data) + r.sw.toString(16).padStart(4, '0');
  };
  const transmit: Transmit = async (apdu) => {
    const rsp = answer(apdu);
    log.push([hex(apdu), rsp.toUpperCase()]);
    spec.onApdu?.(log.length);
    return fromHex(rsp);
  };
  return { transmit, log };
}

const queue = (...keys: string[]) => {
  const q = keys.map(fromHex);
  return (n: number) => {
    const k = q.shift();
    if (k?.length !== n) throw new Error(`unexpected random request of ${n}`);
    return k;
  };
};

// ---- App. D (BAC): MRZ L898902C< / 690806 / 940623; the App. D.4 exchange reads EF.COM.
const D_MRZ = { documentNumber: 'L898902C', birthDate: '690806', expiryDate: '940623' };
const D_RANDOM = () => queue('781723860C06C226', '0B795240CB7049B01C19B33E32804F0B');
const D_AUTH: Array<[string, string]> = [
  ['0084000008', '4608F919887022129000'],
  [
    '0082000028' + '72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F25F1448EEA8AD90A728',
    '46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D74499000',
  ],
];
const D_SESSION = session('3des', '979EC13B1CBFE9DCD01AB0FED307EAE5', 'F1CB1F1FB5ADF208806B89DC579DC1F8', '887022120C06C226');
const D_COM = fromHex('60145F0104303130365F36063034303030305C026175');

// ---- App. G.1 (PACE-GM): terminal keys injected; the chip's answers replayed.
const G_MRZ = { documentNumber: 'T22000129', birthDate: '640812', expiryDate: '101031' };
const G_RANDOM = () =>
  queue('7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99', 'A73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595');
const G_NONCE_S = '3F00C4D39D153F2B2A214A078D899B22';
const G_PK_MAP_IC =
  '04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F5730D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54';
const G_PK_DH_IC =
  '049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094';
const G_SESSION = session('aes', 'F5F0E35C0D7161EE6724EE513A0D9A7F', 'FE251C7858B356B24514B3BD5F4297D1', '00'.repeat(16));
const G_Z = '95A3A016522EE98D01E76CB6B98B42C3';
/** A CCCD-like card that runs the G.1 exchange with the MRZ password. */
const gCard = (extra: Partial<CardSpec> = {}) => fakeCard({ files: CCCD_FILES(), auth: gAuth('01', G_Z), session: G_SESSION, ...extra });
const gOpts = (groups: FileName[], extra: object = {}) => ({ bac: G_MRZ, groups, now: () => 0, signal: live(), randomBytes: G_RANDOM(), ...extra });

/** The G.1 chip answers; the nonce encrypted under the given password's K_π (G.1's own for the MRZ). */
function gAuth(passwordRef: '01' | '02', z: string, token = '7C0A86083ABB9674BCE93C089000'): Array<[string, string]> {
  return [
    [`0022C1A40F800A04007F000702020402028301${passwordRef}`, '9000'],
    ['10860000027C0000', `7C128010${z}9000`],
    ['*', `7C438241${G_PK_MAP_IC}9000`],
    ['*', `7C438441${G_PK_DH_IC}9000`],
    ['*', token],
  ];
}

/** z for a CAN, computed here from the ICAO 9303-11 definitions with node:crypto only: AES-CBC(KDF(CAN, 3), s). */
function canNonce(can: string): string {
  const kPi = createHash('sha1')
    .update(Buffer.concat([Buffer.from(can, 'ascii'), Buffer.from([0, 0, 0, 3])]))
    .digest()
    .subarray(0, 16);
  const c = createCipheriv('aes-128-cbc', kPi, Buffer.alloc(16)).setAutoPadding(false);
  return Buffer.concat([c.update(fromHex(G_NONCE_S)), c.final()])
    .toString('hex')
    .toUpperCase();
}

/** Deterministic stand-in contents (no personal data): a TLV of `size` bytes in all. */
function file(tag: number, size: number): Uint8Array {
  const headerLength = size - 2 < 0x80 ? 2 : size - 3 < 0x100 ? 3 : size - 4 < 0x10000 ? 4 : 5;
  return tlv(
    tag,
    Uint8Array.from({ length: size - headerLength }, (_, i) => (i * 31 + tag) & 0xff),
  );
}

const CCCD_FILES = (): Map<FileName, Uint8Array> =>
  new Map<FileName, Uint8Array>([
    ['CardAccess', VIETNAM_CARD_ACCESS],
    ['COM', file(0x60, 22)],
    ['DG1', file(0x61, 95)],
    ['DG2', file(0x75, 40_000)],
    ['DG3', file(0x63, 300)],
    ['DG13', file(0x6d, 900)],
    ['DG14', file(0x6e, 340)],
    ['DG15', file(0x6f, 170)],
    ['SOD', file(0x77, 1800)],
  ]);
const GROUPS: FileName[] = ['COM', 'DG1', 'DG2', 'DG3', 'DG11', 'DG13', 'DG14', 'DG15', 'SOD'];
const live = () => new AbortController().signal;

test('BAC replay of App. D: refused EF.CardAccess, refused PACE, then BAC and EF.COM exactly as in D.4', async (t) => {
  const card = fakeCard({ files: new Map([['COM', D_COM]]), auth: D_AUTH, session: D_SESSION });
  const read = await readChip(card.transmit, { bac: D_MRZ, groups: ['COM'], now: () => 0, signal: live(), randomBytes: D_RANDOM() });
  t.is(read.protocol, 'bac');
  t.is(hex(read.files.get('COM')!), hex(D_COM));
  t.deepEqual([...read.refused], [['CardAccess', 'not-found']]);
  t.deepEqual(card.log.slice(0, 3), [
    ['00A4020C02011C', '6A82'],
    ['0022C1A40F800A04007F00070202040202830101', '6D00'],
    ['00A4040C07A0000002471001', '9000'],
  ]);
  t.deepEqual(card.log.slice(5), [
    ['0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800', '990290008E08FA855A5D4C50A8ED9000'],
    ['0CB000000D9701048E08ED6705417E96BA5500', '8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000'],
    ['0CB000040D9701128E082EA28A70F3C7B53500', '871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000'],
  ]);
  t.deepEqual(
    read.timings.map((s) => [s.step, s.apdus]),
    [
      ['card-access', 1],
      ['pace', 1],
      ['bac', 3],
      ['read COM', 3],
    ],
  );
});

test('PACE with the MRZ (App. G.1) reads a CCCD-like card: files, refusals, odd-INS reads past 32 KiB, timings', async (t) => {
  let ms = 1000; // an injected clock that moves 5 ms per APDU
  const clock = { now: () => ms, tick: () => (ms += 5) };
  const card = gCard({ denied: ['DG3'], onApdu: clock.tick });
  const read = await readChip(card.transmit, gOpts(GROUPS, { now: clock.now }));
  t.is(read.protocol, 'pace');
  const expected = CCCD_FILES();
  expected.delete('DG3');
  t.deepEqual([...read.files.keys()].sort(), [...expected.keys()].sort());
  for (const [name, bytes] of expected) t.is(hex(read.files.get(name)!), hex(bytes), name);
  t.deepEqual(Object.fromEntries(read.refused), { DG3: 'access-denied', DG11: 'not-found' });
  t.true(
    card.log.some(([cmd]) => cmd.startsWith('0CB10000')),
    'DG2 beyond 32767 bytes is read with odd INS',
  );
  t.true(card.log.filter(([cmd]) => cmd.startsWith('0CB0')).every(([cmd]) => parseInt(cmd.slice(4, 8), 16) <= 0x7fff));
  t.deepEqual(read.timings.slice(0, 3), [
    { step: 'card-access', ms: 15, apdus: 3 },
    { step: 'pace', ms: 25, apdus: 5 },
    { step: 'select-application', ms: 5, apdus: 1 },
  ]);
  // Short APDUs only: every answer, SM overhead included, within 256 data bytes + SW.
  t.deepEqual(
    card.log.filter(([, rsp]) => rsp.length / 2 > 258),
    [],
  );
  const dg2 = read.timings.find((s) => s.step === 'read DG2')!;
  t.true(dg2.apdus >= 2 + Math.ceil((40_000 - 4) / 0xdf));
  t.is(dg2.ms, dg2.apdus * 5);
});

test('PACE with the CAN: password 02, nonce under the CAN, same keys after', async (t) => {
  const card = fakeCard({ files: CCCD_FILES(), auth: gAuth('02', canNonce('123456')), session: G_SESSION });
  const read = await readChip(card.transmit, { can: '123456', groups: ['DG1'], now: () => 0, signal: live(), randomBytes: G_RANDOM() });
  t.is(read.protocol, 'pace');
  t.is(hex(read.files.get('DG1')!), hex(CCCD_FILES().get('DG1')!));
  t.is(card.log[3]![0], '0022C1A40F800A04007F00070202040202830102', 'after the 3 plain APDUs of EF.CardAccess');
});

test('a wrong CAN fails with wrong-can at the token step, and neither CAN is in the message', async (t) => {
  const card = fakeCard({ files: CCCD_FILES(), auth: gAuth('02', canNonce('123456'), '6300'), session: G_SESSION });
  const err = await t.throwsAsync(readChip(card.transmit, { can: '654321', groups: ['DG1'], now: () => 0, signal: live() }), {
    instanceOf: ChipError,
  });
  t.is(err?.reason, 'wrong-can');
  t.notRegex(err?.message ?? '', /654321|123456/);
});

test('a file over maxFileBytes is refused as too-large after its header, and a long header is read in two parts', async (t) => {
  const files = CCCD_FILES();
  files.set('DG2', file(0x75, 70_000));
  const card = gCard({ files });
  const err = await t.throwsAsync(readChip(card.transmit, gOpts(['DG2'])), { instanceOf: ChipError });
  t.is(err?.reason, 'too-large');
  t.regex(err?.message ?? '', /DG2 is 70000 bytes/);
  t.is(card.log.filter(([cmd]) => cmd.startsWith('0CB0')).length, 2, 'only the header was read');
  const small = await t.throwsAsync(readChip(gCard().transmit, gOpts(['DG13'], { maxFileBytes: 512 })), { instanceOf: ChipError });
  t.is(small?.reason, 'too-large');
});

test('aborting mid-read stops before the next APDU', async (t) => {
  const ac = new AbortController();
  const card = gCard({ onApdu: (n) => n === 12 && ac.abort() });
  const err = await t.throwsAsync(readChip(card.transmit, gOpts(GROUPS, { signal: ac.signal })), { instanceOf: ChipError });
  t.is(err?.reason, 'aborted');
  t.is(card.log.length, 12);
});

test('the chip dropping secure messaging, or a response MAC that does not verify, ends the read as sm-lost', async (t) => {
  for (const fault of ['6988', '990290008E080000000000000000' + '9000']) {
    const card = gCard({ fault: (n) => (n === 3 ? fault : undefined) });
    const err = await t.throwsAsync(readChip(card.transmit, gOpts(GROUPS)), { instanceOf: ChipError });
    t.is(err?.reason, 'sm-lost', fault);
  }
});

test('without PACE on the card: BAC when its key is given, else unsupported', async (t) => {
  const taOnly = fromHex('310F300D060804007F0007020202020101');
  const files = new Map<FileName, Uint8Array>([
    ['CardAccess', taOnly],
    ['COM', D_COM],
  ]);
  const read = await readChip(fakeCard({ files, auth: D_AUTH, session: D_SESSION }).transmit, {
    bac: D_MRZ,
    groups: ['COM'],
    now: () => 0,
    signal: live(),
    randomBytes: D_RANDOM(),
  });
  t.is(read.protocol, 'bac');
  t.is(hex(read.files.get('CardAccess')!), hex(taOnly));
  const err = await t.throwsAsync(
    readChip(fakeCard({ files, auth: D_AUTH, session: D_SESSION }).transmit, { can: '123456', groups: ['COM'], now: () => 0, signal: live() }),
  );
  t.is((err as ChipError).reason, 'unsupported');
});

test('transport failures are io; a ChipError from the link (card removed) passes through', async (t) => {
  const opts = { can: '123456', groups: ['COM'] as FileName[], now: () => 0, signal: live() };
  const failing: Transmit = async () => {
    throw new Error('SCardTransmit: 0x80100069');
  };
  t.is((await t.throwsAsync(readChip(failing, opts), { instanceOf: ChipError }))?.reason, 'io');
  const removed: Transmit = async () => {
    throw new ChipError('card-removed', 'card removed');
  };
  t.is((await t.throwsAsync(readChip(removed, opts), { instanceOf: ChipError }))?.reason, 'card-removed');
});
