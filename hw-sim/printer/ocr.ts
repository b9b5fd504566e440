import { spawn, spawnSync } from 'node:child_process';

/** True when tesseract and its Vietnamese data are installed (apt-get install tesseract-ocr tesseract-ocr-vie). */
export function ocrAvailable(): boolean {
  const r = spawnSync('tesseract', ['--list-langs'], { encoding: 'utf8' });
  return r.status === 0 && /\bvie\b/.test(r.stdout);
}

/** Sparse-text mode (psm 11) finds the very large queue number that block layout misses. */
export function ocrText(png: Buffer): Promise<string> {
  // Asynchronous: OCR takes a second or two, and the simulated printer must keep answering.
  return new Promise((resolve) => {
    const p = spawn('tesseract', ['-', 'stdout', '-l', 'vie', '--psm', '11'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    p.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    p.on('error', (e) => resolve(`[OCR failed: ${e.message}]`));
    p.on('close', (code) => {
      if (code !== 0) return resolve(`[OCR failed: ${err.trim().split('\n').pop() ?? ''}]`);
      resolve(
        out
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean)
          .join('\n'),
      );
    });
    p.stdin.on('error', () => {});
    p.stdin.end(png);
  });
}
