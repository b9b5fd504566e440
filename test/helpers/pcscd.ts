/**
 * The tests' pcscd: hw-sim's own manager (hw-sim/chip/pcscd.ts: a throwaway pcscd with its own
 * reader.conf, Debian's vpcd driver on free ports, one per machine behind a lock file), waiting
 * up to two minutes for the lock, since test files run in parallel processes. Within a file use
 * `pcscdTest` (test.serial). A pcscd the tests did not start (a system one) is never touched:
 * the test fails and says so.
 */
import test, { type ExecutionContext } from 'ava';
import { createRequire } from 'node:module';
import { pcscdMissing as systemMissing, startPcscd as startManaged, type ManagedPcscd } from '../../hw-sim/chip/pcscd.js';

export { VPCD_DRIVER } from '../../hw-sim/chip/pcscd.js';

/** What the PC/SC tests lack on this machine, or null. */
export function pcscdMissing(): string | null {
  const missing = systemMissing();
  if (missing !== null) return missing;
  try {
    createRequire(import.meta.url)('smartcard');
  } catch (e) {
    return `the smartcard module (npm install; it builds with libpcsclite-dev): ${(e as Error).message.split('\n')[0]}`;
  }
  return null;
}

/**
 * A test that needs pcscd, run serially: missing pieces fail in CI and say what is missing;
 * elsewhere the test is skipped and its title says why (never a silent skip).
 */
export function pcscdTest(title: string, fn: (t: ExecutionContext) => Promise<void>): void {
  const missing = pcscdMissing();
  if (missing === null) test.serial(title, fn);
  else if (process.env['CI']) test.serial(title, (t) => t.fail(`CI needs ${missing}`));
  else test.skip(`${title} [skipped: needs ${missing}]`, fn);
}

export type TestPcscd = ManagedPcscd;

/** Starts pcscd with one vpcd reader (two slots), once no other process holds the machine's pcscd (up to 2 min). */
export function startPcscd(opts: { name?: string } = {}): Promise<TestPcscd> {
  return startManaged({ ...opts, lockWaitMs: 120_000 });
}
