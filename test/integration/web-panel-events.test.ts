/**
 * The web panel's live-update stream (/events, Server-Sent Events) under abuse: a reader that
 * stops reading is cut off instead of having every message pile up in hw-sim's memory, and
 * the number of streams is capped. No browser and no kioskd: the virtual kiosk's broker and
 * the panel only.
 */
import test from 'ava';
import mqtt from 'mqtt';
import { connect, type Socket } from 'node:net';
import { startSim, type Sim } from '../../hw-sim/sim.js';
import { until } from '../../hw-sim/wait.js';
import { startWebPanel, type WebPanel } from '../../hw-sim/web/server.js';

let sim: Sim | undefined;
let panel: WebPanel | undefined;
const MAX_BUFFER = 256 * 1024;

test.before(async () => {
  sim = await startSim({ brokerPort: 0, scanner: 'tcp', deviceId: 'sse-sim' });
  panel = await startWebPanel({ sim, port: 0, maxEventClients: 4, maxEventBufferBytes: MAX_BUFFER });
});

test.after.always(async () => {
  await panel?.close();
  await sim?.stop();
});

/** A raw HTTP client on /events: counts what it receives, can stop reading. */
function openStream(): Promise<{ sock: Socket; status: number; received: () => number; text: () => string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const sock = connect(panel!.port, '127.0.0.1');
    let buf = ''; // the start (status line, first events) and the last 64 KB
    let bytes = 0;
    let settled = false;
    const ended = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('error', (e) => (settled ? undefined : reject(e)));
    sock.on('data', (d: Buffer) => {
      bytes += d.length;
      buf += d.toString('latin1');
      if (buf.length > 256 * 1024) buf = buf.slice(0, 64 * 1024) + buf.slice(-64 * 1024);
      const head = /^HTTP\/1\.1 (\d+)/.exec(buf);
      if (head && !settled) {
        settled = true;
        resolve({ sock, status: Number(head[1]), received: () => bytes, text: () => buf, ended });
      }
    });
    sock.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${panel!.port}\r\n\r\n`);
  });
}

test.serial('a stream whose reader stalls is closed once its backlog passes the limit; a reader that keeps up gets every message', async (t) => {
  t.timeout(60_000);
  const stalled = await openStream();
  t.is(stalled.status, 200);
  stalled.sock.pause(); // a tab that stopped reading (or a client that never does)
  const healthy = await openStream();
  t.teardown(() => {
    stalled.sock.destroy();
    healthy.sock.destroy();
  });

  // A flood on the kiosk's topics: every message goes out to every stream.
  const client = await mqtt.connectAsync(sim!.broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
  t.teardown(() => client.end(true));
  const N = 12_000;
  const payload = JSON.stringify({ filler: 'x'.repeat(380) });
  for (let i = 0; i < N; i++) client.publish(`kiosk/sse-sim/event/flood`, payload);
  await client.publishAsync('kiosk/sse-sim/event/flood-end', '{}');
  await until(() => healthy.text().includes('flood-end'), 30_000, 'the healthy reader to see the end of the flood');
  const sent = healthy.received();
  t.true(sent > 5 * 1024 * 1024, `the flood sent ${sent} bytes to a reader`);

  // The stalled reader reads again: it gets what was in flight, then the stream ends.
  stalled.sock.resume();
  const ended = await Promise.race([stalled.ended.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
  t.true(ended, `the stalled stream was closed (it got ${stalled.received()} of ${sent} bytes)`);
  t.true(stalled.received() < sent, `it got ${stalled.received()} of ${sent} bytes`);
  t.false(healthy.sock.destroyed, 'the reader that kept up is still connected');
});

test.serial('at most maxEventClients streams at once; the next is refused (503) until one closes', async (t) => {
  const open = await Promise.all([openStream(), openStream(), openStream(), openStream()]);
  t.teardown(() => open.forEach((s) => s.sock.destroy()));
  t.deepEqual(
    open.map((s) => s.status),
    [200, 200, 200, 200],
  );
  const refused = await openStream();
  t.teardown(() => refused.sock.destroy());
  t.is(refused.status, 503);
  await until(() => /too many live-update streams open \(4\)/.test(refused.text()), 2000, 'the reason');
  open[0]!.sock.destroy();
  await open[0]!.ended;
  // The server notices the closed stream a moment later.
  let again = await openStream();
  for (let i = 0; again.status !== 200 && i < 50; i++) {
    again.sock.destroy();
    await new Promise((r) => setTimeout(r, 100));
    again = await openStream();
  }
  t.teardown(() => again.sock.destroy());
  t.is(again.status, 200);
});
