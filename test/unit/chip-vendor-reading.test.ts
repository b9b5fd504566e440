// The check-in's chip read on a reader whose vendor service reads the chip itself (the HN-212;
// src/chip/vendor-attempt.ts through readCard), behind a fake of the adapter: the service's raw
// groups are judged as a PC/SC read is, and each way the wait can end has its outcome. Also the
// HN-212 as the kiosk's chip port (src/hal/chip/hal-port.ts).
import test from 'ava';
import { pino } from 'pino';
import { ChipError } from '../../src/chip/apdu.js';
import { readCard, type CardReadingOptions, type ChipReading } from '../../src/chip/card-reading.js';
import type { FileName } from '../../src/chip/read-chip.js';
import { createHn212ChipPort } from '../../src/hal/chip/hal-port.js';
import { DEFAULT_HN212_CONFIG, Hn212TimeoutError, type Hn212ChipReader, type Hn212State } from '../../src/hal/chip/hn212.js';
import { systemClock } from '../../src/util/clock.js';
import { HOLDER, HOLDER_SECRETS, PKI, PORTRAIT, virtualCard } from '../helpers/chip-rig.js';

const clock = systemClock();
const OPTS: CardReadingOptions = { placeTimeoutMs: 5000, readTimeoutMs: 20_000, retries: 2, anchors: [PKI.cscaDer] };

/** What the service gives of a card: DG2, DG13, DG14 and EF.SOD (hn212-events.ts), DG15 absent. */
function serviceFiles(spec: Parameters<typeof virtualCard>[0] = {}): Map<FileName, Uint8Array> {
  const { files } = virtualCard(spec);
  return new Map([...files].filter(([name]) => ['DG2', 'DG13', 'DG14', 'SOD'].includes(name)));
}

/**
 * One answer of the service to a readFiles: the groups (after a card was placed), a failure, a
 * timeout, the connection dropping, or nothing until aborted.
 */
type Step =
  | { readonly files: Map<FileName, Uint8Array> }
  | { readonly error: ChipError }
  | { readonly timeout: 'card-seen' | 'no-card' }
  | { readonly drop: true }
  | { readonly hang: true };

function fakeVendor(steps: Step[], o: { state?: Hn212State; placed?: boolean } = {}) {
  const cards = new Set<(ev: { present: boolean; reader: string }) => void>();
  let present = o.placed === true;
  let state: Hn212State = o.state ?? 'ready';
  const announce = (now: boolean): void => {
    present = now;
    for (const l of [...cards]) l({ present: now, reader: 'HN-212' });
  };
  const asked: number[] = [];
  const reader: Hn212ChipReader = {
    driver: 'hn212',
    state: () => state,
    reason: () => (state === 'no-service' ? 'cannot reach the HN-212 service' : 'connected'),
    onStateChange: () => () => {},
    onCard(l) {
      cards.add(l);
      if (present) queueMicrotask(() => cards.has(l) && present && l({ present: true, reader: 'HN-212' }));
      return () => cards.delete(l);
    },
    async readFiles(signal, { timeoutMs }) {
      asked.push(timeoutMs);
      const step = steps.shift() ?? { hang: true };
      await new Promise((r) => setImmediate(r));
      if ('hang' in step)
        return new Promise((_, reject) => {
          const abort = (): void => reject(new ChipError('aborted', 'the HN-212 read was aborted'));
          if (signal.aborted) abort();
          else signal.addEventListener('abort', abort, { once: true });
        });
      if ('timeout' in step) throw new Hn212TimeoutError(step.timeout === 'card-seen', `no result within ${timeoutMs} ms`);
      if ('drop' in step) {
        state = 'no-service';
        throw new ChipError('io', 'the connection to the HN-212 service dropped before the card was read');
      }
      if (!present) announce(true); // the service's "new card" comes before its result
      announce(false); // the result is used
      if ('error' in step) throw step.error;
      return { protocol: 'vendor', files: step.files, refused: new Map([['DG15', 'not-found']]), timings: [{ step: 'hn212-wait', ms: 1, apdus: 0 }] };
    },
    close: async () => {},
  };
  return { reader, asked };
}

async function read(reader: Hn212ChipReader, o: { signal?: AbortSignal; opts?: Partial<CardReadingOptions>; onProgress?: () => void } = {}) {
  const progress: string[] = [];
  const r: ChipReading = await readCard(
    {
      reader,
      card: { idNumber: HOLDER.idNumber },
      clock,
      signal: o.signal ?? new AbortController().signal,
      onProgress: (p) => {
        progress.push(`${p.step}#${p.attempt}`);
        o.onProgress?.();
      },
    },
    { ...OPTS, ...o.opts },
  );
  return { r, progress };
}

test("the service's groups: DG2 is the portrait, passive authentication up to the test CSCA, no command of the kiosk's", async (t) => {
  const files = serviceFiles();
  const { reader, asked } = fakeVendor([{ files }]);
  const { r, progress } = await read(reader);
  t.like(r.outcome, { kind: 'read', protocol: 'vendor', pa: 'chain-ok', attempts: 1, apdus: 0 });
  t.deepEqual([...r.outcome.groups].sort(), ['DG13', 'DG14', 'DG2', 'SOD']);
  t.deepEqual(r.outcome.refused, [{ group: 'DG15', why: 'not-found' }]);
  t.deepEqual(progress, ['waiting-card#1', 'reading#1']);
  t.deepEqual(asked, [OPTS.placeTimeoutMs + OPTS.readTimeoutMs], 'one wait for the card and its read');
  t.deepEqual(r.takePortrait(), PORTRAIT);
  t.true(
    [...files.values()].every((b) => b.every((x) => x === 0)),
    'the raw groups are wiped once judged',
  );
  const text = JSON.stringify(r.outcome);
  for (const s of HOLDER_SECRETS) t.false(text.includes(s), `"${s}" in the outcome`);
});

test('a read already waiting (the card was placed before the QR scan): no "place the card" prompt', async (t) => {
  const { reader } = fakeVendor([{ files: serviceFiles() }], { placed: true });
  const { r, progress } = await read(reader);
  t.like(r.outcome, { kind: 'read', protocol: 'vendor' });
  t.deepEqual(progress, ['reading#1']);
});

test('no card within the wait: the next portrait source; a card placed but no result: timeout', async (t) => {
  const none = await read(fakeVendor([{ timeout: 'no-card' }]).reader, { opts: { placeTimeoutMs: 1000, readTimeoutMs: 2000 } });
  t.like(none.r.outcome, { kind: 'fallback', code: 'no-card', reason: 'no card was placed on the reader within 3000 ms', protocol: null });
  t.deepEqual(none.progress, ['waiting-card#1']);
  const slow = await read(fakeVendor([{ timeout: 'card-seen' }]).reader);
  t.like(slow.r.outcome, { kind: 'fallback', code: 'timeout' });
});

test('the card pulled away mid-read: read again; not placed back: the counter', async (t) => {
  const removed = new ChipError('card-removed', 'the HN-212 service: the card was removed while reading');
  const again = await read(fakeVendor([{ error: removed }, { files: serviceFiles() }]).reader);
  t.like(again.r.outcome, { kind: 'read', attempts: 2, pa: 'chain-ok' });
  t.deepEqual(again.progress, ['waiting-card#1', 'reading#1', 'retry#2', 'reading#2']);
  t.true(again.r.outcome.timings.some((x) => x.step === 'hn212 (failed: card-removed)' && x.attempt === 1));
  const gone = await read(fakeVendor([{ error: removed }, { timeout: 'no-card' }]).reader);
  t.like(gone.r.outcome, { kind: 'counter', code: 'card-removed', attempts: 2 });
  const always = await read(fakeVendor([{ error: removed }, { error: removed }]).reader, { opts: { retries: 1 } });
  t.like(always.r.outcome, { kind: 'counter', code: 'card-removed', reason: 'the card was pulled away mid-read 2 times' });
});

test('a malformed or oversize message: unreadable, and nothing is tried again', async (t) => {
  for (const reason of ['malformed', 'too-large'] as const) {
    const { reader, asked } = fakeVendor([{ error: new ChipError(reason, 'dg2 is not base64') }, { files: serviceFiles() }]);
    const { r } = await read(reader);
    t.like(r.outcome, { kind: 'fallback', code: 'unreadable', reason: `dg2 is not base64 (${reason})`, attempts: 1 });
    t.is(asked.length, 1);
  }
});

test("the service's groups still answer for themselves: a DG2 not the signed one sends the patient to the counter", async (t) => {
  const { r } = await read(fakeVendor([{ files: serviceFiles({ faults: { corruptHashOf: 'DG2' } }) }]).reader);
  t.like(r.outcome, { kind: 'counter', code: 'pa-failed', pa: 'failed', protocol: 'vendor' });
  t.is(r.takePortrait(), null);
});

test('the service is gone (before or during the wait): reader-not-ready; the check-in ends: cancelled', async (t) => {
  const before = await read(fakeVendor([], { state: 'no-service' }).reader);
  t.like(before.r.outcome, { kind: 'fallback', code: 'reader-not-ready', reason: 'the chip reader is not ready: cannot reach the HN-212 service' });
  const during = await read(fakeVendor([{ drop: true }, { files: serviceFiles() }]).reader);
  t.like(during.r.outcome, {
    kind: 'fallback',
    code: 'reader-not-ready',
    reason: 'the chip reader is not ready: cannot reach the HN-212 service',
    attempts: 1,
  });
  const ended = new AbortController();
  const { r } = await read(fakeVendor([{ hang: true }]).reader, { signal: ended.signal, onProgress: () => setImmediate(() => ended.abort()) });
  t.like(r.outcome, { kind: 'fallback', code: 'cancelled', attempts: 1 });
});

test('the HN-212 as the chip port: driver "hn212", not ready until its driver opens, then its reads', async (t) => {
  const { reader } = fakeVendor([{ files: serviceFiles() }]);
  const port = createHn212ChipPort(DEFAULT_HN212_CONFIG, { clock, log: pino({ level: 'silent' }), open: async () => reader });
  t.is(port.driver, 'hn212');
  t.is(port.reader.driver, 'hn212');
  t.is(port.reader.state(), 'unavailable');
  const early = await port.reader.readFiles(new AbortController().signal, { timeoutMs: 1000 }).then(
    () => null,
    (e: unknown) => e,
  );
  t.true(early instanceof ChipError && early.reason === 'io');
  await port.open(new AbortController().signal);
  t.deepEqual(port.state(), { kind: 'ready' });
  const { r } = await read(port.reader);
  t.like(r.outcome, { kind: 'read', protocol: 'vendor', pa: 'chain-ok' });
  await port.close();
});
