import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForPath } from './wait.js';

/**
 * A stand-in for systemd's notify socket: socat receives the datagrams a Type=notify service
 * sends. Node cannot bind a unix datagram socket itself.
 */
export async function fakeNotifySocket(): Promise<{ path: string; received: () => string; stop: () => void }> {
  if (spawnSync('sh', ['-c', 'command -v socat']).status !== 0) {
    throw new Error('socat is not installed: run `sudo apt-get install -y socat` (the sd_notify tests need it)');
  }
  const path = join(mkdtempSync(join(tmpdir(), 'kioskd-notify-')), 'notify.sock');
  const proc = spawn('socat', ['-u', `UNIX-RECV:${path}`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let got = '';
  // Datagrams arrive back to back; a marker between them keeps them apart for the assertions.
  proc.stdout.on('data', (d: Buffer) => (got += d.toString() + '\n|'));
  await waitForPath(path, 5000);
  return { path, received: () => got, stop: () => proc.kill() };
}
