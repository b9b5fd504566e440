// The chip read of one check-in (issue 18): wait for the card on the reader, connect, PACE with the
// CAN (the last 6 digits of the QR's number), read COM, DG1, DG2, DG13, DG14, DG15 and EF.SOD, retry
// a card pulled away mid-read, then judge the result (card-verdict.ts). A reader whose vendor service
// reads the chip itself (the HN-212) gives the groups instead (vendor-attempt.ts). Never rejects:
// every end is an outcome. The outcome itself holds no personal data (it is logged, evented and
// audited); the portrait and the parsed groups sit behind takePortrait/holder and are wiped by wipe().
import type { Hn212ChipReader } from '../hal/chip/hn212.js';
import type { CardLink, ChipReaderPort } from '../hal/chip/port.js';
import { ChipLinkError } from '../hal/chip/port.js';
import type { Clock } from '../util/clock.js';
import { ChipError, type Transmit } from './apdu.js';
import { counter, fallback, judgeRead, type Holder, type Judged, type Verdict } from './card-verdict.js';
import type { ImageFormat } from './dg2.js';
import type { PaStatus } from './passive-auth.js';
import { readChip, type ChipRead, type FileName, type Refusal } from './read-chip.js';
import { vendorAttempt } from './vendor-attempt.js';

export { ALERTING_CODES, type ChipCounterCode, type ChipFallbackCode } from './card-verdict.js';

/** What the check-in reads (the integration spec): DG3 (fingerprints) is locked and DG11 absent on CCCDs. */
export const CHIP_GROUPS: readonly FileName[] = ['COM', 'DG1', 'DG2', 'DG13', 'DG14', 'DG15', 'SOD'];

/** For the patient's screen: waiting-card "Đặt thẻ lên đầu đọc", retry "Giữ yên thẻ". */
export type ChipProgress = { readonly step: 'waiting-card' | 'reading' | 'retry'; readonly attempt: number };

export interface ChipTiming {
  readonly step: string;
  readonly ms: number;
  readonly apdus: number;
  readonly attempt: number;
}

/** Facts about the read, safe for logs, MQTT and the audit: no content of any group. */
export interface ChipFacts {
  readonly protocol: ChipRead['protocol'] | null;
  readonly pa: PaStatus | null;
  readonly paDetail: string | null;
  readonly signer: { readonly issuer: string; readonly serial: string } | null;
  /** Files the chip gave. */
  readonly groups: readonly FileName[];
  readonly refused: readonly { readonly group: FileName; readonly why: Refusal }[];
  readonly timings: readonly ChipTiming[];
  readonly attempts: number;
  readonly apdus: number;
  /** From the start to the outcome. */
  readonly ms: number;
  /** Groups read but not understood. */
  readonly notes: readonly string[];
  /** The portrait's format and size, not the image. */
  readonly portrait: { readonly format: ImageFormat; readonly bytes: number; readonly width?: number; readonly height?: number } | null;
}

/** A read always says how the chip was opened. */
export type ChipOutcome =
  ({ readonly kind: 'read' } & ChipFacts & { readonly protocol: ChipRead['protocol'] }) | (Exclude<Verdict, { kind: 'read' }> & ChipFacts);

export interface ChipReading {
  readonly outcome: ChipOutcome;
  /** The portrait (JPEG for a 'read' outcome), handed over once: the caller wipes it when done. Null after wipe or when none. */
  takePortrait(): Uint8Array | null;
  /** The parsed DG1 and DG13, only when asked for with keepHolder (kioskd card read-chip). */
  holder(): Holder | null;
  /** Zero-fills what is left (the portrait not taken) and forgets the groups. Idempotent. */
  wipe(): void;
}

export interface CardReadingInput {
  /** A PC/SC reader (connect), or a vendor's that reads the chip itself (readFiles). */
  readonly reader: ChipReaderPort | Hn212ChipReader;
  /** The QR's 12-digit number (CAN = its last 6; DG13 must hold it), or a bare CAN (nothing to compare). */
  readonly card: { readonly idNumber: string } | { readonly can: string };
  readonly clock: Clock;
  /** The check-in's lifetime: aborting it ends the wait or the read, and wipes an outcome not yet taken. */
  readonly signal: AbortSignal;
  readonly onProgress?: (p: ChipProgress) => void;
}

export interface CardReadingOptions {
  readonly placeTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** Reads again after the card was pulled away, this many times. */
  readonly retries: number;
  /** CSCA certificates (DER) for passive authentication. */
  readonly anchors: readonly Uint8Array[];
  readonly groups?: readonly FileName[];
  /** Keep the parsed DG1/DG13 and any portrait format (the CLI); the daemon never does. */
  readonly keepHolder?: boolean;
}

/** ChipLinkError (the port's) → ChipError (the protocol's), so the reader code sees its own reasons. */
export function chipTransmit(link: CardLink): Transmit {
  return (apdu, signal) =>
    link.transmit(apdu, signal).catch((e: unknown) => {
      throw e instanceof ChipLinkError ? new ChipError(e.reason === 'card-removed' || e.reason === 'aborted' ? e.reason : 'io', e.message) : e;
    });
}

/** A child of `parent` that also aborts after `ms` on `clock`. */
function deadline(parent: AbortSignal, clock: Clock, ms: number): { signal: AbortSignal; timedOut: () => boolean; dispose: () => void } {
  const ac = new AbortController();
  let fired = false;
  const onAbort = (): void => ac.abort();
  const timer = clock.setTimeout(() => {
    fired = true;
    ac.abort();
  }, ms);
  parent.addEventListener('abort', onAbort, { once: true });
  if (parent.aborted) ac.abort();
  return {
    signal: ac.signal,
    timedOut: () => fired && !parent.aborted,
    dispose: () => {
      clock.clearTimeout(timer);
      parent.removeEventListener('abort', onAbort);
    },
  };
}

/** The run of one check-in's read: counters and the timings of every attempt. */
export interface Run {
  readonly input: CardReadingInput;
  readonly opts: CardReadingOptions;
  readonly can: string;
  readonly timings: ChipTiming[];
  apdus: number;
  attempt: number;
}

export type Attempt = { readonly read: ChipRead } | { readonly end: Verdict } | { readonly retry: 'card-removed' | 'io'; readonly message: string };

const LINK_DOWN = new Set(['no-service', 'no-reader', 'unavailable']);
const RETRYABLE = new Set(['card-removed', 'sm-lost', 'io']);
const CANCELLED = fallback('cancelled', 'the check-in ended before the chip was read');
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Waits for a card (placeTimeoutMs) and connects; a verdict when there is none to read. */
async function connect(
  run: Run,
  reader: ChipReaderPort,
  present: () => boolean,
): Promise<{ link: CardLink } | { end: Verdict } | { retry: 'card-removed' | 'io'; message: string }> {
  const { clock, signal, onProgress } = run.input;
  const n = run.attempt;
  if (n > 1) onProgress?.({ step: 'retry', attempt: n });
  else if (!present()) onProgress?.({ step: 'waiting-card', attempt: n });
  const wait = deadline(signal, clock, run.opts.placeTimeoutMs);
  const t0 = clock.now();
  try {
    const link = await reader.connect(wait.signal);
    run.timings.push({ step: 'wait-card', ms: clock.now() - t0, apdus: 0, attempt: n });
    return { link };
  } catch (e) {
    if (signal.aborted) return { end: CANCELLED };
    if (wait.timedOut()) {
      const ms = run.opts.placeTimeoutMs;
      return {
        end:
          n === 1
            ? fallback('no-card', `no card was placed on the reader within ${ms} ms`)
            : counter('card-removed', `the card was pulled away mid-read and not placed back within ${ms} ms`),
      };
    }
    const reason = e instanceof ChipLinkError ? e.reason : 'io';
    if (LINK_DOWN.has(reason)) return { end: fallback('reader-not-ready', `the chip reader is not ready: ${message(e)}`) };
    return { retry: reason === 'card-removed' ? 'card-removed' : 'io', message: message(e) };
  } finally {
    wait.dispose();
  }
}

/** What a failed readChip means: an end, or another attempt. */
function readFailure(run: Run, e: unknown, timedOut: boolean): Attempt {
  if (run.input.signal.aborted) return { end: CANCELLED };
  if (!(e instanceof ChipError)) return { end: fallback('read-failed', `the chip read failed: ${message(e)}`) };
  if (e.reason === 'aborted') return { end: timedOut ? fallback('timeout', `the chip read took over ${run.opts.readTimeoutMs} ms`) : CANCELLED };
  if (e.reason === 'wrong-can')
    return { end: counter('wrong-can', `the chip refused the access number from the QR (its last 6 digits): ${e.message}`) };
  if (RETRYABLE.has(e.reason)) return { retry: e.reason === 'card-removed' ? 'card-removed' : 'io', message: e.message };
  if (e.reason === 'unsupported') return { end: fallback('unsupported', e.message) };
  return { end: fallback('unreadable', `${e.message} (${e.reason})`) };
}

/** One attempt: the card, then the whole read within readTimeoutMs. */
async function attempt(run: Run, present: () => boolean): Promise<Attempt> {
  const { reader, clock, signal, onProgress } = run.input;
  if ('readFiles' in reader) return vendorAttempt(run, reader, present, (e) => readFailure(run, e, false));
  const c = await connect(run, reader, present);
  if (!('link' in c)) return c;
  onProgress?.({ step: 'reading', attempt: run.attempt });
  const limit = deadline(signal, clock, run.opts.readTimeoutMs);
  const t0 = clock.now();
  const a0 = run.apdus;
  const counted = chipTransmit(c.link);
  const transmit: Transmit = (apdu, s) => {
    run.apdus += 1;
    return counted(apdu, s);
  };
  try {
    const read = await readChip(transmit, { can: run.can, groups: run.opts.groups ?? CHIP_GROUPS, now: () => clock.now(), signal: limit.signal });
    run.timings.push(...read.timings.map((t) => ({ ...t, attempt: run.attempt })));
    return { read };
  } catch (e) {
    const failed = readFailure(run, e, limit.timedOut());
    const why = 'retry' in failed ? failed.retry : 'end' in failed && failed.end.kind !== 'read' ? failed.end.code : 'read';
    run.timings.push({ step: `read (failed: ${why})`, ms: clock.now() - t0, apdus: run.apdus - a0, attempt: run.attempt });
    return failed;
  } finally {
    limit.dispose();
    await c.link.release();
  }
}

/** Card presence as the reader announces it; a card already there is announced at once (soon after listening). */
async function watchPresence(reader: CardReadingInput['reader']): Promise<{ present: () => boolean; stop: () => void }> {
  let present = false;
  const stop = reader.onCard((ev) => {
    present = ev.present;
  });
  await new Promise<void>((r) => setImmediate(r));
  return { present: () => present, stop };
}

/** Reads the card; resolves with the outcome, never rejects. */
export async function readCard(input: CardReadingInput, opts: CardReadingOptions): Promise<ChipReading> {
  const { reader, clock, signal } = input;
  const started = clock.now();
  const run: Run = { input, opts, can: 'can' in input.card ? input.card.can : input.card.idNumber.slice(-6), timings: [], apdus: 0, attempt: 0 };
  const finish = (verdict: Verdict, read: ChipRead | null, judged: Judged | null): ChipReading =>
    reading(verdict, facts(run, clock.now() - started, read, judged), judged, signal, opts.keepHolder === true);
  if (signal.aborted) return finish(CANCELLED, null, null);
  if (reader.state() !== 'ready') return finish(fallback('reader-not-ready', `the chip reader is not ready: ${reader.reason()}`), null, null);
  const presence = await watchPresence(reader);
  try {
    for (;;) {
      run.attempt += 1;
      const a = await attempt(run, presence.present);
      if ('end' in a) return finish(a.end, null, null);
      if ('retry' in a) {
        if (run.attempt <= opts.retries) continue;
        const times = run.attempt === 1 ? 'once' : `${run.attempt} times`;
        return finish(
          a.retry === 'card-removed'
            ? counter('card-removed', `the card was pulled away mid-read ${times}`)
            : fallback('read-failed', `the chip read failed ${times}: ${a.message}`),
          null,
          null,
        );
      }
      const t0 = clock.now();
      const judged = judgeRead(a.read, {
        expectedNumber: 'idNumber' in input.card ? input.card.idNumber : null,
        anchors: opts.anchors,
        keepHolder: opts.keepHolder === true,
      });
      run.timings.push({ step: 'verify', ms: clock.now() - t0, apdus: 0, attempt: run.attempt });
      // The raw groups have served: only the portrait copy (and, for the CLI, the parsed groups) remain.
      for (const bytes of a.read.files.values()) bytes.fill(0);
      return finish(judged.verdict, a.read, judged);
    }
  } catch (e) {
    return finish(fallback('read-failed', `the chip read failed: ${message(e)}`), null, null);
  } finally {
    presence.stop();
  }
}

function facts(run: Run, ms: number, read: ChipRead | null, judged: Judged | null): ChipFacts {
  const p = judged?.portrait;
  return {
    protocol: read?.protocol ?? null,
    pa: judged?.pa ?? null,
    paDetail: judged?.paDetail ?? null,
    signer: judged?.signer ?? null,
    groups: read ? [...read.files.keys()] : [],
    refused: read ? [...read.refused].map(([group, why]) => ({ group, why })) : [],
    timings: run.timings,
    attempts: run.attempt,
    apdus: run.apdus,
    ms,
    notes: judged?.notes ?? [],
    portrait: p
      ? {
          format: p.format,
          bytes: p.image.length,
          ...(p.width !== undefined ? { width: p.width } : {}),
          ...(p.height !== undefined ? { height: p.height } : {}),
        }
      : null,
  };
}

/** Facts joined to the verdict. A read always has its read's protocol; should it not, it is not passed off as one. */
function outcomeOf(verdict: Verdict, f: ChipFacts): ChipOutcome {
  if (verdict.kind !== 'read') return { ...verdict, ...f };
  const protocol = f.protocol;
  if (protocol === null) return { ...f, kind: 'fallback', code: 'read-failed', reason: 'the chip read ended without a read' };
  return { ...f, kind: 'read', protocol };
}

/** The outcome with its personal data behind methods; the check-in's end wipes whatever was not taken. */
function reading(verdict: Verdict, f: ChipFacts, judged: Judged | null, signal: AbortSignal, keep: boolean): ChipReading {
  let image: Uint8Array | null = judged?.portrait?.image ?? null;
  let holder: Holder | null = judged?.holder ?? null;
  // Only a read's JPEG becomes a reference; any other image goes at once (the CLI may keep it to show).
  if (verdict.kind !== 'read' && !keep) {
    image?.fill(0);
    image = null;
  }
  const wipe = (): void => {
    image?.fill(0);
    image = null;
    holder = null;
  };
  if (signal.aborted) wipe();
  else signal.addEventListener('abort', wipe, { once: true });
  return {
    outcome: outcomeOf(verdict, f),
    takePortrait() {
      const taken = image;
      image = null;
      return taken;
    },
    holder: () => holder,
    wipe,
  };
}
