import { spawn } from 'node:child_process';
import { kioskdArgv } from '../../hw-sim/daemon.js';

/** Runs `kioskd ARGS…` (the build when it is up to date, else from source) to its end and keeps what it printed. */
export async function runKioskdCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...kioskdArgv(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  return { code, stdout, stderr };
}
