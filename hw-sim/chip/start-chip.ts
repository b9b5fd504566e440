/**
 * Sets up hw-sim's chip reader when asked: its own pcscd (one per machine, so only when asked),
 * a test PKI whose CSCA becomes kioskd's trust anchor, and the `chip:` section of the daemon
 * config. Without pcscd, vpcd or kioskd's PC/SC module, or while another process runs the
 * machine's pcscd, it says why and the kiosk runs without a chip (kioskd falls back to the
 * identity service), unless the chip was required.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createTestPki } from './card-files.js';
import { PcscdUnavailable, startPcscd, type ManagedPcscd } from './pcscd.js';
import { createSimChip, type SimChip } from './sim-chip.js';

/** off: no pcscd (the tests' default: many run at once); try: a chip if pcscd can be had (`hw-sim start`); require: fail without. */
export type ChipWanted = 'off' | 'try' | 'require';

export interface ChipSetup {
  readonly chip: SimChip;
  /** The daemon config's `chip:` section. */
  readonly config: ChipSection;
  readonly pcscd: ManagedPcscd | null;
  /** Takes the card off and stops pcscd (the lock goes with it). */
  stop(): Promise<void>;
}

/** The keys of kioskd's `chip:` config hw-sim sets; the rest keep their defaults. */
export interface ChipSection {
  readonly enabled: boolean;
  readonly reader?: { readonly readerPattern: string };
  readonly trustAnchorsDir?: string;
}

export interface StartChipOptions {
  readonly want: ChipWanted;
  /** How long to wait for another process's pcscd lock; default 0 (refuse at once). */
  readonly lockWaitMs?: number;
  /** The simulation's folder: the trust anchors go in trust-anchors/. */
  readonly dir: string;
  readonly portraitOf: (idNumber: string) => Uint8Array | null;
}

/** The reader's FRIENDLYNAME: kioskd is configured for its slot 0, "hw-sim PCD 00 00". */
export const SIM_READER_NAME = 'hw-sim PCD';

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Why kioskd's PC/SC driver could not run, or null: the smartcard module must load. */
function bindingMissing(): string | null {
  try {
    createRequire(import.meta.url)('smartcard');
    return null;
  } catch (e) {
    return `kioskd's PC/SC module (smartcard) does not load (npm install builds it with libpcsclite-dev): ${(e as Error).message.split('\n')[0]}`;
  }
}

export async function startChip(o: StartChipOptions): Promise<ChipSetup> {
  const pki = createTestPki();
  const without = (off: string): ChipSetup => {
    if (o.want === 'require') throw new PcscdUnavailable('missing', `no chip reader: ${off}`);
    return {
      chip: createSimChip({ reader: null, off, portraitOf: o.portraitOf, pki }),
      config: { enabled: false },
      pcscd: null,
      stop: async () => {},
    };
  };
  if (o.want === 'off') return without('not asked for (hw-sim start --no-chip, or a simulation for tests)');
  const binding = bindingMissing();
  if (binding) return without(binding);
  let pcscd: ManagedPcscd;
  try {
    pcscd = await startPcscd({ name: SIM_READER_NAME, lockWaitMs: o.lockWaitMs ?? 0 });
  } catch (err) {
    if (!(err instanceof PcscdUnavailable) || o.want === 'require') throw err;
    return without(err.message);
  }
  const trustAnchorsDir = join(o.dir, 'trust-anchors');
  mkdirSync(trustAnchorsDir, { recursive: true });
  writeFileSync(join(trustAnchorsDir, 'hw-sim-test-csca.der'), pki.cscaDer);
  const slot = pcscd.slot(0);
  const chip = createSimChip({ reader: { port: slot.port, name: SIM_READER_NAME }, portraitOf: o.portraitOf, pki });
  return {
    chip,
    config: { enabled: true, reader: { readerPattern: `^${escapeRegExp(slot.reader)}$` }, trustAnchorsDir },
    pcscd,
    async stop() {
      chip.close();
      await pcscd.stop();
    },
  };
}
