/** `hw-sim run FILE… [--artifacts DIR]`: runs scenario files against the real daemon. */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pcscdMissing } from '../chip/pcscd.js';
import { VirtualPrinter } from '../devices/printer.js';
import { formatError, loadScenarioFile, type ScenarioFile } from './parse.js';
import { needsChip, runScenarios } from './runner.js';

const EX_USAGE = 64;
const EX_DATAERR = 65;
/** sysexits' EX_UNAVAILABLE: a program the run needs is not installed. */
const EX_UNAVAILABLE = 69;

const USAGE = `usage: hw-sim run FILE… [--artifacts DIR]

Runs scenario files (the schema: hw-sim/scenarios/README.md) against the real kioskd on a
virtual kiosk and prints a report. A directory stands for the .yaml files in it.

  --artifacts DIR  write report.txt, mqtt.log, daemon.log and tickets/<scenario>/ (the tickets
                   the virtual printer rendered, PNG and text) to DIR

Exit status: 0 every expectation held, 1 one failed, 64 usage error, 65 invalid scenario file
(every problem is listed and nothing is run), 69 a program the files need is missing
(tesseract for ticket text, pcscd and vsmartcard-vpcd for the chip reader; nothing is run).`;

export async function runMain(argv: string[]): Promise<number> {
  let values: { artifacts?: string | undefined; help?: boolean | undefined };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { artifacts: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    process.stderr.write(`hw-sim run: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return EX_USAGE;
  }
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (positionals.length === 0) {
    process.stderr.write(`hw-sim run: name at least one scenario file\n${USAGE}\n`);
    return EX_USAGE;
  }
  if (values.artifacts === '') {
    process.stderr.write(`hw-sim run: --artifacts needs a directory\n`);
    return EX_USAGE;
  }

  const files: ScenarioFile[] = [];
  const problems: string[] = [];
  for (const path of expand(positionals)) {
    const r = await loadScenarioFile(path);
    if (r.ok) files.push(r.file);
    else problems.push(...r.errors.map(formatError));
  }
  if (problems.length > 0) {
    const bad = new Set(problems.map((p) => p.split(':')[0])).size;
    process.stderr.write(
      `${problems.join('\n')}\nhw-sim run: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${bad} scenario file${bad === 1 ? '' : 's'}; nothing was run\n`,
    );
    return EX_DATAERR;
  }

  // Without OCR a ticket's text is "[picture W×H dots]": every text check would fail, after the whole run.
  const needOcr = files.flatMap((f) => ticketTextSteps(f).map((i) => `${f.path} step ${i + 1}`));
  if (needOcr.length > 0 && !VirtualPrinter.ocrAvailable()) {
    process.stderr.write(
      `hw-sim run: ticket text needs OCR: apt-get install tesseract-ocr tesseract-ocr-vie\n` +
        `  (ticket: {text: …} in ${needOcr.slice(0, 5).join(', ')}${needOcr.length > 5 ? ` and ${needOcr.length - 5} more` : ''}); nothing was run\n`,
    );
    return EX_UNAVAILABLE;
  }

  // Disk steps fill a small filesystem under kioskd's state directory: only root can mount one.
  const needDisk = files.filter((f) => f.scenario.steps.some((s) => s.kind === 'disk')).map((f) => f.path);
  if (needDisk.length > 0 && process.getuid?.() !== 0) {
    process.stderr.write(
      `hw-sim run: disk steps mount a tmpfs for kioskd's state directory: run hw-sim as root (in ${needDisk.join(', ')}); nothing was run\n`,
    );
    return EX_UNAVAILABLE;
  }

  // The chip reader is hw-sim's own pcscd with Debian's vpcd driver: without them every chip file would fail at its kiosk's start.
  const needPcscd = files.filter(needsChip).map((f) => f.path);
  const noPcscd = needPcscd.length > 0 ? pcscdMissing() : null;
  if (noPcscd !== null) {
    process.stderr.write(
      `hw-sim run: the chip reader needs ${noPcscd} (in ${needPcscd.slice(0, 5).join(', ')}${needPcscd.length > 5 ? ` and ${needPcscd.length - 5} more` : ''}); nothing was run\n`,
    );
    return EX_UNAVAILABLE;
  }

  // Ctrl-C stops the run cleanly (the kiosk and kioskd are stopped); a second one does not wait.
  const interrupt = new AbortController();
  const onSignal = (): void => {
    if (interrupt.signal.aborted) process.exit(130);
    process.stderr.write('\nhw-sim run: interrupted; stopping the kiosk (Ctrl-C again to quit at once)\n');
    interrupt.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const r = await runScenarios({
      files,
      ...(values.artifacts !== undefined ? { artifacts: resolve(values.artifacts) } : {}),
      out: (text) => process.stdout.write(text),
      signal: interrupt.signal,
    });
    if (interrupt.signal.aborted) return 130;
    return r.failed.length === 0 ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Indexes of the steps that read a ticket's text. */
function ticketTextSteps(f: ScenarioFile): number[] {
  return f.scenario.steps.flatMap((s, i) => (s.kind === 'expect' && s.expect.kind === 'ticket' && s.expect.text !== undefined ? [i] : []));
}

/** Paths as given; a directory stands for its *.yaml / *.yml files, in name order. */
function expand(paths: readonly string[]): string[] {
  return paths.flatMap((p) => {
    let dir = false;
    try {
      dir = statSync(p).isDirectory();
    } catch {
      // not there: reported when it is read
    }
    if (!dir) return [p];
    return readdirSync(p)
      .filter((n) => /\.ya?ml$/i.test(n))
      .sort()
      .map((n) => join(p, n));
  });
}
