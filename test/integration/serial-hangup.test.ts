import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, writeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linkOpenerFor } from '../../src/hal/card/transport.js';
import { until } from '../helpers/wait.js';

// A pulled USB-CDC scanner hangs its tty up. serialport's stock reader spins on the 0-byte
// reads that follow and never reports it; this pulls a real pty's far end away, many times,
// and expects the disconnect to be reported every time.
test('serial driver: a hung-up tty (scanner pulled mid-use) is reported as a disconnect every time', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-hangup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (let i = 0; i < 12; i++) {
    const daemonEnd = join(dir, `a${i}`);
    const simEnd = join(dir, `b${i}`);
    const socat = spawn('socat', [`pty,raw,echo=0,link=${daemonEnd}`, `pty,raw,echo=0,link=${simEnd}`], { stdio: 'ignore' });
    t.teardown(() => socat.kill('SIGKILL'));
    await until(() => existsSync(daemonEnd) && existsSync(simEnd), 5000, 'socat');
    const link = await linkOpenerFor(daemonEnd, 9600)(AbortSignal.timeout(5000));
    let closedWith: string | null = null;
    const got: number[] = [];
    link.onData((d) => got.push(d.length));
    link.onClose((reason) => (closedWith = reason));
    const fd = openSync(simEnd, 'w');
    writeSync(fd, 'x');
    await until(() => got.length > 0 || i % 2 === 1, 2000, 'a byte through the pty');
    closeSync(fd);
    socat.kill('SIGTERM');
    await until(() => closedWith !== null, 3000, `the disconnect to be reported (round ${i})`);
    t.regex(closedWith ?? '', /disconnected|hung up|bad file descriptor/i, `round ${i}: closed for another reason`);
    link.close();
  }
});
