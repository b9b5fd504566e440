/**
 * The queue clock faults of issue 15 against the real daemon. A scenario cannot move kioskd's
 * clock back (hw-sim's `advance` only moves it forward, and a restarted kioskd keeps the jump),
 * so this test does what a clock stepped back across a restart does: one kiosk numbers a patient
 * on a clock a day ahead, and a second kiosk on the same state directory starts on the right
 * clock, a day earlier.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startKioskSim } from '../../hw-sim/kiosk.js';

const CONFIG = { kiosk: { resultHoldMs: 300 }, hal: { card: { duplicateWindowSec: 1 } }, checkin: { consentTimeoutSec: 5, retryPauseMs: 100 } };

test('kioskd started with its clock a day back: clock.stepped-back is alerted and numbering carries on, never giving a number again', async (t) => {
  t.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-clock-back-'));
  const ahead = await startKioskSim({ dir, faceid: false, brokerPort: 0, configOverrides: CONFIG });
  let first: Record<string, unknown>;
  try {
    await ahead.advanceClock({ ms: 86_400_000 });
    first = (await ahead.checkIn(1)).end;
  } finally {
    await ahead.stop();
  }
  t.regex(String(first['number']), /^[A-Z]+\d{3}$/);
  const back = await startKioskSim({ dir, faceid: false, brokerPort: 0, configOverrides: CONFIG });
  try {
    // The runner's watcher is subscribed before kioskd starts: the start-up alert is in it.
    const alert = await back.waitEvent('alert', (d) => d['code'] === 'clock.stepped-back', 20_000, 0);
    t.like(alert, { level: 'error' });
    const second = (await back.checkIn(3)).end;
    const n = String(first['number']);
    const next = n.replace(/\d+$/, (d) => String(Number(d) + 1).padStart(d.length, '0'));
    t.is(second['number'], next, 'the number after the one given on the later day, not the first of the earlier day');
  } finally {
    await back.stop();
  }
  const db = new Database(join(dir, 'state', 'kioskd.db'), { readonly: true });
  const rows = db.prepare(`SELECT day, number FROM checkins WHERE number IS NOT NULL`).all() as Array<{ day: string; number: string }>;
  db.close();
  t.is(rows.length, 2);
  t.is(new Set(rows.map((r) => r.number)).size, 2, 'a number was given twice');
  t.is(rows[0]!.day, rows[1]!.day, 'both numbered in the later business day');
});
