// `kioskd card read-chip`: the command against the fake reader port and hw-sim's virtual CCCD
// (in-process, no pcscd), and its argument handling through the real command line.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cccdPayload, SAMPLE_IDENTITIES } from '../../hw-sim/identities.js';
import { findPersonalData } from '../../hw-sim/scenario/privacy.js';
import { readChipCommand, type ReadChipArgs } from '../../src/cli/read-chip.js';
import { configSchema } from '../../src/config/schema.js';
import { systemClock } from '../../src/util/clock.js';
import { fakeReader, HOLDER, HOLDER_SECRETS, PKI, PORTRAIT, virtualCard, type CardSpec, type FakeReader } from '../helpers/chip-rig.js';

const sample = SAMPLE_IDENTITIES[1]!; // HOLDER: the chip rig's card holder
const QR = cccdPayload(sample) + '\r\n';

async function run(
  t: import('ava').ExecutionContext,
  args: Omit<ReadChipArgs, 'chip'>,
  o: { card?: CardSpec | null; stdin?: string; reader?: FakeReader; anchors?: boolean } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-read-chip-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  if (o.anchors !== false) writeFileSync(join(dir, 'csca.cer'), PKI.cscaDer);
  const chip = configSchema.shape.chip.parse({ trustAnchorsDir: dir, placeTimeoutMs: 1000 });
  const reader = o.reader ?? fakeReader();
  if (o.card !== null) reader.place(virtualCard(o.card ?? {}).card);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const files = new Map<string, Uint8Array>();
  let closed = false;
  const code = await readChipCommand(
    { ...args, chip },
    {
      stdin: async () => new Uint8Array(Buffer.from(o.stdin ?? '')),
      out: (s) => stdout.push(s),
      err: (s) => stderr.push(s),
      openReader: async () => ({ ...reader, close: async () => void (closed = true) }),
      writeFile: (p, b) => files.set(p, b.slice()),
      clock: systemClock(),
      today: () => ({ year: 2025, month: 6, day: 1 }),
      signal: new AbortController().signal,
    },
  );
  const text = stdout.join('\n');
  return { code, out: text ? (JSON.parse(text) as Record<string, unknown>) : null, text, stderr: stderr.join('\n'), files, closed: () => closed };
}

test('--from-qr: the QR on stdin gives the CAN and the number to check; the groups masked, the SOD status, the timings', async (t) => {
  const r = await run(t, { fromQr: true }, { stdin: QR });
  t.is(r.code, 0, r.stderr);
  t.like(r.out, {
    outcome: 'read',
    protocol: 'pace',
    pa: 'chain-ok',
    dg13: { idNumber: '********0002', fullName: 'T. V. Đ.', birthDate: '**/**/1945', sex: 'Nam', nationality: 'Việt Nam' },
    dg1: { documentNumber: '*****0002', birthDate: '45****', mrz: '(90 characters)', names: { surname: 'T.', givenNames: 'V. D.' } },
    portrait: { format: 'jpeg', bytes: PORTRAIT.length, written: null },
    masked: 'run with --reveal to see every field',
  });
  t.deepEqual(((r.out!['groups'] as string[]) ?? []).slice().sort(), ['COM', 'CardAccess', 'DG1', 'DG13', 'DG14', 'DG2', 'SOD']);
  t.true((r.out!['timings'] as Array<{ step: string }>).some((x) => x.step === 'pace'));
  for (const secret of HOLDER_SECRETS) t.false(r.text.includes(secret), `"${secret}" printed without --reveal`);
  t.deepEqual(
    findPersonalData(r.text).map((l) => l.what),
    [],
  );
  t.regex(r.stderr, /reading the chip/);
  t.is(r.files.size, 0, 'no portrait written unless asked');
  t.true(r.closed());
});

test('--reveal shows every field; --portrait writes the JPEG and only then', async (t) => {
  const r = await run(t, { can: HOLDER.idNumber.slice(-6), reveal: true, portrait: '/tmp/p.jpg' });
  t.is(r.code, 0, r.stderr);
  t.like(r.out, { dg13: { idNumber: HOLDER.idNumber, fullName: HOLDER.fullName, birthDate: HOLDER.birthDate }, portrait: { written: '/tmp/p.jpg' } });
  t.false('masked' in r.out!);
  t.deepEqual(r.files.get('/tmp/p.jpg'), PORTRAIT);
});

test('a wrong CAN, a failed signature check: exit 1 with the code and the reason', async (t) => {
  const wrong = await run(t, { can: '000000' });
  t.is(wrong.code, 1);
  t.like(wrong.out, { outcome: 'counter', code: 'wrong-can', dg13: null });
  const forged = await run(t, { fromQr: true }, { stdin: QR, card: { faults: { corruptHashOf: 'DG1' } } });
  t.is(forged.code, 1);
  t.like(forged.out, { outcome: 'counter', code: 'pa-failed', pa: 'failed' });
  t.regex(String(forged.out!['pa_detail']), /hash mismatch: DG1/);
});

test('no card on the reader in time, or no reader: said on stderr, exit 1 or 69', async (t) => {
  const none = await run(t, { can: '900002' }, { card: null });
  t.is(none.code, 1);
  t.like(none.out, { outcome: 'fallback', code: 'no-card' });
  t.regex(none.stderr, /place the card on the reader/);
  const reader = fakeReader();
  reader.setState('no-reader', 'no reader matching /ACS/ is attached');
  const down = await run(t, { can: '900002' }, { reader, card: null });
  t.is(down.code, 69);
  t.is(down.out, null);
  t.regex(down.stderr, /not ready \(no-reader\): no reader matching \/ACS\/ is attached/);
});

test('arguments: one of --can and --from-qr, a 6-digit CAN, a CCCD on stdin', async (t) => {
  t.is((await run(t, {}, { card: null })).code, 64);
  t.is((await run(t, { can: '123456', fromQr: true }, { card: null })).code, 64);
  const short = await run(t, { can: '12345' }, { card: null });
  t.is(short.code, 64);
  t.regex(short.stderr, /--can takes 6 digits/);
  const garbage = await run(t, { fromQr: true }, { stdin: 'hello\r\n', card: null });
  t.is(garbage.code, 65);
  t.regex(garbage.stderr, /^rejected \(/);
});

test('kioskd card read-chip on the command line: usage errors exit 64, a bad config 78, before any reader is opened', (t) => {
  const kioskd = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'card', 'read-chip', ...args], {
      encoding: 'utf8',
      input: '',
      env: { ...process.env, NOTIFY_SOCKET: '' },
      timeout: 60_000,
    });
  const bare = kioskd();
  t.is(bare.status, 64, bare.stderr);
  t.regex(bare.stderr, /usage: kioskd card read-chip/);
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-read-chip-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'config.yaml'), 'chip: { readTimeoutMs: 5 }\n');
  const bad = kioskd('--can', '123456', '--config', join(dir, 'config.yaml'));
  t.is(bad.status, 78, bad.stderr);
  t.regex(bad.stderr, /chip\.readTimeoutMs/);
});
