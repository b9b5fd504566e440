/**
 * Writes docs/mqtt.asyncapi.yaml from the MQTT contract (src/mqtt/contract.ts).
 *   npm run asyncapi              write it
 *   npm run asyncapi -- --check   exit 1 if the committed file is not what would be written
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstDifference, renderAsyncApiYaml } from '../src/mqtt/asyncapi.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = join(root, 'docs', 'mqtt.asyncapi.yaml');
const shown = relative(process.cwd(), file) || file;

const wanted = renderAsyncApiYaml();
if (process.argv.includes('--check')) {
  const committed = existsSync(file) ? readFileSync(file, 'utf8') : null;
  if (committed === wanted) {
    process.stdout.write(`${shown} is up to date\n`);
  } else {
    process.stderr.write(`${shown} is ${committed === null ? 'missing' : 'out of date'}: run \`npm run asyncapi\` and commit it\n`);
    if (committed !== null) process.stderr.write(firstDifference(committed, wanted) + '\n');
    process.exitCode = 1;
  }
} else {
  writeFileSync(file, wanted);
  process.stdout.write(`wrote ${shown}\n`);
}
