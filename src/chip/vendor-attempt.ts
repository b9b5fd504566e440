// One attempt of the check-in's chip read on a reader whose vendor service reads the chip itself
// (the HN-212, src/hal/chip/hn212.ts): no link and no PACE of ours, the service's raw groups instead,
// judged as a PC/SC read is. The service never says a card was lifted, so a wait without a result
// is told apart by whether a card was placed meanwhile.
import { Hn212TimeoutError, type Hn212ChipReader } from '../hal/chip/hn212.js';
import { ChipError } from './apdu.js';
import type { Attempt, Run } from './card-reading.js';
import { counter, fallback } from './card-verdict.js';

/**
 * Waits for the service's read of the card (placeTimeoutMs + readTimeoutMs: the service reads as
 * soon as the card is placed). `failure` is what any other error means (card-reading's readFailure).
 */
export async function vendorAttempt(run: Run, reader: Hn212ChipReader, present: () => boolean, failure: (e: unknown) => Attempt): Promise<Attempt> {
  const { clock, signal, onProgress } = run.input;
  const n = run.attempt;
  const timeoutMs = run.opts.placeTimeoutMs + run.opts.readTimeoutMs;
  let reading = false;
  const nowReading = (): void => {
    if (reading) return;
    reading = true;
    onProgress?.({ step: 'reading', attempt: n });
  };
  if (n > 1) onProgress?.({ step: 'retry', attempt: n });
  else if (!present()) onProgress?.({ step: 'waiting-card', attempt: n });
  if (present()) nowReading();
  // A card placed while waiting: the service is reading it now.
  const stop = reader.onCard((ev) => ev.present && nowReading());
  const t0 = clock.now();
  try {
    const read = await reader.readFiles(signal, { timeoutMs });
    run.timings.push(...read.timings.map((t) => ({ ...t, attempt: n })));
    return { read };
  } catch (e) {
    const failed = vendorFailure(run, reader, e, timeoutMs, failure);
    const why = 'retry' in failed ? failed.retry : 'end' in failed && failed.end.kind !== 'read' ? failed.end.code : 'read';
    run.timings.push({ step: `hn212 (failed: ${why})`, ms: clock.now() - t0, apdus: 0, attempt: n });
    return failed;
  } finally {
    stop();
  }
}

function vendorFailure(run: Run, reader: Hn212ChipReader, e: unknown, ms: number, failure: (e: unknown) => Attempt): Attempt {
  if (e instanceof Hn212TimeoutError && !run.input.signal.aborted) {
    if (e.cardSeen) return { end: fallback('timeout', `a card was placed but the HN-212 service gave no read within ${ms} ms`) };
    return {
      end:
        run.attempt === 1
          ? fallback('no-card', `no card was placed on the reader within ${ms} ms`)
          : counter('card-removed', `the card was pulled away mid-read and not placed back within ${ms} ms`),
    };
  }
  // The service went away (readFiles says "io"): as a PC/SC reader that is gone, not a card to read again.
  if (e instanceof ChipError && e.reason === 'io' && reader.state() !== 'ready' && !run.input.signal.aborted)
    return { end: fallback('reader-not-ready', `the chip reader is not ready: ${reader.reason()}`) };
  return failure(e);
}
