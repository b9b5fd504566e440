// The check-in's chip read through the real PC/SC stack: kioskd's chip port (PC/SC driver behind
// the HAL port) and `kioskd card read-chip`, against hw-sim's virtual CCCD (real PACE and secure
// messaging, on its own thread) on a throwaway pcscd with Debian's vpcd driver. Serial: one pcscd per machine.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { ExecutionContext } from 'ava';
import { kioskdArgv } from '../../hw-sim/daemon.js';
import { cccdPayload, SAMPLE_IDENTITIES } from '../../hw-sim/identities.js';
import { findPersonalData } from '../../hw-sim/scenario/privacy.js';
import { readCard, type ChipProgress } from '../../src/chip/card-reading.js';
import { createChipPort } from '../../src/hal/chip/hal-port.js';
import { systemClock } from '../../src/util/clock.js';
import { HOLDER, HOLDER_SECRETS, PKI, PORTRAIT } from '../helpers/chip-rig.js';
import { pcscdTest, startPcscd, type TestPcscd } from '../helpers/pcscd.js';
import { startCardThread, type CardThread } from '../helpers/virtual-card-thread.js';
import { buildCardFiles } from '../../hw-sim/chip/card-files.js';
import type { ChipFaults } from '../../hw-sim/chip/virtual-cccd.js';
import { until } from '../helpers/wait.js';

const READER = 'Kiosk Chip Read 00 00';
const FILES = buildCardFiles({ ...HOLDER, portrait: PORTRAIT, pki: PKI });

function placeCard(t: ExecutionContext, pcscd: TestPcscd, faults?: ChipFaults): CardThread {
  const card = startCardThread({ port: pcscd.port, files: FILES, security: { can: HOLDER.idNumber.slice(-6) }, ...(faults ? { faults } : {}) });
  t.teardown(() => card.remove());
  return card;
}

async function withPcscd(fn: (p: TestPcscd) => Promise<void>): Promise<void> {
  const pcscd = await startPcscd({ name: 'Kiosk Chip Read' });
  try {
    await fn(pcscd);
  } finally {
    await pcscd.stop();
  }
}

pcscdTest(
  'the HAL chip port reads the virtual CCCD through pcscd: PACE, chain-ok, the JPEG; pulled away, it asks to hold still and reads again',
  async (t) => {
    t.timeout(120_000);
    await withPcscd(async (pcscd) => {
      const port = createChipPort({ readerPattern: `^${READER}$`, connectTimeoutMs: 5000 }, { clock: systemClock(), log: pino({ level: 'silent' }) });
      t.teardown(() => port.close());
      await port.open(new AbortController().signal);
      await until(() => port.state().kind === 'ready', 10_000, `the reader (${JSON.stringify(port.state())})`);
      const opts = { placeTimeoutMs: 15_000, readTimeoutMs: 30_000, retries: 2, anchors: [PKI.cscaDer] };
      const progress: ChipProgress[] = [];
      const reading = readCard(
        {
          reader: port.reader,
          card: { idNumber: HOLDER.idNumber },
          clock: systemClock(),
          signal: new AbortController().signal,
          onProgress: (p) => progress.push(p),
        },
        opts,
      );
      await until(() => progress.length > 0, 5000, 'the "place the card" prompt');
      const one = placeCard(t, pcscd);
      const r = await reading;
      t.like(r.outcome, { kind: 'read', protocol: 'pace', pa: 'chain-ok', attempts: 1 });
      t.deepEqual(
        progress.map((p) => p.step),
        ['waiting-card', 'reading'],
      );
      t.deepEqual(r.takePortrait(), PORTRAIT);
      t.log(`full read through pcscd + vpcd: ${Math.round(r.outcome.ms)} ms, ${r.outcome.apdus} APDUs`);

      // The next patient pulls the card away mid-read, then puts it back.
      let present = true;
      port.reader.onCard((ev) => (present = ev.present));
      await one.remove();
      await until(() => !present, 10_000, 'the first card to leave the reader');
      const second: ChipProgress[] = [];
      let replaced = false;
      const pulled = placeCard(t, pcscd, { removeAfterApdus: 15 });
      const again = await readCard(
        {
          reader: port.reader,
          card: { idNumber: HOLDER.idNumber },
          clock: systemClock(),
          signal: new AbortController().signal,
          onProgress: (p) => {
            second.push(p);
            if (p.step === 'retry' && !replaced) {
              replaced = true;
              void pulled.remove().then(() => placeCard(t, pcscd));
            }
          },
        },
        opts,
      );
      t.like(again.outcome, { kind: 'read', attempts: 2 }, JSON.stringify(again.outcome.timings.map((x) => x.step)));
      // (The card may still be connecting when the read starts: then it first asks for it.)
      t.deepEqual(
        second.map((p) => p.step).filter((step) => step !== 'waiting-card'),
        ['reading', 'retry', 'reading'],
      );
      t.deepEqual(again.takePortrait(), PORTRAIT);
      t.false(JSON.stringify([r.outcome, again.outcome]).includes(HOLDER.idNumber));
    });
  },
);

pcscdTest('kioskd card read-chip --from-qr through pcscd: masked JSON, the portrait only into --portrait', async (t) => {
  t.timeout(120_000);
  await withPcscd(async (pcscd) => {
    const dir = mkdtempSync(join(tmpdir(), 'kioskd-read-chip-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'csca.cer'), PKI.cscaDer);
    writeFileSync(join(dir, 'config.yaml'), `chip:\n  reader: { readerPattern: '^${READER}$' }\n  trustAnchorsDir: ${dir}\n`);
    placeCard(t, pcscd);
    const child = spawn(
      process.execPath,
      [...kioskdArgv(), 'card', 'read-chip', '--from-qr', '--config', join(dir, 'config.yaml'), '--portrait', join(dir, 'face.jpg')],
      { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: '' } },
    );
    let [stdout, stderr] = ['', ''];
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(cccdPayload(SAMPLE_IDENTITIES[1]!) + '\r\n');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    t.is(code, 0, stderr);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    t.like(out, { outcome: 'read', protocol: 'pace', pa: 'chain-ok', dg13: { idNumber: '********0002' } });
    for (const secret of HOLDER_SECRETS) t.false(stdout.includes(secret), secret);
    t.deepEqual(
      findPersonalData(stdout).map((l) => l.what),
      [],
    );
    t.deepEqual(new Uint8Array(readFileSync(join(dir, 'face.jpg'))), PORTRAIT);
    t.is(statSync(join(dir, 'face.jpg')).mode & 0o777, 0o600);
  });
});
