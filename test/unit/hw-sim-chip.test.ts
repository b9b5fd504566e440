/**
 * hw-sim's chip reader (hw-sim/chip/sim-chip.ts) and how it is driven: the console's `card …`,
 * the scenario step `chip:` and the control actions chip.* are one vocabulary; a sample's card
 * placed on a vpcd slot is read by kioskd's own reader code (src/chip/), faults included. A fake
 * vpcd server stands in for pcscd here; the scenario files hw-sim/scenarios/chip-*.yaml run the
 * real pcscd and kioskd.
 */
import test, { type ExecutionContext } from 'ava';
import { createServer, type Socket } from 'node:net';
import { ChipError, type Transmit } from '../../src/chip/apdu.js';
import { parseDg13 } from '../../src/chip/dg13.js';
import { parseDg2 } from '../../src/chip/dg2.js';
import { passiveAuth } from '../../src/chip/passive-auth.js';
import { readChip, type ChipRead } from '../../src/chip/read-chip.js';
import { parseSod } from '../../src/chip/sod.js';
import { createTestPki } from '../../hw-sim/chip/card-files.js';
import { expiryOf } from '../../hw-sim/chip/sample-card.js';
import { createSimChip, type SimChip } from '../../hw-sim/chip/sim-chip.js';
import { createFrameReader, frame } from '../../hw-sim/chip/vpcd-link.js';
import { parseConsoleLine, runLine } from '../../hw-sim/console.js';
import { applyControl, BadControl, DEVICES_AS_NEW, parseControl, type ControlCall } from '../../hw-sim/control/table.js';
import { SAMPLE_IDENTITIES } from '../../hw-sim/identities.js';
import { encodeJpeg } from '../../hw-sim/image.js';
import { ScenarioSchema } from '../../hw-sim/scenario/schema.js';
import { panelAction } from '../../hw-sim/web/actions.js';
import type { KioskFeed } from '../../hw-sim/web/kiosk-feed.js';
import { findPersonalData } from '../../hw-sim/scenario/privacy.js';
import { needsChip } from '../../hw-sim/scenario/runner.js';
import type { Sim } from '../../hw-sim/sim.js';
import { until } from '../helpers/wait.js';

const consoleCalls = (line: string): readonly ControlCall[] => {
  const c = parseConsoleLine(line);
  if (c.kind !== 'control') throw new Error(`"${line}" is not a control action`);
  return c.calls;
};
const scenarioCalls = (step: unknown): readonly ControlCall[] => {
  const s = ScenarioSchema.parse({ steps: [{ chip: step }] }).steps[0]!;
  if (!('calls' in s)) throw new Error('not a device step');
  return s.calls;
};
const scenarioErrors = (step: unknown): string[] => {
  const r = ScenarioSchema.safeParse({ steps: [{ chip: step }] });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

/** A small JPEG of its own for each sample, so a test can tell whose portrait the chip holds. */
const PORTRAITS = new Map(
  SAMPLE_IDENTITIES.map((p, i) => {
    const data = new Uint8Array(48 * 64 * 4).map((_, j) => (j % 4 === 3 ? 255 : (i * 50 + j) & 0xff));
    return [p.idNumber, encodeJpeg({ width: 48, height: 64, data }, 80)] as const;
  }),
);
const PKI = createTestPki();

/** vpcd's side as pcscd runs it, with a transmit per card connection: the socket closing is the card leaving the field. */
async function fakeVpcd(t: ExecutionContext) {
  const conns: Array<{ transmit: Transmit; closed: () => boolean }> = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    const reader = createFrameReader();
    const frames: Uint8Array[] = [];
    let closed = false;
    s.on('data', (d: Buffer) => frames.push(...reader.push(d)));
    s.on('error', () => {});
    s.on('close', () => (closed = true));
    const transmit: Transmit = async (apdu) => {
      s.write(frame(apdu));
      await until(() => frames.length > 0 || closed, 5000, 'an answer from the card');
      if (frames.length === 0) throw new ChipError('card-removed', 'the card left the field');
      return frames.shift()!;
    };
    conns.push({ transmit, closed: () => closed });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    count: () => conns.length,
    async connection(n: number) {
      await until(() => conns.length > n, 5000, `card connection #${n + 1}`);
      return conns[n]!;
    },
  };
}

async function chipOnFakeVpcd(t: ExecutionContext): Promise<{ chip: SimChip; vpcd: Awaited<ReturnType<typeof fakeVpcd>> }> {
  const vpcd = await fakeVpcd(t);
  const chip = createSimChip({
    reader: { port: vpcd.port, name: 'Test PCD' },
    portraitOf: (id) => PORTRAITS.get(id) ?? null,
    pki: PKI,
    placeAgainMs: 50,
    retryMs: 20,
    settleMs: 20,
  });
  t.teardown(() => chip.close());
  return { chip, vpcd };
}

/** What kioskd reads: PACE with the CAN from the QR (the last 6 digits of the number), then the groups. */
const read = (transmit: Transmit, sample: number): Promise<ChipRead> =>
  readChip(transmit, {
    can: SAMPLE_IDENTITIES[sample - 1]!.idNumber.slice(-6),
    groups: ['COM', 'DG1', 'DG2', 'DG13', 'DG14', 'SOD'],
    now: Date.now,
    signal: AbortSignal.timeout(10_000),
  });
const paOf = (r: ChipRead) => passiveAuth(r.files, parseSod(r.files.get('SOD')!), [PKI.cscaDer]);

/** A Sim with only a chip reader: what the chip actions touch. */
const simWith = (chip: SimChip): Sim => ({ chip }) as unknown as Sim;

test('card on N, card off, card fault: one spelling in the console, the scenario step and the canonical action', (t) => {
  const same = (canonical: string, ...others: Array<readonly ControlCall[]>): void => {
    for (const o of others) t.deepEqual(o, consoleCalls(canonical), canonical);
  };
  same('chip.place 2', consoleCalls('card on 2'), scenarioCalls(2), scenarioCalls({ place: 2 }));
  same('chip.remove', consoleCalls('card off'), scenarioCalls('off'), scenarioCalls({ place: 'off' }));
  same('chip.fault wrong-can', consoleCalls('card fault wrong-can'), scenarioCalls({ fault: 'wrong-can' }));
  same('chip.fault fault=slow delayMs=300', consoleCalls('card fault slow 300'), scenarioCalls({ fault: 'slow', delay: '300ms' }));
  // Both in one step: the fault first, so the card placed has it.
  t.deepEqual(
    scenarioCalls({ place: 1, fault: 'removed-always' }).map((c) => c.action),
    ['chip.fault', 'chip.place'],
  );
});

test('a scenario file runs on a kiosk with the chip reader when a step uses it or it says chip: true, and only then', (t) => {
  const file = (doc: Record<string, unknown>) => ({ path: 'x.yaml', scenario: ScenarioSchema.parse(doc) });
  t.true(needsChip(file({ steps: [{ scan: 1 }, { chip: { place: 1 } }] })));
  t.true(needsChip(file({ chip: true, steps: [{ scan: 1 }] })), 'no card at all, on a kiosk that has the reader');
  t.false(needsChip(file({ steps: [{ scan: 1 }] })), 'no pcscd for the files that do not need one');
  t.false(needsChip(file({ chip: false, steps: [{ scan: 1 }] })));
  t.deepEqual(
    ScenarioSchema.safeParse({ chip: false, steps: [{ scan: 1 }, { chip: 1 }] }).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
    ['steps.1.chip: a chip step needs the chip reader: remove "chip: false"'],
  );
});

test('chip mistakes are refused with the right spelling', (t) => {
  t.throws(() => parseConsoleLine('card fault sideways'), { message: /^card on N \| card off \| card fault none\|wrong-can\|removed\|/ });
  t.throws(() => parseConsoleLine('card on 9'), { message: /no sample identity 9; there are 5/ });
  t.throws(() => parseConsoleLine('card fault wrong-can 300'), { message: /card fault/ });
  t.throws(() => parseControl('chip.fault', { fault: 'wrong-can', delayMs: 300 }), { message: /delayMs goes with fault=slow/ });
  t.deepEqual(scenarioErrors({ fault: 'corrupt-hash', delay: '1s' }), ['steps.0.chip.delay: delay goes with fault: slow']);
  t.deepEqual(scenarioErrors({}), ['steps.0.chip: say what to do: place (1–5 or off) and/or fault']);
  t.deepEqual(scenarioErrors({ place: 7 }), ['steps.0.chip.place: sample identities are 1–5']);
  t.deepEqual(scenarioErrors({ place: 'on' }), ['steps.0.chip.place: a sample identity 1–5, or off']);
  t.regex(scenarioErrors({ fault: 'bent' }).join(), /steps\.0\.chip\.fault: .*"wrong-can"/);
});

test('without a chip reader the chip actions say why; the reset between scenarios does nothing', async (t) => {
  const chip = createSimChip({ reader: null, off: 'not installed: pcscd (sudo apt-get install -y pcscd …)', portraitOf: () => null, pki: PKI });
  const devices = { sim: simWith(chip), ask: () => Promise.resolve('') };
  await t.throwsAsync(runLine('card on 1', devices), {
    message: 'no chip reader in this simulation: not installed: pcscd (sudo apt-get install -y pcscd …)',
  });
  await t.throwsAsync(runLine('card fault wrong-can', devices), { message: /no chip reader in this simulation/ });
  for (const c of DEVICES_AS_NEW.filter((c) => c.action.startsWith('chip.'))) await applyControl(devices, c);
  t.like(chip.status(), { available: false, card: null, fault: 'none', off: 'not installed: pcscd (sudo apt-get install -y pcscd …)' });
});

test("a sample's card on the reader is read by kioskd's reader code: PACE with the QR's last 6 digits, DG13 and DG2 are that sample's, chain-ok", async (t) => {
  const { chip, vpcd } = await chipOnFakeVpcd(t);
  t.is(await runLine('card on 2', { sim: simWith(chip), ask: () => Promise.resolve('') }), "hw-sim: chip: sample 2's card is on the reader");
  const conn = await vpcd.connection(0);
  let sent = 0;
  const r = await read((apdu, signal) => (sent++, conn.transmit(apdu, signal)), 2);
  t.is(r.protocol, 'pace');
  t.is(parseDg13(r.files.get('DG13')!).idNumber, SAMPLE_IDENTITIES[1]!.idNumber);
  t.deepEqual(parseDg2(r.files.get('DG2')!).image, PORTRAITS.get(SAMPLE_IDENTITIES[1]!.idNumber));
  t.is(paOf(r).pa, 'chain-ok');
  t.like(chip.status(), { available: true, reader: 'Test PCD 00 00', card: 2, link: 'connected', fault: 'none', removals: 0 });
  t.is(chip.status().answered, sent, 'the panel counts every command the card answered');
  await chip.remove();
  t.like(chip.status(), { card: null, link: 'none' });
});

test('the faults inside the card: wrong CAN refused at PACE, a corrupted DG2 hash fails PA, an unknown signer is hashes-ok, JPEG 2000 portrait', async (t) => {
  const { chip, vpcd } = await chipOnFakeVpcd(t);
  const readWith = async (fault: 'wrong-can' | 'corrupt-hash' | 'unknown-signer' | 'jpeg2000', n: number): Promise<ChipRead> => {
    await chip.setFault({ fault });
    await chip.place(1);
    return read((await vpcd.connection(n)).transmit, 1);
  };
  const wrong = await t.throwsAsync(readWith('wrong-can', 0), { instanceOf: ChipError });
  t.is(wrong.reason, 'wrong-can');
  t.like(paOf(await readWith('corrupt-hash', 1)), { pa: 'failed', mismatched: ['DG2'] });
  t.is(paOf(await readWith('unknown-signer', 2)).pa, 'hashes-ok');
  const j2k = await readWith('jpeg2000', 3);
  t.is(parseDg2(j2k.files.get('DG2')!).format, 'j2k');
  t.is(paOf(j2k).pa, 'chain-ok', 'the JPEG 2000 portrait is what the SOD signed');
});

test('removed: pulled away mid-read once, then put back and read; removed-always: pulled away every time', async (t) => {
  const { chip, vpcd } = await chipOnFakeVpcd(t);
  await chip.setFault({ fault: 'removed' });
  await chip.place(1);
  const first = await t.throwsAsync(read((await vpcd.connection(0)).transmit, 1), { instanceOf: ChipError });
  t.is(first.reason, 'card-removed');
  t.like(chip.status(), { card: 1, removals: 1 });
  const again = await read((await vpcd.connection(1)).transmit, 1);
  t.is(parseDg13(again.files.get('DG13')!).idNumber, SAMPLE_IDENTITIES[0]!.idNumber);
  t.like(chip.status(), { link: 'connected', removals: 1 });

  await chip.setFault({ fault: 'removed-always' });
  for (const n of [2, 3]) {
    const e = await t.throwsAsync(read((await vpcd.connection(n)).transmit, 1), { instanceOf: ChipError });
    t.is(e.reason, 'card-removed');
  }
  t.is(chip.status().removals, 2);
});

test('no-chip: nothing reaches the reader; a good card again once the fault is cleared; the reset leaves no card', async (t) => {
  const { chip, vpcd } = await chipOnFakeVpcd(t);
  await runLine('card fault no-chip', { sim: simWith(chip), ask: () => Promise.resolve('') });
  await chip.place(3);
  t.like(chip.status(), { card: 3, link: 'no-chip', fault: 'no-chip' });
  t.is(vpcd.count(), 0);
  await chip.setFault({ fault: 'none' });
  const conn = await vpcd.connection(0);
  const r = await read(conn.transmit, 3);
  t.is(parseDg13(r.files.get('DG13')!).idNumber, SAMPLE_IDENTITIES[2]!.idNumber);
  for (const c of DEVICES_AS_NEW.filter((c) => c.action.startsWith('chip.'))) await applyControl({ sim: simWith(chip) }, c);
  t.like(chip.status(), { card: null, link: 'none', fault: 'none' });
  await until(() => conn.closed(), 5000, 'the card off the reader');
});

test("the web panel's control API: POST /api/chip.fault and /api/chip.place act on the reader; a bad body is a 400 (BadControl)", async (t) => {
  const { chip, vpcd } = await chipOnFakeVpcd(t);
  const api = (name: string) =>
    panelAction(simWith(chip), {} as KioskFeed, { lastMove: null }, { advance: undefined, timeZone: 'Asia/Ho_Chi_Minh' }, name)!;
  t.is(await api('chip.fault')({ fault: 'slow', delayMs: 40 }), 'chip: fault slow: answers 40 ms late');
  t.is(await api('chip.place')({ sample: 4 }), "chip: sample 4's card is on the reader");
  await vpcd.connection(0);
  t.like(chip.status(), { card: 4, fault: 'slow', delayMs: 40 });
  await t.throwsAsync(api('chip.place')({ sample: '4' }), { instanceOf: BadControl, message: /chip\.place: sample/ });
  await t.throwsAsync(api('chip.fault')({ fault: 'melted' }), { instanceOf: BadControl });
  t.is(await api('chip.remove')({}), 'chip: the card was taken off the reader');
  t.like(chip.status(), { card: null, link: 'none' });
});

test('the card expires at the renewal age after its issue date (14, 25, 40, 60), never after 60', (t) => {
  t.is(expiryOf('01011990', '15042021'), '01/01/2030');
  t.is(expiryOf('31122001', '10102021'), '31/12/2026');
  t.is(expiryOf('05052015', '01072024'), '05/05/2029');
  t.is(expiryOf('07031945', '20062022'), undefined);
});

test("the privacy checks know what a chip adds: the MRZ's name and document number, DG13's invented fields", (t) => {
  const whats = (s: string) => findPersonalData(s).map((l) => l.what);
  t.deepEqual(whats('name NGUYEN<<THI<ANH<TUYET'), ["sample 1's name as in the MRZ"]);
  t.deepEqual(whats('doc 079045900002'.slice(0, 4) + '045900002 end'), ["sample 2's MRZ document number"]);
  t.true(whats('IDVNM1909000010001190900001<<<').includes('a chip MRZ (DG1)'));
  t.true(whats('from Xã Ngũ Lão, Hải Phòng').includes("a chip's DG13 placeOfOrigin"));
  t.deepEqual(whats('A001 printed in 4342 ms'), []);
});
