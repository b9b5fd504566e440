import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualPrinter } from '../../hw-sim/devices/printer.js';
import { freePort } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';
import { Watcher } from '../helpers/watch.js';

function startHwSim(port: number, id: string) {
  const sim = spawn(process.execPath, ['--import', 'tsx', 'hw-sim/main.ts', 'start', '--port', String(port), '--device-id', id], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  sim.stdout.on('data', (d: Buffer) => (out += d.toString()));
  sim.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => sim.on('exit', (code) => r(code)));
  const daemonPid = async (): Promise<number> => {
    await until(() => /kioskd started \(pid \d+\)/.test(out), 30_000, 'the daemon pid');
    return Number(/kioskd started \(pid (\d+)\)/.exec(out)![1]);
  };
  return { sim, exited, out: () => out, daemonPid };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('hw-sim: kill -9 of the daemon leaves "offline" from the last will, and hw-sim says what happened', async (t) => {
  const port = await freePort();
  const h = startHwSim(port, 'will-sim');
  t.teardown(() => h.sim.exitCode === null && h.sim.kill('SIGKILL'));
  const pid = await h.daemonPid(); // printed once the broker listens
  const w = await Watcher.start(`mqtt://127.0.0.1:${port}`, 'kiosk/will-sim/status');
  t.teardown(() => w.stop());
  await w.waitFor((m) => m.payload === 'online', 30_000);
  process.kill(pid, 'SIGKILL');
  await w.waitFor((m) => m.payload === 'offline', 5000);
  t.is(await h.exited, 1);
  t.regex(h.out(), /kioskd exited on its own \(signal SIGKILL\)/);
});

test('hw-sim killed -9: its daemon notices and stops instead of living on as an orphan', async (t) => {
  const port = await freePort();
  const h = startHwSim(port, 'orphan-sim');
  t.teardown(() => h.sim.exitCode === null && h.sim.kill('SIGKILL'));
  const pid = await h.daemonPid();
  t.teardown(() => alive(pid) && process.kill(pid, 'SIGKILL'));
  await until(() => h.out().includes('drivers loaded'), 30_000, 'daemon start');
  h.sim.kill('SIGKILL');
  await until(() => !alive(pid), 20_000, 'the orphaned daemon to exit');
  t.false(alive(pid));
});

test('hw-sim start: prints where things are, the kiosk is online within 10 s, Ctrl-C leaves "stopped" and ends hw-sim', async (t) => {
  const port = await freePort();
  // Its own process group, as in a terminal: Ctrl-C reaches hw-sim and its socat helper alike.
  const sim = spawn(process.execPath, ['--import', 'tsx', 'hw-sim/main.ts', 'start', '--port', String(port), '--device-id', 'cli-sim'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  t.teardown(() => sim.exitCode === null && sim.kill('SIGKILL'));
  let out = '';
  sim.stdout.on('data', (d: Buffer) => (out += d.toString()));
  sim.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => sim.on('exit', (code) => r(code)));
  await until(() => out.includes('Ctrl-C stops'), 30_000, 'the banner');
  // Its files (config, tickets with the sample patients' names, kioskd's state) go when it stops.
  const dir = /config: +(\/\S+)\/config\.yaml/.exec(out)?.[1];
  t.regex(dir ?? '', /\/kioskd-hw-sim-\w+$/);
  t.true(existsSync(join(dir!, 'config.yaml')));
  t.regex(out, /files: +\S+ is deleted when hw-sim stops \(--dir DIR keeps/);
  t.regex(out, new RegExp(`MQTT broker \\(embedded, MQTT 3\\.1\\.1\\): mqtt://127\\.0\\.0\\.1:${port}`));
  t.regex(out, /topics: +kiosk\/cli-sim\/status/);
  t.regex(out, /scanner: +virtual CCCD scanner on (a pty \(\/|tcp:\/\/127\.0\.0\.1:\d+)/);
  // The web panel: on 8080, or on a free port when 8080 is taken (as when test files run side by side).
  const panelUrl = /web panel: +(http:\/\/127\.0\.0\.1:\d+\/)(\s|$)/m.exec(out)?.[1];
  t.truthy(panelUrl, `the banner names the web panel:\n${out}`);
  const page = await fetch(panelUrl!);
  t.is(page.status, 200);
  t.regex(page.headers.get('content-type') ?? '', /^text\/html\b/);
  t.regex(await page.text(), /<title>hw-sim/);

  const w = await Watcher.start(`mqtt://127.0.0.1:${port}`, 'kiosk/cli-sim/#');
  t.teardown(() => w.stop());
  await w.waitFor((m) => m.topic === 'kiosk/cli-sim/status' && m.payload === 'online', 30_000);
  // The virtual scanner is plugged in and hw-sim requires only the card: the kiosk is ready.
  await w.waitFor((m) => m.topic === 'kiosk/cli-sim/state' && JSON.parse(m.payload).mode === 'idle', 30_000);

  process.kill(-sim.pid!, 'SIGINT'); // the whole group, as a terminal's Ctrl-C
  await w.waitFor((m) => m.topic === 'kiosk/cli-sim/status' && m.payload === 'stopped', 30_000);
  t.is(await exited, 0);
  t.regex(out, /hw-sim: stopped/);
  t.false(existsSync(dir!), `${dir} was removed`);
});

test('hw-sim start --no-daemon: SIGTERM removes its temp folder; with --dir DIR the files stay in DIR', async (t) => {
  const run = async (extra: string[]): Promise<{ code: number | null; out: string }> => {
    const port = await freePort();
    const sim = spawn(
      process.execPath,
      ['--import', 'tsx', 'hw-sim/main.ts', 'start', '--port', String(port), '--no-daemon', '--no-panel', '--scanner', 'tcp', ...extra],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    t.teardown(() => sim.exitCode === null && sim.kill('SIGKILL'));
    let out = '';
    sim.stdout.on('data', (d: Buffer) => (out += d.toString()));
    sim.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => sim.on('exit', (code) => r(code)));
    await until(() => out.includes('files:'), 30_000, 'the banner');
    sim.kill('SIGTERM');
    return { code: await exited, out };
  };
  const temp = await run([]);
  t.is(temp.code, 0, temp.out);
  const dir = /config: +(\/\S+)\/config\.yaml/.exec(temp.out)?.[1];
  t.truthy(dir, temp.out);
  t.false(existsSync(dir!), `${dir} was removed`);

  const kept = mkdtempSync(join(tmpdir(), 'hw-sim-keep-'));
  t.teardown(() => rmSync(kept, { recursive: true, force: true }));
  const mine = join(kept, 'run');
  const r = await run(['--dir', mine]);
  t.is(r.code, 0, r.out);
  t.true(r.out.includes(`config:     ${mine}/config.yaml`), r.out);
  t.true(r.out.includes(`files:      kept in ${mine} when hw-sim stops (--dir)`), r.out);
  t.true(existsSync(join(mine, 'config.yaml')));
  t.true(existsSync(join(mine, 'tickets')));
});

test('hw-sim console: a technician types "scan 1" and the kiosk reads the card; "advance 2h" moves kioskd\'s clock', async (t) => {
  const port = await freePort();
  const sim = spawn(process.execPath, ['--import', 'tsx', 'hw-sim/main.ts', 'start', '--port', String(port), '--device-id', 'console-sim'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  t.teardown(() => sim.exitCode === null && sim.kill('SIGKILL'));
  let out = '';
  sim.stdout.on('data', (d: Buffer) => (out += d.toString()));
  sim.stderr.on('data', (d: Buffer) => (out += d.toString()));
  await until(() => out.includes('kioskd started'), 30_000, 'the banner');
  t.regex(out, /scan a test card: type "scan 1"/);
  const w = await Watcher.start(`mqtt://127.0.0.1:${port}`, 'kiosk/console-sim/#');
  t.teardown(() => w.stop());
  await w.waitFor((m) => m.topic === 'kiosk/console-sim/state' && JSON.parse(m.payload).mode === 'idle', 30_000);
  sim.stdin.write('scan 1\n');
  const read = await w.waitFor((m) => m.topic === 'kiosk/console-sim/event/card.read', 30_000);
  t.is(JSON.parse(read.payload).data.card, '********0001');
  sim.stdin.write('help\n');
  await until(() => out.includes('unplug|replug'), 5000, 'the help text');
  // "advance": kioskd's time jumps; its next health report (due at once) carries the new time.
  const from = w.mark();
  sim.stdin.write('advance 2h\n');
  await until(() => /kioskd's clock now reads \S+ \(2 h ahead/.test(out), 5000, 'the advance answer');
  const health = await w.waitFor((m) => m.topic === 'kiosk/console-sim/health', 30_000, from);
  const ahead = Date.parse(JSON.parse(health.payload).ts) - Date.now();
  t.true(ahead > 119 * 60_000 && ahead < 121 * 60_000, `health.ts is 2 h ahead of this machine (${Math.round(ahead / 60_000)} min)`);
  sim.stdin.write('advance -1h\n');
  sim.stdin.write('advance 100000000d\n');
  await until(
    () => (out.match(/advance DURATION \(30s, 2h, 1d; at most 366d\) \| advance to HH:MM/g) ?? []).length === 2,
    5000,
    'the usage for a bad advance, twice',
  );
  // kioskd lived through both: it still answers.
  sim.stdin.write('advance 1m\n');
  await until(() => /\(2\.02 h ahead/.test(out), 5000, 'a further minute');
  sim.kill('SIGINT');
});

test('virtual printer: a burst of 15 tickets writes 15 files, each under its own number, and never overwrites one already there', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hw-sim-burst-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A ticket from before (a kept folder): its number is skipped, not overwritten.
  writeFileSync(join(dir, 'ticket-002.png'), 'an older ticket');
  const vp = await VirtualPrinter.start({ outDir: dir, ocr: false });
  t.teardown(() => vp.stop());
  // 15 tickets in one write: every cut arrives before the first ticket is rendered.
  const job = Buffer.concat(
    Array.from({ length: 15 }, (_, i) =>
      Buffer.concat([Buffer.from([0x1b, 0x40]), Buffer.from(`Ticket ${i + 1}\n`), Buffer.from([0x1d, 0x56, 0x00])]),
    ),
  );
  await new Promise<void>((resolve, reject) => {
    const sock = connect(vp.tcpPort, vp.host, () => sock.end(job));
    sock.on('error', reject);
    sock.on('close', () => resolve());
  });
  await until(() => vp.tickets.length === 15, 30_000, '15 tickets');
  await vp.settled();
  const pngs = readdirSync(dir)
    .filter((n) => n.endsWith('.png'))
    .sort();
  t.is(pngs.length, 16, pngs.join(' '));
  t.is(new Set(vp.tickets.map((x) => x.png)).size, 15);
  t.deepEqual(
    vp.tickets.map((x) => x.index),
    [1, ...Array.from({ length: 14 }, (_, i) => i + 3)],
  );
  t.is(readFileSync(join(dir, 'ticket-002.png'), 'utf8'), 'an older ticket');
  // In the order they were cut, each with its own text.
  vp.tickets.forEach((x, i) => t.regex(readFileSync(x.txt, 'utf8'), new RegExp(`Ticket ${i + 1}\\b`)));
  t.true(existsSync(join(dir, 'ticket-016.txt')));
});
