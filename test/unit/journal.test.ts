/**
 * The ticket journal on a full disk and after a crash: no record is lost while there is memory,
 * none is glued onto a torn line, and writing resumes by itself when there is room again.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createJournal } from '../../src/printing/journal.js';

const wall = () => new Date('2026-12-07T01:00:00Z');
const entry = (n: number) => ({ ticketId: `t-${n}`, number: `A00${n}`, department: 'kham-benh', event: 'issued' as const });
const lines = (path: string) => readFileSync(path, 'utf8').split('\n');

test('a torn last line (a full disk or a crash mid-write) is cut off on open; the next record starts its own line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-journal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'tickets.jsonl');
  writeFileSync(path, '{"ticket_id":"t-0","event":"issued"}\n{"ticket_id":"t-0","ev');
  const logs: string[] = [];
  const j = createJournal(dir, wall, pino({ level: 'info' }, { write: (l: string) => void logs.push(l) }));
  j.record(entry(1));
  await j.flush();
  const got = lines(path);
  t.is(got.at(-1), '', 'ends with a newline');
  t.deepEqual(
    got.slice(0, -1).map((l) => JSON.parse(l).ticket_id),
    ['t-0', 't-1'],
    'every line is whole JSON',
  );
  t.true(logs.some((l) => l.includes('torn line')));
});

test('disk full (/dev/full): the lines wait in memory, the kiosk goes on; when there is room they are written, in order, by the next record', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-journal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'tickets.jsonl');
  // Every write to /dev/full fails with ENOSPC, as on a full SD card.
  symlinkSync('/dev/full', path);
  const logs: string[] = [];
  const j = createJournal(dir, wall, pino({ level: 'info' }, { write: (l: string) => void logs.push(l) }));
  j.record(entry(1));
  j.record(entry(2));
  await j.flush();
  t.is(j.pending(), 2, 'both lines kept');
  t.is(logs.filter((l) => l.includes('cannot be written')).length, 1, 'said once, not per line');
  // Room again (the technician freed space): the journal is a file again.
  rmSync(path);
  j.record(entry(3));
  await j.flush();
  t.is(j.pending(), 0);
  t.deepEqual(
    lines(path)
      .filter(Boolean)
      .map((l) => JSON.parse(l).ticket_id),
    ['t-1', 't-2', 't-3'],
  );
  t.true(logs.some((l) => l.includes('written again')));
});

test('an append that fails half-way (the file size limit reached mid-write) is taken back whole: no line twice, none torn, all written once there is room', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-journal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'tickets.jsonl');
  // A child with a 2 KiB file size limit (ulimit -f 4, 512-byte blocks): the append of several
  // lines gets EFBIG part-way through, as on a disk that fills during the write.
  writeFileSync(path, `${'{"pad":"x"}\n'.repeat(150)}`); // 1.8 KB already there
  const script = `
    import { createJournal } from ${JSON.stringify(new URL('../../src/printing/journal.ts', import.meta.url).href)};
    import pino from 'pino';
    const j = createJournal(${JSON.stringify(dir)}, () => new Date('2026-12-07T01:00:00Z'), pino({ level: 'silent' }));
    for (let n = 1; n <= 4; n++) j.record({ ticketId: 't-' + n, number: 'A00' + n, department: 'kham-benh', event: 'issued' });
    await j.flush();
    console.log(j.pending());
  `;
  const r = spawnSync(
    'sh',
    ['-c', `ulimit -f 4; exec "${process.execPath}" --import tsx --input-type=module -e '${script.replace(/'/g, "'\\''")}'`],
    { encoding: 'utf8', cwd: join(import.meta.dirname, '../..') },
  );
  t.is(r.stdout.trim(), '4', `all four lines still wait (stderr: ${r.stderr})`);
  const lines = readFileSync(path, 'utf8').split('\n');
  t.is(lines.at(-1), '', 'no torn line');
  t.is(lines.filter((l) => l.includes('ticket_id')).length, 0, 'the failed attempt left nothing behind');
});
