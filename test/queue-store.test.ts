import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { businessDay } from '../src/queue/business-day.js';
import { openQueueStore, type AllocateRequest } from '../src/queue/store.js';
import { ageOn, priorityOf } from '../src/pipeline/priority.js';

const tmp = () => join(mkdtempSync(join(tmpdir(), 'kioskd-queue-')), 'kioskd.db');
const open = (path = tmp(), resetAt = '00:00') => openQueueStore({ path, timeZone: 'Asia/Ho_Chi_Minh', resetAt, digits: 3, priorityMark: 'U' });
const req = (id: string, over: Partial<AllocateRequest> = {}): AllocateRequest => {
  const at = over.at ?? new Date('2026-11-23T02:00:00Z');
  return { checkinId: id, lane: { prefix: 'A', priority: false }, department: 'kham-benh', ticket: 'queue', card: '********0001', startedAt: at, at, priority: null, faceVerified: true, bhytCode: '000', bhytState: 'checked', ...over };
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

test('a number allocated but not printed is recorded void at the next start; printed ones are not touched', (t) => {
  const path = tmp();
  const a = open(path);
  a.allocate(req('printed'));
  a.markPrinted('printed');
  a.allocate(req('lost'));
  a.close();
  const b = open(path);
  t.deepEqual(b.voidUnprinted('the kiosk restarted before it printed'), [{ checkinId: 'lost', number: 'A002', department: 'kham-benh' }]);
  t.like(b.checkin('lost'), { ticket_state: 'void', void_reason: 'the kiosk restarted before it printed' });
  t.like(b.checkin('printed'), { ticket_state: 'printed' });
  t.is(b.allocate(req('next')).number, 'A003', 'a voided number is never reused');
  b.close();
});

test('the database file is private (0600) and keeps what a finished check-in was: outcome, number, step times', (t) => {
  const path = tmp();
  const s = open(path);
  s.allocate(req('1'));
  s.finish({ checkinId: '1', card: '********0001', startedAt: new Date(), endedAt: new Date(), outcome: 'printed', reason: null, department: 'kham-benh', ticket: 'queue', faceVerified: true, faceScore: 0.71, bhytCode: '000', bhytState: 'checked', stepsMs: { verify: 120 }, totalMs: 900 });
  t.is(statSync(path).mode & 0o777, 0o600);
  t.like(s.checkin('1'), { card: '********0001', outcome: 'printed', number: 'A001', steps_ms: '{"verify":120}', total_ms: 900 });
  s.close();
});

test('a queued BHYT lookup keeps what the gateway needs until reconciled, then the personal data is deleted', (t) => {
  const path = tmp();
  const s = open(path);
  s.allocate(req('c1', { bhytCode: null, bhytState: 'unchecked' }));
  s.queueLookup('c1', { cardId: '001190900001', fullName: 'Nguyễn Thị Ánh Tuyết', dateOfBirth: '1990-01-01' }, new Date());
  t.like(s.pendingLookups(10)[0], { checkinId: 'c1', cardId: '001190900001', fullName: 'Nguyễn Thị Ánh Tuyết', dateOfBirth: '1990-01-01', number: 'A001', attempts: 0 });
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
  t.deepEqual(s.purge(new Date('2026-11-23T02:00:00Z'), 90, 48), { checkins: 1, lookups: 1 });
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
  const voided = s.voidUnprinted('restarted');
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
  t.true(voided.length > 0, 'unprinted numbers were voided');
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
