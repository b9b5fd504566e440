import { execFile } from 'node:child_process';

/** A program run directly (no shell) within a time limit: `kioskd selftest` asks timedatectl and chronyc (only src/hal may spawn). */
export const runProgram = (
  file: string,
  args: readonly string[],
  o: { timeoutMs: number; signal: AbortSignal },
): Promise<{ exit: number | string; stdout: string }> =>
  new Promise((resolve) =>
    execFile(file, [...args], { timeout: o.timeoutMs, signal: o.signal, encoding: 'utf8', maxBuffer: 64 * 1024 }, (err, stdout) =>
      resolve({ exit: err ? ((err as NodeJS.ErrnoException).code ?? 'killed') : 0, stdout }),
    ),
  );
