import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { businessDay } from '../../src/queue/business-day.js';
import { openQueueStore, type AllocateRequest } from '../../src/queue/store.js';
import { ageOn, priorityOf } from '../../src/pipeline/priority.js';

const tmp = () => join(mkdtempSync(join(tmpdir(), 'kioskd-queue-')), 'kioskd.db');
const open = (path = tmp(), resetAt = '00:00') => openQueueStore({ path, timeZone: 'Asia/Ho_Chi_Minh', resetAt, digits: 3, priorityMark: 'U' });
const req = (id: string, over: Partial<AllocateRequest> = {}): AllocateRequest => {
  const at = over.at ?? new Date('2026-11-23T02:00:00Z');
  return {
    checkinId: id,
    lane: { prefix: 'A', priority: false },
    department: 'kham-benh',
    ticket: 'queue',
    card: '********0001',
    startedAt: at,
    at,
    priority: null,
    ...over,
  };
};

test('numbers run per department prefix and per priority lane, from 1 each day', (t) => {
  const s = open();
  t.is(s.allocate(req('1')).number, 'A001');
  t.is(s.allocate(req('2')).number, 'A002');
  t.is(s.allocate(req('3', { lane: { prefix: 'B', priority: false } })).number, 'B001');
  t.is(s.allocate(req('4', { lane: { prefix: 'A', priority: true } })).number, 'AU001');
  t.is(s.allocate(req('5')).number, 'A003');
  // 17:00 UTC on the 23rd is 00:00 on the 24th in Hà Nội: a new day.
  t.is(s.allocate(req('6', { at: new Date('2026-11-23T17:00:00Z') })).number, 'A001');
  s.close();
});

test('the daily reset follows the configured local time, not UTC midnight', (t) => {
  // 05:00 in Hà Nội is 22:00 UTC the day before.
  t.is(businessDay(new Date('2026-11-23T21:59:00Z'), 'Asia/Ho_Chi_Minh', '05:00'), '2026-11-23');
  t.is(businessDay(new Date('2026-11-23T22:00:00Z'), 'Asia/Ho_Chi_Minh', '05:00'), '2026-11-24');
  const s = open(tmp(), '05:00');
  t.is(s.allocate(req('1', { at: new Date('2026-11-23T21:30:00Z') })).number, 'A001');
  t.is(s.allocate(req('2', { at: new Date('2026-11-23T21:59:59Z') })).number, 'A002');
  t.is(s.allocate(req('3', { at: new Date('2026-11-23T22:00:00Z') })).number, 'A001');
  s.close();
});

test('after a crash a number not known to have printed is unknown, not void; a check-in never completed is interrupted', (t) => {
  const path = tmp();
  const a = open(path);
  const end = {
    card: '********0001',
    startedAt: new Date(),
    endedAt: new Date(),
    reason: null,
    department: 'kham-benh',
    ticket: 'queue',
    faceVerified: true,
    faceScore: 0.7,
    bhytCode: '000',
    bhytState: 'checked',
    stepsMs: {},
    totalMs: 1,
  } as const;
  a.begin({ checkinId: 'printed', card: '********0001', startedAt: new Date('2026-11-23T01:59:00Z') });
  a.allocate(req('printed'));
  a.markPrinted('printed');
  a.finish({ ...end, checkinId: 'printed', outcome: 'printed' });
  // Killed between the printer taking the ticket and the record saying so: nobody knows.
  a.begin({ checkinId: 'lost', card: '********0002', startedAt: new Date('2026-11-23T02:00:00Z') });
  a.allocate(req('lost'));
  // Known not to have printed (it could not be encoded): void, at the time it happened.
  a.allocate(req('voided'));
  a.markVoid('voided', 'cannot encode the ticket');
  // Killed at the camera, before numbering: the audit still has it.
  a.begin({ checkinId: 'early', card: '********0003', startedAt: new Date('2026-11-23T02:01:00Z') });
  a.close();
  const b = open(path);
  const settled = b.settleAfterCrash('the kiosk stopped before the check-in ended');
  t.deepEqual(settled, { unknown: [{ checkinId: 'lost', number: 'A002', department: 'kham-benh' }], interrupted: 3 });
  t.like(b.checkin('lost'), { ticket_state: 'unknown', outcome: 'interrupted', ended_at: null });
  t.like(b.checkin('voided'), { ticket_state: 'void', void_reason: 'cannot encode the ticket' });
  t.like(b.checkin('printed'), { ticket_state: 'printed', outcome: 'printed' });
  t.like(b.checkin('early'), {
    card: '********0003',
    outcome: 'interrupted',
    number: null,
    ticket_state: null,
    reason: 'the kiosk stopped before the check-in ended',
  });
  t.deepEqual(b.settleAfterCrash('again'), { unknown: [], interrupted: 0 }, 'a second start finds nothing left open');
  t.is(b.allocate(req('next')).number, 'A004', 'neither an unknown nor a void number is reused');
  // A completed check-in started with begin() ends like any other.
  b.begin({ checkinId: 'next', card: '********0004', startedAt: new Date('2026-11-23T02:00:00Z') });
  b.finish({ ...end, checkinId: 'next', outcome: 'counter', department: 'counter', ticket: 'counter' });
  t.like(b.checkin('next'), { outcome: 'counter', number: 'A004', department: 'kham-benh' });
  b.close();
});

test('clock stepped back a day: numbering stays in the later business day, never gives A001 again, also after a restart', (t) => {
  const path = tmp();
  const today = new Date('2026-11-24T02:00:00Z');
  const yesterday = new Date('2026-11-23T02:00:00Z');
  const a = open(path);
  t.is(a.allocate(req('1', { at: today })).number, 'A001');
  t.is(a.allocate(req('2', { at: today })).number, 'A002');
  const back = a.allocate(req('3', { at: yesterday }));
  t.is(back.number, 'A003', 'the clock went back a day: A001 would be given a second time');
  t.like(back, { day: '2026-11-24', steppedBack: { clockDay: '2026-11-23' } });
  t.like(a.clockCheck(yesterday), { clockDay: '2026-11-23', highDay: '2026-11-24', steppedBack: true });
  t.like(a.clockCheck(today), { steppedBack: false, implausibleAheadHours: null });
  a.close();
  const b = open(path);
  t.like(b.clockCheck(yesterday), { steppedBack: true }, 'the highest day survives a restart');
  t.like(b.allocate(req('4', { at: yesterday })), { number: 'A004', day: '2026-11-24' });
  t.is(b.countToday(yesterday), 0, 'counted in the day numbering uses');
  // The next real day resets as usual.
  t.like(b.allocate(req('5', { at: new Date('2026-11-25T02:00:00Z') })), { number: 'A001', day: '2026-11-25', steppedBack: null });
  b.close();
  // And the database itself refuses what the clock-back incident did: A001 dated the day before.
  const raw = new Database(path);
  const insert = (id: string, day: string, number: string, seq: number) =>
    raw
      .prepare(
        `INSERT INTO checkins (id, started_at, card, day, number, lane, seq, ticket_state) VALUES (?, '2026-11-23T02:00:00Z', 'x', ?, ?, 'A', ?, 'allocated')`,
      )
      .run(id, day, number, seq);
  t.throws(() => insert('r1', '2026-11-24', 'A001', 1), { any: true, message: /day before the highest/ });
  t.throws(() => insert('r2', '2026-11-25', 'A01', 1), { any: true, message: /UNIQUE constraint failed: checkins.day, checkins.lane, checkins.seq/ });
  t.throws(() => raw.prepare(`UPDATE meta SET value = '2026-11-01' WHERE key = 'high_day'`).run(), { any: true, message: /never goes back/ });
  raw.close();
});

test('clock far ahead for one start: the purge refuses to delete records or counters', (t) => {
  const s = open();
  const now = new Date('2026-11-23T02:00:00Z');
  const old = new Date('2026-09-01T02:00:00Z');
  s.allocate(req('old', { at: old, startedAt: old }));
  for (const id of ['1', '2', '3']) s.allocate(req(id));
  const plus = (d: number) => new Date(now.getTime() + d * 86_400_000);
  // +8 days: the incident deleted today's counters (7-day window); +91: the whole audit.
  for (const days of [8, 91]) {
    const r = s.purge(plus(days), 90, 72);
    t.is(r.checkins, 0, `+${days} d deleted check-in records`);
    t.like(r, { refused: { aheadHours: days * 24, newest: now } }, `+${days} d`);
    t.like(s.clockCheck(plus(days)), { implausibleAheadHours: days * 24, steppedBack: false });
  }
  t.truthy(s.checkin('old'));
  t.truthy(s.checkin('3'));
  t.like(s.allocate(req('4')), { number: 'A004' }, "today's counter is still there");
  // A weekend (62 h) is no clock fault: the purge runs and keeps to the retention.
  t.like(s.purge(new Date(now.getTime() + 62 * 3_600_000), 80, 72), { checkins: 1, refused: null });
  t.is(s.checkin('old'), undefined);
  s.close();
});

test("a lane never restarts below the day's highest issued number, whatever happened to its counter", (t) => {
  const path = tmp();
  const a = open(path);
  for (const id of ['1', '2', '3']) a.allocate(req(id));
  a.close();
  // The +8 d purge deleted today's counter while today's check-ins stayed (a restored file would too).
  const raw = new Database(path);
  raw.prepare(`DELETE FROM sequences`).run();
  raw.close();
  const b = open(path);
  // Before: A001 again, and "UNIQUE constraint failed" for every later patient that day.
  t.is(b.allocate(req('4')).number, 'A004');
  t.is(b.allocate(req('5')).number, 'A005');
  t.is(b.allocate(req('6', { lane: { prefix: 'B', priority: false } })).number, 'B001');
  b.close();
});

test('a database written by the previous version is migrated: states, numbers and numbering carry on', (t) => {
  const path = tmp();
  const v1 = new Database(path);
  v1.exec(`
    CREATE TABLE sequences (day TEXT NOT NULL, lane TEXT NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (day, lane));
    CREATE TABLE checkins (id TEXT PRIMARY KEY, started_at TEXT NOT NULL, ended_at TEXT, card TEXT NOT NULL, outcome TEXT, reason TEXT, department TEXT, ticket_kind TEXT, priority TEXT,
      face_verified INTEGER, face_score REAL, bhyt_code TEXT, bhyt_state TEXT, day TEXT, number TEXT,
      ticket_state TEXT CHECK (ticket_state IN ('allocated', 'printed', 'void')), void_reason TEXT, steps_ms TEXT, total_ms INTEGER);
    CREATE UNIQUE INDEX checkins_one_number_a_day ON checkins (day, number) WHERE number IS NOT NULL;
    CREATE INDEX checkins_started ON checkins (started_at);
    CREATE TABLE bhyt_pending (checkin_id TEXT PRIMARY KEY, card_id TEXT NOT NULL, full_name TEXT NOT NULL, date_of_birth TEXT NOT NULL, queued_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);
    INSERT INTO checkins (id, started_at, card, outcome, day, number, ticket_state) VALUES
      ('p', '2026-11-23T01:00:00Z', 'x', 'printed', '2026-11-23', 'AU007', 'printed'),
      ('a', '2026-11-23T01:10:00Z', 'x', NULL, '2026-11-23', 'AU008', 'allocated'),
      ('c', '2026-11-23T01:20:00Z', 'x', 'declined', NULL, NULL, NULL);
  `);
  v1.close();
  const s = open(path);
  t.deepEqual(s.settleAfterCrash('stopped'), {
    unknown: [{ checkinId: 'a', number: 'AU008', department: null as unknown as string }],
    interrupted: 1,
  });
  t.like(s.checkin('p'), { lane: 'AU', seq: 7, ticket_state: 'printed' });
  t.like(s.checkin('c'), { outcome: 'declined', number: null });
  // No counter row came along: the numbers already issued decide the next one.
  t.is(s.allocate(req('n', { lane: { prefix: 'A', priority: true } })).number, 'AU009');
  t.like(s.clockCheck(new Date('2026-11-22T02:00:00Z')), { highDay: '2026-11-23', steppedBack: true });
  s.close();
});

test('the database file is private (0600) and keeps what a finished check-in was: outcome, number, step times', (t) => {
  const path = tmp();
  const s = open(path);
  s.allocate(req('1'));
  s.finish({
    checkinId: '1',
    card: '********0001',
    startedAt: new Date(),
    endedAt: new Date(),
    outcome: 'printed',
    reason: null,
    department: 'kham-benh',
    ticket: 'queue',
    faceVerified: true,
    faceScore: 0.71,
    bhytCode: '000',
    bhytState: 'checked',
    stepsMs: { verify: 120 },
    totalMs: 900,
  });
  t.is(statSync(path).mode & 0o777, 0o600);
  t.like(s.checkin('1'), { card: '********0001', outcome: 'printed', number: 'A001', steps_ms: '{"verify":120}', total_ms: 900 });
  s.close();
});

test('a queued BHYT lookup keeps what the gateway needs until reconciled, then the personal data is deleted', (t) => {
  const path = tmp();
  const s = open(path);
  s.allocate(req('c1'));
  s.queueLookup('c1', { cardId: '001190900001', fullName: 'Nguyễn Thị Ánh Tuyết', dateOfBirth: '1990-01-01' }, new Date());
  t.like(s.pendingLookups(10)[0], {
    checkinId: 'c1',
    cardId: '001190900001',
    fullName: 'Nguyễn Thị Ánh Tuyết',
    dateOfBirth: '1990-01-01',
    number: 'A001',
    attempts: 0,
  });
  s.lookupFailed('c1');
  t.is(s.pendingLookups(10)[0]!.attempts, 1);
  s.reconciled('c1', '000');
  t.deepEqual(s.pendingLookups(10), []);
  t.like(s.checkin('c1'), { bhyt_code: '000', bhyt_state: 'reconciled' });
  s.close();
  const raw = new Database(path, { readonly: true });
  const everything = JSON.stringify(raw.prepare('SELECT * FROM checkins').all()) + JSON.stringify(raw.prepare('SELECT * FROM bhyt_pending').all());
  raw.close();
  t.false(everything.includes('001190900001'));
  t.false(everything.includes('Tuyết'));
  t.false(everything.includes('1990-01-01'));
  // Deleted means gone from the file too (secure_delete), not only from query results.
  const bytes = Buffer.concat([readFileSync(path), existsSync(`${path}-wal`) ? readFileSync(`${path}-wal`) : Buffer.alloc(0)]);
  t.false(bytes.includes(Buffer.from('001190900001')), 'the CCCD number is still in the database file');
  t.false(bytes.includes(Buffer.from('Tuyết')), 'the name is still in the database file');
  t.false(bytes.includes(Buffer.from('1990-01-01')), 'the date of birth is still in the database file');
});

test('retention: check-ins older than the retention and stale queued lookups are deleted', (t) => {
  const s = open();
  const old = new Date('2026-01-01T02:00:00Z');
  s.allocate(req('old', { at: old, startedAt: old }));
  s.queueLookup('old', { cardId: '001190900001', fullName: 'X', dateOfBirth: '1990' }, old);
  s.allocate(req('new'));
  t.deepEqual(s.purge(new Date('2026-11-23T02:00:00Z'), 90, 48), { checkins: 1, lookups: 1, refused: null });
  t.is(s.checkin('old'), undefined);
  t.truthy(s.checkin('new'));
  s.close();
});

test('kill -9 while allocating, twice: no number is ever handed out twice and numbering continues', async (t) => {
  const path = tmp();
  // One fixed instant for the children and the check: numbering restarts at Hà Nội midnight (17:00 UTC).
  const day = '2026-11-23T02:00:00.000Z';
  const seen: string[] = [];
  for (let round = 0; round < 2; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/allocate-loop.ts', path, day], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the allocating child exited on its own (${code})`)));
      const check = setInterval(() => {
        if (out.split('\n').length > 60 + round * 37) {
          clearInterval(check);
          child.removeAllListeners('exit');
          child.kill('SIGKILL');
          resolve();
        }
      }, 5);
    });
    await new Promise((r) => child.on('exit', r));
    seen.push(...out.split('\n').filter(Boolean));
  }
  const s = open(path);
  const voided = s.settleAfterCrash('restarted').unknown;
  const now = new Date(day); // the children numbered in this day's sequence
  const next = s.allocate(req('after', { at: now, startedAt: now })).number;
  s.close();
  const raw = new Database(path, { readonly: true });
  const numbers = (raw.prepare(`SELECT number FROM checkins WHERE number LIKE 'A%'`).all() as Array<{ number: string }>).map((r) => r.number);
  raw.close();
  t.is(new Set(seen).size, seen.length, 'a number was printed twice');
  t.is(new Set(numbers).size, numbers.length, 'the database holds a duplicate number');
  for (const n of seen) t.true(numbers.includes(n), `${n} was handed out but is not recorded`);
  const max = Math.max(...numbers.filter((n) => n !== next).map((n) => Number(n.slice(1))));
  t.is(Number(next.slice(1)), max + 1, 'numbering continues after the last committed number');
  t.true(voided.length > 0, 'numbers not known to have printed were settled as unknown');
});

test('priority from the date of birth: 75 and over, under 6; a birth year alone errs towards priority', (t) => {
  const today = { year: 2026, month: 11, day: 23 };
  t.is(ageOn('1951-11-23', today), 75);
  t.is(ageOn('1951-11-24', today), 74);
  t.is(priorityOf('1951-11-23', today), 'elderly');
  t.is(priorityOf('1951-11-24', today), null);
  t.is(priorityOf('1951', today), 'elderly');
  t.is(priorityOf('2020-11-24', today), 'young-child');
  t.is(priorityOf('2020-11-23', today), null);
  t.is(priorityOf('1990-01-01', today), null);
  t.is(priorityOf('garbage', today), null);
});
