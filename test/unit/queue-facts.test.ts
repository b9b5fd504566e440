import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openQueueStore } from '../../src/queue/store.js';

test('allocate records the number and its lane; the check-in facts (face, BHYT) are written once, by finish', (t) => {
  const s = openQueueStore({
    path: join(mkdtempSync(join(tmpdir(), 'kioskd-facts-')), 'q.db'),
    timeZone: 'Asia/Ho_Chi_Minh',
    resetAt: '00:00',
    digits: 3,
    priorityMark: 'U',
  });
  t.teardown(() => s.close());
  const at = new Date('2026-11-23T02:00:00Z');
  s.begin({ checkinId: 'c', card: '********0001', startedAt: at });
  s.allocate({
    checkinId: 'c',
    lane: { prefix: 'A', priority: true },
    department: 'kham-benh',
    ticket: 'queue',
    card: '********0001',
    startedAt: at,
    at,
    priority: 'elderly',
  });
  t.like(s.checkin('c'), {
    number: 'AU001',
    lane: 'AU',
    seq: 1,
    department: 'kham-benh',
    ticket_kind: 'queue',
    priority: 'elderly',
    ticket_state: 'allocated',
  });
  t.like(s.checkin('c'), { face_verified: null, bhyt_code: null, bhyt_state: null });
  s.finish({
    checkinId: 'c',
    card: '********0001',
    startedAt: at,
    endedAt: at,
    outcome: 'printed',
    reason: null,
    department: 'kham-benh',
    ticket: 'queue',
    faceVerified: true,
    faceScore: 0.41,
    bhytCode: '000',
    bhytState: 'checked',
    stepsMs: {},
    totalMs: 1,
  });
  t.like(s.checkin('c'), { number: 'AU001', face_verified: 1, face_score: 0.41, bhyt_code: '000', bhyt_state: 'checked' });
});
