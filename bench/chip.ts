/**
 * `npm run bench -- chip [--n 30] [--json OUT]`: full chip reads of sample 1's virtual CCCD with
 * the daemon's own code (readCard over the PC/SC driver), through hw-sim's own pcscd and vpcd
 * reader, started the way `hw-sim start` does (hw-sim/chip/start-chip.ts). Each read is PACE,
 * COM, DG1, DG2, DG13, DG14, DG15, SOD and passive authentication. The card answers on this
 * thread, the reads run on a thread of their own (chip-reader.ts), as hw-sim and kioskd are two
 * processes. The card link's transmit is wrapped to sum the time spent in the APDU round trips
 * themselves; what is left of a read is the reader code's overhead (issue 18's target: at most
 * 20% of the round trips).
 *
 * pcscd is one per machine: the lock in os.tmpdir() is waited for, held for the run only, and
 * given back at the end, on an error and on Ctrl-C.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPki } from '../hw-sim/chip/card-files.js';
import { PCSCD_LOCK } from '../hw-sim/chip/pcscd.js';
import { buildSampleCard } from '../hw-sim/chip/sample-card.js';
import { startChip, type ChipSetup } from '../hw-sim/chip/start-chip.js';
import { loadSimFaces } from '../hw-sim/faces.js';
import { SAMPLE_IDENTITIES } from '../hw-sim/identities.js';
import { startReaderThread, type ReadResult, type ReaderThread } from './chip-reader.js';

export interface ChipBenchOptions {
  readonly n: number;
  readonly json?: string | undefined;
  /** How long to wait for another process's pcscd lock; default 15 min. */
  readonly lockWaitMs?: number;
}

const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const ms1 = (x: number): number => Number(x.toFixed(1));
const SAMPLE = 1;

/** Who holds the machine's pcscd lock, when someone does (the run waits for it). */
function lockHolder(): string | null {
  try {
    return readFileSync(PCSCD_LOCK, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

export async function chipBench({ n, json, lockWaitMs = 15 * 60_000 }: ChipBenchOptions): Promise<void> {
  if (!Number.isInteger(n) || n < 1) throw new Error('--n must be a whole number of reads, at least 1');
  const p = SAMPLE_IDENTITIES[SAMPLE - 1]!;
  // Before the lock, which is held briefly: the faces and the sample card's files take a moment.
  const faces = await loadSimFaces();
  const portrait = faces.portraitOf(p.idNumber);
  if (!portrait) throw new Error(`no portrait for sample ${SAMPLE}`);
  // DG2 does not depend on the PKI: this is the DG2 of the card sim-chip places.
  const dg2Bytes = buildSampleCard(p, portrait, createTestPki()).files.get('DG2')?.length ?? NaN;
  const holder = lockHolder();
  if (holder) console.log(`waiting for the machine's pcscd lock (held by pid ${holder}; up to ${Math.round(lockWaitMs / 60_000)} min)`);

  const dir = mkdtempSync(join(tmpdir(), 'kioskd-bench-chip-'));
  let setup: ChipSetup | null = null;
  let thread: ReaderThread | null = null;
  let interrupted = false;
  // Ctrl-C while waiting for the lock: nothing to give back (pcscd.ts's exit hook covers a pcscd
  // being started). After: the read in progress is cancelled and the finally below cleans up.
  const onSignal = (): void => {
    if (setup === null || interrupted) process.exit(130);
    interrupted = true;
    console.error('\ninterrupted: stopping pcscd');
    void thread?.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    setup = await startChip({ want: 'try', dir, lockWaitMs, portraitOf: (id) => faces.portraitOf(id) });
    if (setup.pcscd === null) {
      // The reason as hw-sim's banner gives it.
      console.error(`chip benchmark: no virtual CCCD chip: ${setup.chip.status().off}`);
      process.exitCode = 69;
      return;
    }
    await setup.chip.place(SAMPLE);
    const spec = { readerPattern: setup.config.reader?.readerPattern ?? '', trustAnchorsDir: setup.config.trustAnchorsDir ?? '' };
    // One more read than asked: the first loads the binding's paths and warms the JIT, and is not counted.
    thread = startReaderThread({ ...spec, idNumber: p.idNumber, reads: n + 1 }, (k) => {
      if (process.stdout.isTTY) process.stdout.write(`\r  ${Math.max(0, k - 1)}/${n}\r`);
    });
    const reads = await thread.done;
    if (process.stdout.isTTY) process.stdout.write('\n');
    if (interrupted || reads.length < n + 1) {
      console.error(`interrupted after ${Math.max(0, reads.length - 1)} of ${n} reads`);
      process.exitCode = 130;
      return;
    }
    report(reads.slice(1), dg2Bytes, json);
  } finally {
    await thread?.stop();
    await setup?.stop();
    rmSync(dir, { recursive: true, force: true });
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

function report(reads: readonly ReadResult[], dg2Bytes: number, json: string | undefined): void {
  const total = reads.map((r) => r.totalMs);
  const transmit = reads.map((r) => r.transmitMs);
  const overhead = reads.map((r) => (r.totalMs - r.transmitMs) / r.transmitMs);
  const link = reads.map((r) => r.linkMs);
  const own = reads.map((r) => r.totalMs - r.transmitMs - r.linkMs);
  const apdus = pct(
    reads.map((r) => r.apdus),
    50,
  );
  const tally = (key: (r: ReadResult) => string): Record<string, number> =>
    reads.reduce<Record<string, number>>((acc, r) => ({ ...acc, [key(r)]: (acc[key(r)] ?? 0) + 1 }), {});
  const protocol = tally((r) => r.protocol);
  const pa = tally((r) => r.pa);
  const counts = (t: Record<string, number>): string =>
    Object.entries(t)
      .map(([k, c]) => (c === reads.length ? k : `${k} ×${c}`))
      .join(', ');
  const jpeg = reads[0]?.portraitBytes ?? null;
  const result = {
    n: reads.length,
    total_ms_p50: ms1(pct(total, 50)),
    total_ms_p95: ms1(pct(total, 95)),
    transmit_ms_p50: ms1(pct(transmit, 50)),
    transmit_ms_p95: ms1(pct(transmit, 95)),
    overhead_p50: Number(pct(overhead, 50).toFixed(4)),
    overhead_p95: Number(pct(overhead, 95).toFixed(4)),
    apdus,
    connect_release_ms_p50: ms1(pct(link, 50)),
    reader_code_ms_p50: ms1(pct(own, 50)),
    dg2_bytes: dg2Bytes,
    portrait_bytes: jpeg,
    protocol,
    pa,
  };
  const percent = (x: number): string => `${(x * 100).toFixed(1)}%`;
  console.log(
    `chip benchmark: ${result.n} full reads (PACE, COM, DG1, DG2, DG13, DG14, DG15, SOD, passive authentication) of sample ${SAMPLE}'s virtual CCCD`,
  );
  console.log(
    `  through hw-sim's pcscd and vpcd reader with kioskd's readCard and PC/SC driver, after 1 warm-up read (node ${process.version}, ${process.arch})`,
  );
  console.log(
    `  vpcd (Debian 3.3) adds ~50 ms per APDU (two send() calls and a delayed ACK), so absolute times are the simulator's, not a real reader's`,
  );
  console.log(
    `  reads: protocol ${counts(protocol)}, pa ${counts(pa)}; ${apdus} APDUs; DG2 ${dg2Bytes} bytes (portrait JPEG ${jpeg ?? 'none'} bytes)`,
  );
  console.log(`  total per read: p50 ${result.total_ms_p50} ms, p95 ${result.total_ms_p95} ms`);
  console.log(
    `  inside CardLink.transmit (the APDU round trips): p50 ${result.transmit_ms_p50} ms, p95 ${result.transmit_ms_p95} ms (${ms1(result.transmit_ms_p50 / apdus)} ms per APDU)`,
  );
  console.log(
    `  reader code overhead (total - transmit) / transmit: p50 ${percent(result.overhead_p50)}, p95 ${percent(result.overhead_p95)} (issue 18's target: at most 20%)`,
  );
  console.log(
    `  of total - transmit, p50: connect + release (PC/SC, not APDUs) ${result.connect_release_ms_p50} ms, the rest (protocol, crypto, parsing, verification) ${result.reader_code_ms_p50} ms`,
  );
  if (json) writeFileSync(json, JSON.stringify(result, null, 2) + '\n');
}
