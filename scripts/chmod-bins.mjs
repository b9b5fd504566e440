#!/usr/bin/env node
// The last step of `npm run build`: tsc writes dist/src/main.js and dist/hw-sim/main.js as plain
// files (mode 644). npm marks a package's "bin" files executable only when it links them, at
// install; in a checkout whose node_modules predates the build, `npx kioskd` then finds
// node_modules/.bin/kioskd pointing at a file it cannot execute ("not found"). So the build
// marks every "bin" of package.json executable (and checks each starts with its #! line).
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Marks the package's "bin" files under `root` executable; returns them. Throws when one is missing or has no #! line. */
export function markBinsExecutable(root) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const bins = typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : (pkg.bin ?? {});
  const done = [];
  for (const [name, rel] of Object.entries(bins)) {
    const file = join(root, rel);
    let head;
    try {
      head = readFileSync(file, 'utf8').slice(0, 2);
    } catch (err) {
      throw new Error(`bin "${name}": ${rel} was not built (${err.code ?? err})`);
    }
    if (head !== '#!') throw new Error(`bin "${name}": ${rel} does not start with a #! line, so it cannot run as a command`);
    chmodSync(file, statSync(file).mode | 0o111);
    done.push(rel);
  }
  return done;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    markBinsExecutable(process.cwd());
  } catch (err) {
    process.stderr.write(`chmod-bins: ${err.message}\n`);
    process.exit(1);
  }
}
