import { CHECK_NAMES, type CheckResult } from './check.js';

const WIDTH = Math.max(...CHECK_NAMES.map((n) => n.length));

/** `✔ printer  test ticket printed (412 ms)`, `✘ printer  out of paper`, `– lamps    skipped: …`. */
export function formatLine(r: CheckResult): string {
  const name = r.name.padEnd(WIDTH);
  if (r.skipped) return `– ${name}  skipped: ${r.detail}`;
  if (!r.ok) return `✘ ${name}  ${r.detail}`;
  return `✔ ${name}  ${r.detail} (${r.ms} ms)`;
}

export interface Tally {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly failedNames: readonly string[];
}

export function tally(results: readonly CheckResult[]): Tally {
  const failed = results.filter((r) => !r.ok);
  const skipped = results.filter((r) => r.skipped).length;
  return { passed: results.length - failed.length - skipped, failed: failed.length, skipped, failedNames: failed.map((r) => r.name) };
}

/** `selftest: 5 passed, 2 failed, 0 skipped` and, on failure, `FAILED: printer, bhyt`. */
export function formatSummary(results: readonly CheckResult[]): string[] {
  const t = tally(results);
  const lines = [`selftest: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`];
  if (t.failed > 0) lines.push(`FAILED: ${t.failedNames.join(', ')}`);
  return lines;
}

/** The machine-readable report (`--json`): what a provisioning script or a fleet tool reads. */
export function jsonReport(results: readonly CheckResult[], about: { kiosk: string; version: string; at: Date }): string {
  const t = tally(results);
  return JSON.stringify({
    ok: t.failed === 0,
    kiosk: about.kiosk,
    version: about.version,
    at: about.at.toISOString(),
    passed: t.passed,
    failed: t.failed,
    skipped: t.skipped,
    failed_checks: t.failedNames,
    checks: results.map((r) => ({ name: r.name, ok: r.ok, skipped: r.skipped, detail: r.detail, ms: r.ms })),
  });
}
