/**
 * A full state directory (the SD card): the kiosk warns when space runs low, goes out of service
 * before it takes a patient whose number it could not record, and comes back by itself.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SAMPLE_IDENTITIES } from '../../hw-sim/identities.js';
import { startKioskSim } from '../../hw-sim/kiosk.js';
import { createStorageWatch } from '../../src/hal/storage.js';
import type { PortState } from '../../src/hal/ports.js';

const MB = 2 ** 20;

test('the watch: ready, low (degraded), full (faulted), and ready again when space returns; an unreadable directory is faulted', async (t) => {
  let free = 500 * MB;
  const timers: Array<() => void> = [];
  const clock = { now: () => 0, setTimeout: (fn: () => void) => timers.push(fn), clearTimeout: () => {} };
  const w = createStorageWatch({
    dir: '/x',
    lowBytes: 200 * MB,
    minBytes: 20 * MB,
    everyMs: 10_000,
    clock,
    log: pino({ level: 'silent' }),
    freeBytes: async () => free,
  });
  const seen: PortState[] = [];
  w.onStateChange((s) => seen.push(s));
  await w.open(new AbortController().signal);
  t.deepEqual(w.state(), { kind: 'ready' });
  free = 150 * MB;
  t.deepEqual(await w.check(), { kind: 'degraded', code: 'low', reason: 'low' });
  free = 10 * MB;
  t.deepEqual(await w.check(), { kind: 'faulted', code: 'full', reason: 'full' });
  free = 300 * MB;
  t.deepEqual(await w.check(), { kind: 'ready' });
  t.deepEqual(
    seen.map((s) => s.kind),
    ['ready', 'degraded', 'faulted', 'ready'],
  );
  const broken = createStorageWatch({
    dir: '/x',
    lowBytes: 1,
    minBytes: 1,
    everyMs: 10_000,
    clock,
    log: pino({ level: 'silent' }),
    freeBytes: async () => Promise.reject(new Error('ENOENT')),
  });
  await broken.open(new AbortController().signal);
  t.deepEqual(broken.state(), { kind: 'faulted', code: 'unreadable', reason: 'unreadable' });
  await w.close();
});

const root = process.getuid?.() === 0;
// A real full disk needs a tmpfs mount (root). CI runs as root and must run it; elsewhere it says why it is skipped.
(root || process.env['CI'] ? test : test.skip)(
  `kioskd on a 2 MB tmpfs that fills up: storage.low, then out of service with storage.full (a card is not taken), then back by itself${root ? '' : ' (needs root for the tmpfs: skipped here)'}`,
  async (t) => {
    t.timeout(120_000);
    t.true(root, 'this test mounts a tmpfs: run it as root (CI does)');
    const mnt = mkdtempSync(join(tmpdir(), 'kioskd-tmpfs-'));
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0777', 'tmpfs', mnt], { encoding: 'utf8' });
    t.is(m.status, 0, `mount: ${m.stderr}`);
    t.teardown(() => {
      spawnSync('umount', ['-l', mnt]);
      rmSync(mnt, { recursive: true, force: true });
    });
    const stateDir = join(mnt, 'state');
    const k = await startKioskSim({
      brokerPort: 0,
      faceid: false,
      deviceId: 'full-disk',
      configOverrides: {
        kiosk: { resultHoldMs: 300, stateDir, storage: { lowMb: 1, minMb: 0.5, checkEverySec: 1 } },
        checkin: { noPortrait: 'unverified' },
      },
    });
    t.teardown(() => k.stop());
    const { sim, watch } = k;
    await k.waitState((s) => s['mode'] === 'idle' && (s['ports'] as Record<string, PortState>)['storage']?.kind === 'ready', 20_000);
    const from = watch.mark();
    // Fill it to under 1 MB free: low, still taking patients.
    const fill = (name: string, bytes: number) => {
      try {
        writeFileSync(join(mnt, name), Buffer.alloc(bytes));
      } catch {
        /* a full tmpfs takes what it can */
      }
    };
    fill('ballast-1', 1.2 * MB);
    await k.waitEvent('alert', (d) => d['code'] === 'storage.low', 15_000, from);
    t.like(await k.waitState((s) => (s['ports'] as Record<string, PortState>)['storage']?.kind === 'degraded', 10_000), { mode: 'idle' });
    // Under 0.5 MB: out of service before the next patient.
    fill('ballast-2', 0.6 * MB);
    await k.waitEvent('alert', (d) => d['code'] === 'storage.full' && d['level'] === 'error', 15_000, from);
    await k.waitState((s) => s['mode'] === 'out-of-service', 10_000);
    const scanFrom = watch.mark();
    await sim.scanner.scan(SAMPLE_IDENTITIES[0]!);
    t.like(await k.waitEvent('card.read', () => true, 10_000, scanFrom), { session_id: null, mode: 'out-of-service' });
    // Space back: idle again by itself, and the next patient gets a numbered ticket.
    rmSync(join(mnt, 'ballast-2'));
    rmSync(join(mnt, 'ballast-1'));
    await k.waitState((s) => s['mode'] === 'idle' && (s['ports'] as Record<string, PortState>)['storage']?.kind === 'ready', 15_000);
    const end = (await k.checkIn(2)).end;
    t.like(end, { outcome: 'printed', ticket_printed: true });
  },
);
