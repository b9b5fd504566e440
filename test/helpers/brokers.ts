import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../hw-sim/broker.js';
import { freePort, waitForListen } from './ports.js';

/** A broker a test can kill and bring back on the same port. */
export interface TestBroker {
  readonly name: 'embedded' | 'mosquitto';
  readonly url: string;
  readonly port: number;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function embeddedBroker(): Promise<TestBroker> {
  const port = await freePort();
  let broker: EmbeddedBroker | null = await startEmbeddedBroker({ port });
  return {
    name: 'embedded',
    url: `mqtt://127.0.0.1:${port}`,
    port,
    async kill() {
      await broker?.close();
      broker = null;
    },
    async restart() {
      broker = await startEmbeddedBroker({ port });
    },
    async stop() {
      await broker?.close();
      broker = null;
    },
  };
}

/**
 * A real mosquitto on a free loopback port. Missing mosquitto is a failure with instructions,
 * never a silent skip: the suite promises both brokers were exercised.
 */
export async function mosquittoBroker(opts: { user?: { name: string; password: string } } = {}): Promise<TestBroker> {
  const which = spawnSync('sh', ['-c', 'command -v mosquitto || ls /usr/sbin/mosquitto'], { encoding: 'utf8' });
  const bin = which.stdout.trim().split('\n')[0];
  if (!bin) throw new Error('mosquitto is not installed: run `sudo apt-get install -y mosquitto` (the MQTT tests run against it too)');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  const auth: string[] = ['allow_anonymous true'];
  if (opts.user) {
    const pwfile = join(dir, 'passwords');
    const r = spawnSync('mosquitto_passwd', ['-c', '-b', pwfile, opts.user.name, opts.user.password], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
    auth.splice(0, 1, 'allow_anonymous false', `password_file ${pwfile}`);
  }
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, ...auth, 'persistence false', 'log_dest stderr', ''].join('\n'));
  // As root mosquitto drops to user "mosquitto"; it must be able to reach its directory.
  if (process.getuid?.() === 0) {
    const id = spawnSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'mosquitto'], { encoding: 'utf8' });
    if (id.status === 0) {
      chownSync(dir, Number(id.stdout), Number(gid.stdout));
      if (opts.user) chownSync(join(dir, 'passwords'), Number(id.stdout), Number(gid.stdout));
    }
  }
  let proc: ChildProcess | null = null;
  let stderr = '';
  const start = async (): Promise<void> => {
    const p = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    proc = p;
    try {
      await waitForListen(port, 5000);
    } catch (err) {
      throw new Error(`mosquitto did not start: ${(err as Error).message}\n${stderr}`);
    }
  };
  const kill = async (): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
    proc = null;
  };
  await start();
  return { name: 'mosquitto', url: `mqtt://127.0.0.1:${port}`, port, kill, restart: start, stop: kill };
}

export const brokerFactories = [
  { name: 'embedded', start: embeddedBroker },
  { name: 'mosquitto', start: mosquittoBroker },
] as const;
