/**
 * `kioskd card read-chip [--can N | --from-qr] [--reveal] [--portrait FILE] [--config FILE]`: what
 * the chip of the card on the reader holds, as the check-in would read it (src/chip/card-reading.ts).
 * One JSON object on stdout: the groups read, DG1 and DG13 masked unless --reveal, the SOD status,
 * the protocol and the timings; the portrait is written only to the file --portrait names.
 * Progress goes to stderr. Exit 0 when the chip gave a usable portrait (and, from a QR, its number
 * matched), 1 for any other outcome, 64 usage, 65 a QR that is not a CCCD, 69 no reader.
 */
import { readCard, type ChipReading, type ChipProgress } from '../chip/card-reading.js';
import type { Holder } from '../chip/card-verdict.js';
import type { Dg1 } from '../chip/dg1.js';
import type { Dg13 } from '../chip/dg13.js';
import { loadTrustAnchors } from '../chip/trust-anchors.js';
import { chmodSync, writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { EX_CONFIG } from '../config/load.js';
import { configSchema, type ChipConfig } from '../config/schema.js';
import { Framer } from '../hal/card/framer.js';
import { MAX_PAYLOAD_BYTES, parseCccdBytes } from '../hal/card/parse.js';
import { openPcscChipReader } from '../hal/chip/pcsc.js';
import type { ChipReaderConfig, ChipReaderPort } from '../hal/chip/port.js';
import { createLogger } from '../log/logger.js';
import { initials, maskId } from '../log/mask.js';
import { systemClock, type Clock } from '../util/clock.js';
import { EX_DATAERR } from './card-decode.js';
import { loadOrExplain } from './config-commands.js';
import { EX_USAGE, type CommandLine } from './usage.js';

export const EX_UNAVAILABLE = 69;
export const READ_CHIP_USAGE = 'usage: kioskd card read-chip (--can 123456 | --from-qr < scan) [--reveal] [--portrait FILE] [--config FILE]';

export interface ReadChipArgs {
  /** The card access number: 6 digits (the last 6 of the card's 12-digit number). */
  readonly can?: string | undefined;
  /** Take the number from one QR payload on stdin (as `card decode` reads it). */
  readonly fromQr?: boolean | undefined;
  readonly reveal?: boolean | undefined;
  /** Where to write the portrait (only when given). */
  readonly portrait?: string | undefined;
  /** The `chip` section (from --config, else the defaults). */
  readonly chip: ChipConfig;
}

export interface ReadChipIo {
  readonly stdin: () => Promise<Uint8Array>;
  readonly out: (text: string) => void;
  readonly err: (line: string) => void;
  readonly openReader: (config: ChipReaderConfig) => Promise<ChipReaderPort>;
  /** Writes a file only the owner may read. */
  readonly writeFile: (path: string, bytes: Uint8Array) => void;
  readonly clock: Clock;
  readonly today: () => { year: number; month: number; day: number };
  readonly signal: AbortSignal;
}

type Card = { readonly idNumber: string } | { readonly can: string };

/** The card to read from the arguments, or an exit code after saying why. */
async function cardOf(a: ReadChipArgs, io: ReadChipIo): Promise<Card | number> {
  if ((a.can === undefined) === (a.fromQr !== true)) {
    io.err(`give either --can or --from-qr\n${READ_CHIP_USAGE}`);
    return EX_USAGE;
  }
  if (a.can !== undefined) {
    if (/^\d{6}$/.test(a.can)) return { can: a.can };
    io.err(`--can takes 6 digits: the last 6 of the card's 12-digit number\n${READ_CHIP_USAGE}`);
    return EX_USAGE;
  }
  const framer = new Framer('any', MAX_PAYLOAD_BYTES);
  const frames = [...framer.push(await io.stdin()), ...framer.idle()];
  const first = frames[0];
  if (!first) {
    io.err('rejected (empty): no scan on standard input');
    return EX_DATAERR;
  }
  if (first.kind === 'overflow') {
    io.err(`rejected (too-long): a line of ${first.bytes} bytes; a CCCD QR is at most ${MAX_PAYLOAD_BYTES}`);
    return EX_DATAERR;
  }
  const r = parseCccdBytes(first.bytes, { today: io.today() });
  if (!r.ok) {
    io.err(`rejected (${r.rejection.code}): ${r.rejection.message}`);
    return EX_DATAERR;
  }
  if (frames.length > 1) io.err('more than one scan on standard input: the first is used');
  return { idNumber: r.identity.idNumber };
}

const PROGRESS: Record<ChipProgress['step'], (n: number) => string> = {
  'waiting-card': () => 'place the card on the reader…',
  reading: (n) => (n > 1 ? `reading the chip (attempt ${n})…` : 'reading the chip…'),
  retry: (n) => `the card moved: hold it still on the reader (attempt ${n})`,
};

export async function readChipCommand(a: ReadChipArgs, io: ReadChipIo): Promise<number> {
  const card = await cardOf(a, io);
  if (typeof card === 'number') return card;
  const { anchors, errors } = loadTrustAnchors(a.chip.trustAnchorsDir);
  for (const e of errors) io.err(`trust anchors: ${e}`);
  const reader = await io.openReader(a.chip.reader);
  let reading: ChipReading | null = null;
  try {
    if (reader.state() !== 'ready') {
      io.err(`the chip reader is not ready (${reader.state()}): ${reader.reason()}`);
      return EX_UNAVAILABLE;
    }
    reading = await readCard(
      { reader, card, clock: io.clock, signal: io.signal, onProgress: (p) => io.err(PROGRESS[p.step](p.attempt)) },
      { placeTimeoutMs: a.chip.placeTimeoutMs, readTimeoutMs: a.chip.readTimeoutMs, retries: a.chip.retries, anchors, keepHolder: true },
    );
    const written = writePortrait(a, io, reading);
    io.out(JSON.stringify(report(reading, a.reveal === true, written), null, 2));
    return reading.outcome.kind === 'read' ? 0 : 1;
  } finally {
    reading?.wipe();
    await reader.close();
  }
}

function writePortrait(a: ReadChipArgs, io: ReadChipIo, reading: ChipReading): string | null {
  if (a.portrait === undefined) return null;
  const image = reading.takePortrait();
  if (!image) {
    io.err('no portrait to write: the chip gave none');
    return null;
  }
  try {
    io.writeFile(a.portrait, image);
    return a.portrait;
  } finally {
    image.fill(0);
  }
}

function report(reading: ChipReading, reveal: boolean, written: string | null): Record<string, unknown> {
  const o = reading.outcome;
  const holder: Holder = reading.holder() ?? {};
  return {
    outcome: o.kind,
    ...(o.kind === 'read' ? {} : { code: o.code, reason: o.reason }),
    protocol: o.protocol,
    pa: o.pa,
    pa_detail: o.paDetail,
    signer: o.signer,
    groups: o.groups,
    refused: o.refused,
    dg1: holder.dg1 ? (reveal ? holder.dg1 : maskedDg1(holder.dg1)) : null,
    dg13: holder.dg13 ? (reveal ? holder.dg13 : maskedDg13(holder.dg13)) : null,
    portrait: o.portrait ? { ...o.portrait, written } : null,
    notes: o.notes,
    attempts: o.attempts,
    apdus: o.apdus,
    ms: Math.round(o.ms),
    timings: o.timings.map((t) => ({ ...t, ms: Math.round(t.ms) })),
    ...(reveal ? {} : { masked: 'run with --reveal to see every field' }),
  };
}

/** "01/01/1990" → "**\/**\/1990"; anything else: its length only. */
const yearOnly = (date: string): string => (/^\d{2}\/\d{2}\/\d{4}$/.test(date) ? `**/**/${date.slice(6)}` : `(${date.length} characters)`);

function maskedDg1(d: Dg1): Record<string, unknown> {
  return {
    mrz: `(${d.mrz.length} characters)`,
    documentCode: d.documentCode,
    issuingState: d.issuingState,
    documentNumber: maskId(d.documentNumber),
    birthDate: `${d.birthDate.slice(0, 2)}****`,
    expiryDate: d.expiryDate,
    sex: d.sex,
    nationality: d.nationality,
    optionalData: maskId(d.optionalData),
    names: { surname: initials(d.names.surname), givenNames: initials(d.names.givenNames) },
    ...(d.idNumber !== undefined ? { idNumber: maskId(d.idNumber) } : {}),
  };
}

function maskedDg13(d: Dg13): Record<string, unknown> {
  return {
    idNumber: maskId(d.idNumber),
    fullName: initials(d.fullName),
    birthDate: yearOnly(d.birthDate),
    sex: d.sex,
    nationality: d.nationality,
    ...(d.issueDate !== undefined ? { issueDate: d.issueDate } : {}),
    ...(d.expiryDate !== undefined ? { expiryDate: d.expiryDate } : {}),
  };
}

/** The command on this machine: PC/SC, the process's streams, Ctrl-C to give up waiting. */
export async function readChipMain(values: CommandLine): Promise<number> {
  const loaded = values.config ? loadOrExplain(values.config) : null;
  if (values.config && !loaded) return EX_CONFIG;
  const chip = loaded?.config.chip ?? configSchema.shape.chip.parse(undefined);
  // The driver's warnings go to stderr: stdout is the JSON.
  const log = createLogger({ level: 'warn', pretty: 'never', destination: pino.destination({ fd: 2, sync: true }) });
  const clock = systemClock();
  const stop = new AbortController();
  const onSigint = (): void => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    return await readChipCommand(
      { can: values.can, fromQr: values['from-qr'], reveal: values.reveal, portrait: values.portrait, chip },
      {
        stdin: async () => {
          const chunks: Buffer[] = [];
          for await (const c of process.stdin) chunks.push(c as Buffer);
          return Buffer.concat(chunks);
        },
        out: (text) => process.stdout.write(text + '\n'),
        err: (line) => process.stderr.write(line + '\n'),
        openReader: (config) => openPcscChipReader(config, { clock, log }),
        writeFile: (path, bytes) => {
          writeFileSync(path, bytes, { mode: 0o600 });
          chmodSync(path, 0o600);
        },
        clock,
        today: () => {
          const now = new Date();
          return { year: now.getFullYear(), month: now.getMonth() + 1, day: now.getDate() };
        },
        signal: stop.signal,
      },
    );
  } finally {
    process.off('SIGINT', onSigint);
  }
}
