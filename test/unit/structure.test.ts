// The size limits the layout promises (README, "Layout"): a newcomer reads any module in one go.
import test from 'ava';
import { readFileSync } from 'node:fs';
// @ts-expect-error: a plain .mjs script, without type declarations
import { MAX_FILE_LINES, MAX_FUNCTION_LINES, measure } from '../../scripts/size-report.mjs';

type Measured = { files: Array<{ file: string; lines: number }>; functions: Array<{ file: string; line: number; name: string; lines: number }> };
const root = new URL('../..', import.meta.url).pathname;

test(`no file in src/ over ${MAX_FILE_LINES} lines, no function over ${MAX_FUNCTION_LINES}`, (t) => {
  const { files, functions } = measure(root) as Measured;
  t.true(files.length > 50, 'the measure found the sources');
  t.deepEqual(
    files.filter((f) => f.lines > MAX_FILE_LINES).map((f) => `${f.file} (${f.lines})`),
    [],
  );
  t.deepEqual(
    functions.filter((f) => f.lines > MAX_FUNCTION_LINES).map((f) => `${f.file}:${f.line} ${f.name} (${f.lines})`),
    [],
  );
});

test('src/main.ts is the command line only: under 100 lines, no daemon wiring', (t) => {
  const main = readFileSync(new URL('../../src/main.ts', import.meta.url), 'utf8');
  t.true(main.split('\n').length < 100);
  for (const wiring of ['createHal', 'openQueueStore', 'MqttLink', 'createKioskRuntime', 'FaceEngine']) t.false(main.includes(wiring), wiring);
});
