import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Starts the real kioskd as its own process, the way systemd would: the built one when hw-sim
 * itself runs built, or from source (through tsx) when it runs from source.
 */
export function spawnDaemon(configPath: string, opts: { stdio?: StdioOptions; env?: NodeJS.ProcessEnv; args?: string[] } = {}): ChildProcess {
  const here = dirname(fileURLToPath(import.meta.url));
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = join(here, '..', 'src', fromSource ? 'main.ts' : 'main.js');
  if (!existsSync(entry)) throw new Error(`kioskd entry point not found at ${entry}; run npm run build`);
  const nodeArgs = fromSource ? ['--import', 'tsx'] : ['--enable-source-maps'];
  return spawn(process.execPath, [...nodeArgs, entry, '--config', configPath, '--exit-with-parent', ...(opts.args ?? [])], {
    stdio: opts.stdio ?? 'inherit',
    env: opts.env ?? process.env,
    // Own process group: a Ctrl-C in the terminal reaches hw-sim only, which then stops the
    // daemon once, instead of the daemon seeing two signals and forcing its exit.
    detached: true,
  });
}
