#!/usr/bin/env node
// Lists files in src/ over 350 lines and functions over 100 lines (the structure limits the
// README states). Exit 1 when any is over; `--all` also prints the ten largest of each.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export const MAX_FILE_LINES = 350;
export const MAX_FUNCTION_LINES = 100;

function* tsFiles(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* tsFiles(p);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) yield p;
  }
}

export function measure(root) {
  const files = [];
  const functions = [];
  for (const file of tsFiles(join(root, 'src'))) {
    const text = readFileSync(file, 'utf8');
    const src = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const rel = relative(root, file);
    files.push({ file: rel, lines: src.getLineAndCharacterOfPosition(text.length).line + (text.endsWith('\n') ? 0 : 1) });
    const visit = (node) => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const start = src.getLineAndCharacterOfPosition(node.getStart(src)).line;
        const end = src.getLineAndCharacterOfPosition(node.getEnd()).line;
        const name =
          node.name?.getText(src) ??
          (ts.isVariableDeclaration(node.parent)
            ? node.parent.name.getText(src)
            : ts.isPropertyAssignment(node.parent)
              ? node.parent.name.getText(src)
              : '(anonymous)');
        functions.push({ file: rel, line: start + 1, name, lines: end - start + 1 });
      }
      ts.forEachChild(node, visit);
    };
    visit(src);
  }
  return { files, functions };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { files, functions } = measure(process.cwd());
  const bigFiles = files.filter((f) => f.lines > MAX_FILE_LINES);
  const bigFns = functions.filter((f) => f.lines > MAX_FUNCTION_LINES);
  for (const f of bigFiles) console.log(`file over ${MAX_FILE_LINES} lines: ${f.file} (${f.lines})`);
  for (const f of bigFns) console.log(`function over ${MAX_FUNCTION_LINES} lines: ${f.file}:${f.line} ${f.name} (${f.lines})`);
  if (process.argv.includes('--all')) {
    console.log(
      'largest files:',
      files
        .sort((a, b) => b.lines - a.lines)
        .slice(0, 10)
        .map((f) => `${f.file} ${f.lines}`)
        .join(', '),
    );
    console.log(
      'largest functions:',
      functions
        .sort((a, b) => b.lines - a.lines)
        .slice(0, 10)
        .map((f) => `${f.file}:${f.line} ${f.name} ${f.lines}`)
        .join(', '),
    );
  }
  process.exit(bigFiles.length + bigFns.length > 0 ? 1 : 0);
}
