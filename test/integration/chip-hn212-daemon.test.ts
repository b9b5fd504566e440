// The HN-212 as the daemon wires it (chip.driver: hn212): config → the HAL's chip port → the
// Socket.IO adapter → hw-sim's double of JTH's service on loopback, and the check-in's readCard on
// that port. The service's raw groups are judged as a PC/SC read is: DG2 becomes the reference,
// passive authentication reaches the test CSCA.
import test from 'ava';
import jpeg from 'jpeg-js';
import { pino } from 'pino';
import { readCard } from '../../src/chip/card-reading.js';
import { parseConfig } from '../../src/config/load.js';
import { halFor } from '../../src/daemon/wiring.js';
import { systemClock } from '../../src/util/clock.js';
import { buildCardFiles, createTestPki, type CardIdentity } from '../../hw-sim/chip/card-files.js';
import { hn212TextOf, startHn212Double } from '../../hw-sim/chip/hn212-double.js';
import { until } from '../helpers/wait.js';

const PKI = createTestPki();
const PORTRAIT = new Uint8Array(jpeg.encode({ data: Buffer.alloc(48 * 60 * 4, 120), width: 48, height: 60 }, 80).data);
/** Invented; none of it may reach the outcome (it is logged, evented and audited). */
const HOLDER: CardIdentity = { idNumber: '079045900002', fullName: 'Trần Văn Đức', birthDate: '07/03/1945', sex: 'M', portrait: PORTRAIT };

test("chip.driver hn212: the daemon's chip port reads the card through the vendor service, and its groups pass up to the test CSCA", async (t) => {
  const double = await startHn212Double();
  t.teardown(() => double.close());
  const yaml = `chip:\n  enabled: true\n  driver: hn212\n  hn212: { url: "${double.url}", reconnectMinMs: 50, reconnectMaxMs: 200 }\n`;
  const { config } = parseConfig(yaml, 't.yaml', { env: {}, hostname: () => 'h' });
  const clock = systemClock();
  const hal = await halFor(config, { log: pino({ level: 'silent' }), clock, wallClock: () => new Date() });
  const port = hal.ports.chip;
  t.teardown(() => port.close());
  t.is(hal.drivers.chip, 'hn212');
  await port.open(new AbortController().signal);
  await until(() => port.state().kind === 'ready', 10_000, `the chip port ready (now ${JSON.stringify(port.state())})`);

  const card = { files: buildCardFiles({ ...HOLDER, pki: PKI }), text: hn212TextOf(HOLDER), portrait: PORTRAIT };
  const progress: string[] = [];
  const reading = readCard(
    {
      reader: port.reader,
      card: { idNumber: HOLDER.idNumber },
      clock,
      signal: new AbortController().signal,
      // The patient places the card when asked; the service reads it and sends the groups.
      onProgress: (p) => {
        progress.push(p.step);
        if (p.step === 'waiting-card') void double.present(card);
      },
    },
    { placeTimeoutMs: 10_000, readTimeoutMs: 10_000, retries: 1, anchors: [PKI.cscaDer] },
  );
  const r = await reading;
  t.like(r.outcome, { kind: 'read', protocol: 'vendor', pa: 'chain-ok', attempts: 1, apdus: 0 });
  t.deepEqual([...r.outcome.groups].sort(), ['DG13', 'DG14', 'DG2', 'SOD']);
  t.deepEqual(progress, ['waiting-card', 'reading']);
  t.deepEqual(r.takePortrait(), PORTRAIT, 'the JPEG of DG2, byte for byte');
  const text = JSON.stringify(r.outcome);
  for (const secret of [HOLDER.idNumber, HOLDER.fullName, HOLDER.birthDate]) t.false(text.includes(secret), 'personal data in the outcome');
});
