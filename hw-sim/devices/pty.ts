import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A pseudo-terminal pair made by socat: the daemon opens `daemonEnd` as it would a real device
 * (/dev/ttyACM0, /dev/usb/lp0), the simulator uses `simEnd`. Closing the pair really closes the
 * device under the daemon, as pulling the cable does.
 */
export interface PtyPair {
  readonly daemonEnd: string;
  readonly simEnd: string;
  close(): Promise<void>;
}

export function socatAvailable(): boolean {
  return spawnSync('sh', ['-c', 'command -v socat'], { stdio: 'ignore' }).status === 0;
}

export async function openPtyPair(dir: string, name: string): Promise<PtyPair> {
  const daemonEnd = join(dir, name);
  const simEnd = join(dir, `${name}-sim`);
  // socat under a tiny shell that kills it when our end of its stdin closes: that happens on
  // close(), and also when hw-sim dies by SIGKILL, so no orphan socat holds the pty.
  const p: ChildProcess = spawn(
    'sh',
    ['-c', 'socat "$1" "$2" & s=$!; read _; kill $s 2>/dev/null; wait $s', 'sh', `pty,raw,echo=0,link=${daemonEnd}`, `pty,raw,echo=0,link=${simEnd}`],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
    },
  );
  // Killed by a signal (a terminal's Ctrl-C reaches the whole process group), a child has no
  // exit code, only a signal code: both mean it is gone.
  const exited = (): boolean => p.exitCode !== null || p.signalCode !== null;
  const end = Date.now() + 5000;
  while (!(existsSync(daemonEnd) && existsSync(simEnd))) {
    if (Date.now() > end || exited()) {
      p.kill('SIGKILL');
      throw new Error('socat did not create the pty pair within 5 s');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    daemonEnd,
    simEnd,
    close: () => (exited() ? Promise.resolve() : new Promise<void>((r) => (p.once('exit', () => r()), p.stdin?.end()))),
  };
}
