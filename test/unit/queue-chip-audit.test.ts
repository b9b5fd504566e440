// The audit row keeps the chip read's facts (schema version 3); a version-2 database is migrated in place.
import test from 'ava';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openQueueStore } from '../../src/queue/store.js';
import type { CheckinRecord } from '../../src/queue/types.js';

const open = (path: string) => openQueueStore({ path, timeZone: 'Asia/Ho_Chi_Minh', resetAt: '00:00', digits: 3, priorityMark: 'U' });

function tmp(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-chip-audit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'kioskd.db');
}

const record = (id: string, chip: Readonly<Record<string, unknown>> | null): CheckinRecord => ({
  checkinId: id,
  card: '********0002',
  startedAt: new Date(),
  endedAt: new Date(),
  outcome: 'printed',
  reason: null,
  department: 'kham-benh',
  ticket: 'queue',
  faceVerified: true,
  faceScore: 0.7,
  bhytCode: null,
  bhytState: 'skipped',
  stepsMs: { portrait: 900 },
  totalMs: 4000,
  chip,
});

const CHIP = {
  outcome: 'read',
  code: null,
  protocol: 'pace',
  pa: 'chain-ok',
  attempts: 1,
  steps_ms: { pace: 310, 'read DG2': 420 },
  reference: true,
};

test('a finished check-in records the chip protocol, pa and timings per step as JSON; none without a chip read', (t) => {
  const s = open(tmp(t));
  s.finish(record('with', CHIP));
  s.finish(record('without', null));
  t.deepEqual(JSON.parse(String(s.checkin('with')!['chip'])), CHIP);
  t.is(s.checkin('without')!['chip'], null);
  s.close();
});

test('a database of schema version 2 gains the chip column and keeps its rows', (t) => {
  const path = tmp(t);
  const v2 = open(path);
  v2.finish(record('old', null));
  v2.close();
  // As version 2 left it: the same table without the column.
  const db = new Database(path);
  db.exec('ALTER TABLE checkins DROP COLUMN chip');
  db.pragma('user_version = 2');
  db.close();
  const s = open(path);
  t.like(s.checkin('old'), { outcome: 'printed', chip: null });
  s.finish(record('new', CHIP));
  t.like(JSON.parse(String(s.checkin('new')!['chip'])), { pa: 'chain-ok' });
  s.close();
  const check = new Database(path);
  t.is(check.pragma('user_version', { simple: true }), 3);
  check.close();
});
