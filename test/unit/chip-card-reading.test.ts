// The check-in's chip read (src/chip/card-reading.ts) against hw-sim's virtual CCCD in-process
// (its files, its PACE and secure messaging, its dispatch) behind a fake reader port: every outcome
// of the integration spec, the patient prompts, the retries, and what is wiped. No pcscd needed.
import test, { type ExecutionContext } from 'ava';
import { ChipError } from '../../src/chip/apdu.js';
import { chipTransmit, readCard, type CardReadingOptions, type ChipProgress, type ChipReading } from '../../src/chip/card-reading.js';
import { ChipLinkError, type CardLink } from '../../src/hal/chip/port.js';
import { systemClock } from '../../src/util/clock.js';
import { fakeReader, HOLDER, HOLDER_SECRETS, PKI, PORTRAIT, virtualCard, type FakeReader } from '../helpers/chip-rig.js';

const clock = systemClock();
const OPTS: CardReadingOptions = { placeTimeoutMs: 5000, readTimeoutMs: 20_000, retries: 2, anchors: [PKI.cscaDer] };

/** Reads HOLDER's QR number on `reader`; `place` runs once the read waits (or as a prompt arrives). */
async function read(
  reader: FakeReader,
  o: {
    opts?: Partial<CardReadingOptions>;
    onProgress?: (p: ChipProgress) => void;
    signal?: AbortSignal;
    card?: { idNumber: string } | { can: string };
  } = {},
): Promise<{ r: ChipReading; progress: string[] }> {
  const progress: string[] = [];
  const r = await readCard(
    {
      reader,
      card: o.card ?? { idNumber: HOLDER.idNumber },
      clock,
      signal: o.signal ?? new AbortController().signal,
      onProgress: (p) => {
        progress.push(`${p.step}#${p.attempt}`);
        o.onProgress?.(p);
      },
    },
    { ...OPTS, ...o.opts },
  );
  return { r, progress };
}

/** Nothing read from the card in what is logged, evented and audited. */
function nothingPersonal(t: ExecutionContext, r: ChipReading): void {
  const text = JSON.stringify(r.outcome);
  for (const secret of HOLDER_SECRETS) t.false(text.includes(secret), `"${secret}" in the outcome`);
}

const placeOnPrompt =
  (reader: FakeReader, card = virtualCard().card) =>
  (p: ChipProgress) => {
    if (p.step === 'waiting-card') reader.place(card);
  };

test('the card placed after the QR scan: PACE, every group, chain-ok with the test CSCA, and DG2 is the JPEG portrait', async (t) => {
  const reader = fakeReader();
  const { r, progress } = await read(reader, { onProgress: placeOnPrompt(reader) });
  const o = r.outcome;
  t.like(o, { kind: 'read', protocol: 'pace', pa: 'chain-ok', attempts: 1 });
  t.deepEqual(progress, ['waiting-card#1', 'reading#1']);
  t.deepEqual([...o.groups].sort(), ['COM', 'CardAccess', 'DG1', 'DG13', 'DG14', 'DG2', 'SOD']);
  t.deepEqual(o.refused, [{ group: 'DG15', why: 'not-found' }]);
  t.regex(o.paDetail!, /issued by trust anchor .*Test CSCA/);
  t.like(o.portrait, { format: 'jpeg', bytes: PORTRAIT.length, width: 48, height: 60 });
  const steps = o.timings.map((x) => x.step);
  for (const s of ['wait-card', 'card-access', 'pace', 'select-application', 'read DG2', 'read SOD', 'verify']) t.true(steps.includes(s), s);
  t.is(o.apdus, reader.apdus());
  t.deepEqual(reader.links(), { opened: 1, released: 1 });
  const portrait = r.takePortrait();
  t.deepEqual(portrait, PORTRAIT, 'byte for byte the JPEG the card was made with');
  t.is(r.takePortrait(), null, 'handed over once');
  t.is(r.holder(), null, 'the daemon keeps no parsed group');
  nothingPersonal(t, r);
});

test('a card already on the reader: no "place the card" prompt; without trust anchors the chip is hashes-ok at best', async (t) => {
  const reader = fakeReader();
  reader.place(virtualCard().card);
  const { r, progress } = await read(reader, { opts: { anchors: [] } });
  t.like(r.outcome, { kind: 'read', pa: 'hashes-ok' });
  t.regex(r.outcome.paDetail!, /no trust anchors configured/);
  t.deepEqual(progress, ['reading#1']);
});

test('a document signer the trust anchors did not issue: hashes-ok, never chain-ok, and the portrait is still used', async (t) => {
  const reader = fakeReader();
  reader.place(virtualCard({ faults: { unknownSigner: true } }).card);
  const { r } = await read(reader);
  t.like(r.outcome, { kind: 'read', pa: 'hashes-ok' });
  t.regex(r.outcome.paDetail!, /not issued by any of 1 trust anchor/);
});

test('no card placed within placeTimeoutMs: fall back to the next source, nothing sent to any card', async (t) => {
  const reader = fakeReader();
  const { r, progress } = await read(reader, { opts: { placeTimeoutMs: 150 } });
  t.like(r.outcome, { kind: 'fallback', code: 'no-card', reason: 'no card was placed on the reader within 150 ms', attempts: 1, apdus: 0 });
  t.deepEqual(progress, ['waiting-card#1']);
  t.is(r.takePortrait(), null);
});

test('the reader is not ready (no pcscd, no reader, no binding): fall back at once with its reason', async (t) => {
  const reader = fakeReader();
  reader.setState('no-service', 'no PC/SC service (pcscd: not running)');
  const { r, progress } = await read(reader);
  t.like(r.outcome, { kind: 'fallback', code: 'reader-not-ready', reason: 'the chip reader is not ready: no PC/SC service (pcscd: not running)' });
  t.deepEqual(progress, []);
  t.deepEqual(reader.links(), { opened: 0, released: 0 });
});

test('a chip that offers no PACE this reader implements, and no BAC key (the QR has no expiry): fall back', async (t) => {
  const reader = fakeReader();
  // The Vietnamese EF.CardAccess with PACE parameter 12 instead of 13 (brainpoolP256r1).
  const access = Buffer.from('3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010c', 'hex');
  reader.place(virtualCard({ cardAccess: new Uint8Array(access) }).card);
  const { r } = await read(reader);
  t.like(r.outcome, { kind: 'fallback', code: 'unsupported', protocol: null });
  t.regex(r.outcome.kind === 'fallback' ? r.outcome.reason : '', /no supported PACE and no MRZ key/);
});

test('DG2 in JPEG 2000: fall back with a clear reason; the image is not kept', async (t) => {
  const reader = fakeReader();
  reader.place(virtualCard({ faults: { jpeg2000: true } }).card);
  const { r } = await read(reader);
  t.like(r.outcome, { kind: 'fallback', code: 'jpeg2000', pa: 'chain-ok', portrait: { format: 'j2k' } });
  t.regex(r.outcome.kind === 'fallback' ? r.outcome.reason : '', /JPEG 2000 \(j2k\), which this kiosk cannot decode/);
  t.is(r.takePortrait(), null);
});

test('wrong CAN (the chip refuses the QR number): the counter, and no group is read', async (t) => {
  const reader = fakeReader();
  reader.place(virtualCard({ can: '123456' }).card);
  const { r } = await read(reader);
  t.like(r.outcome, { kind: 'counter', code: 'wrong-can', protocol: null, attempts: 1 });
  t.regex(r.outcome.kind === 'counter' ? r.outcome.reason : '', /refused the access number/);
  t.deepEqual(r.outcome.groups, []);
  nothingPersonal(t, r);
});

test("another card whose last 6 digits are the QR's: PACE passes, but DG13's number differs: the counter, masked", async (t) => {
  const reader = fakeReader();
  reader.place(virtualCard({ identity: { idNumber: '001045900002' } }).card);
  const { r } = await read(reader);
  t.like(r.outcome, { kind: 'counter', code: 'number-mismatch', pa: 'chain-ok' });
  const reason = r.outcome.kind === 'counter' ? r.outcome.reason : '';
  t.regex(reason, /DG13 \(\*{8}0002\) is not the QR's \(\*{8}0002\)/);
  t.false(reason.includes('001045900002'));
  t.is(r.takePortrait(), null, "another person's portrait is never a reference");
  nothingPersonal(t, r);
});

test('passive authentication fails (a DG2 whose hash is not the signed one): the counter', async (t) => {
  const reader = fakeReader();
  reader.place(virtualCard({ faults: { corruptHashOf: 'DG2' } }).card);
  const { r } = await read(reader);
  t.like(r.outcome, { kind: 'counter', code: 'pa-failed', pa: 'failed' });
  t.regex(r.outcome.kind === 'counter' ? r.outcome.reason : '', /hash mismatch: DG2/);
  t.is(r.takePortrait(), null);
});

test('the card pulled away mid-read and put back: "hold the card still", read again, and the portrait is used', async (t) => {
  const reader = fakeReader();
  const { card } = virtualCard();
  reader.place(card, { removeAfterApdus: 14 });
  const { r, progress } = await read(reader, { onProgress: (p) => p.step === 'retry' && reader.place(card) });
  t.like(r.outcome, { kind: 'read', attempts: 2, pa: 'chain-ok' });
  t.deepEqual(progress, ['reading#1', 'retry#2', 'reading#2']);
  t.true(r.outcome.timings.some((x) => x.step === 'read (failed: card-removed)' && x.attempt === 1));
  t.deepEqual(r.takePortrait(), PORTRAIT);
  t.deepEqual(reader.links(), { opened: 2, released: 2 });
});

test('pulled away on every attempt: after the retries, the counter', async (t) => {
  const reader = fakeReader();
  const { card } = virtualCard();
  reader.place(card, { removeAfterApdus: 10 });
  const { r, progress } = await read(reader, {
    opts: { retries: 1 },
    onProgress: (p) => p.step === 'retry' && reader.place(card, { removeAfterApdus: 10 }),
  });
  t.like(r.outcome, { kind: 'counter', code: 'card-removed', reason: 'the card was pulled away mid-read 2 times', attempts: 2 });
  t.deepEqual(progress, ['reading#1', 'retry#2', 'reading#2']);
});

test('pulled away and not put back within placeTimeoutMs: the counter', async (t) => {
  const reader = fakeReader();
  reader.place(virtualCard().card, { removeAfterApdus: 12 });
  const { r, progress } = await read(reader, { opts: { placeTimeoutMs: 150 } });
  t.like(r.outcome, { kind: 'counter', code: 'card-removed', attempts: 2 });
  t.regex(r.outcome.kind === 'counter' ? r.outcome.reason : '', /not placed back within 150 ms/);
  t.deepEqual(progress, ['reading#1', 'retry#2']);
});

test('a card that stops answering: the read is cut at readTimeoutMs and the kiosk falls back', async (t) => {
  const reader = fakeReader();
  reader.place(virtualCard().card, { stallAfterApdus: 9 });
  const { r } = await read(reader, { opts: { readTimeoutMs: 200 } });
  t.like(r.outcome, { kind: 'fallback', code: 'timeout', reason: 'the chip read took over 200 ms' });
  t.deepEqual(reader.links(), { opened: 1, released: 1 });
});

test('the check-in ends while the kiosk waits for the card: the read stops; an outcome nobody took is wiped', async (t) => {
  const reader = fakeReader();
  const ended = new AbortController();
  const waiting = read(reader, { signal: ended.signal, onProgress: () => ended.abort() });
  const { r } = await waiting;
  t.like(r.outcome, { kind: 'fallback', code: 'cancelled' });
  // A finished read whose check-in then ends: the portrait goes with it.
  const later = new AbortController();
  reader.place(virtualCard().card);
  const done = await read(reader, { signal: later.signal });
  t.is(done.r.outcome.kind, 'read');
  later.abort();
  t.is(done.r.takePortrait(), null);
});

test('a bare CAN (kioskd card read-chip --can): nothing to compare the number with; the CLI may keep the parsed groups', async (t) => {
  const reader = fakeReader();
  reader.place(virtualCard().card);
  const { r } = await read(reader, { card: { can: HOLDER.idNumber.slice(-6) }, opts: { keepHolder: true } });
  t.like(r.outcome, { kind: 'read' });
  t.like(r.holder(), { dg13: { idNumber: HOLDER.idNumber, fullName: HOLDER.fullName }, dg1: { idNumber: HOLDER.idNumber } });
  r.wipe();
  t.is(r.holder(), null);
  t.is(r.takePortrait(), null);
});

test("the port's link errors become the chip reader's own reasons", async (t) => {
  const failing = (reason: ChipLinkError['reason']): CardLink => ({
    atr: new Uint8Array(0),
    transmit: () => Promise.reject(new ChipLinkError(reason, `pcsc: ${reason}`)),
    release: async () => {},
  });
  const sig = new AbortController().signal;
  for (const [link, chip] of [
    ['card-removed', 'card-removed'],
    ['aborted', 'aborted'],
    ['timeout', 'io'],
    ['no-service', 'io'],
    ['io', 'io'],
  ] as const) {
    const e = await t.throwsAsync(chipTransmit(failing(link))(Uint8Array.of(0, 0xa4, 0, 0), sig), { instanceOf: ChipError });
    t.is(e?.reason, chip, link);
    t.is(e?.message, `pcsc: ${link}`);
  }
});
