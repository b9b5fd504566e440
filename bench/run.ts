/**
 * Benchmarks, run by hand or on a bench rig, never in CI:
 *   npm run bench idle [-- --seconds 60]   startup time to "online" and idle RSS of the built daemon
 *   npm run bench print [-- --count 20]    bytes and time per ticket to the virtual printer, raster and cp1258
 *   npm run bench faceid -- --data DIR [--data DIR…] [--pairs FILE] [--groups CSV] [--recognizer MODEL_FILE]
 *                           [--config FILE] [--reference faceapi-ssd] [--mode kiosk] [--threshold T] [--json OUT]
 *   npm run bench adapt -- --data DEV --data ASIA [--recognizer MODEL]   population adaptation experiment
 *   npm run bench checkin -- [--n 200] [--json OUT] [--sample-every 100] [--heap]   back-to-back check-ins, RSS trajectory
 *   npm run bench untrusted                 what hostile images and gateway answers cost (bench/untrusted-input.ts)
 *   npm run bench -- chip [--n 30] [--json OUT]   full chip reads over hw-sim's pcscd: round trips vs the reader code's overhead
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { driverFor } from '../hw-sim/print-sample.js';
import { startSim, TOPIC_PREFIX } from '../hw-sim/sim.js';
import { KioskClient } from '../src/mqtt/kiosk-client.js';
import { kioskTopics } from '../src/mqtt/topics.js';
import { adaptBench } from './adapt.js';
import { checkinBench } from './checkin.js';
import { chipBench } from './chip.js';
import { faceBench } from './faceid.js';
import { VirtualPrinter } from '../hw-sim/devices/printer.js';
import { encodeTicket } from '../src/hal/printer/encode.js';
import { createTicketRenderer } from '../src/printing/ticket/raster.js';
import { layoutTicket } from '../src/printing/ticket/layout.js';
import { sampleTicket } from '../src/printing/ticket/test-ticket.js';

/** Ticket to virtual printer over TCP 9100: encode, send, and the status checks before and after. */
async function print(count: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kioskd-bench-'));
  const vp = await VirtualPrinter.start({ outDir: dir, ocr: false });
  const port = driverFor(vp, { baseMs: 100, maxMs: 500 });
  await port.open(new AbortController().signal);
  while (port.state().kind !== 'ready') await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  const renderer = await createTicketRenderer();
  console.log(
    `print benchmark (${count} tickets each, node ${process.version}, ${process.arch}); fonts loaded in ${(performance.now() - t0).toFixed(0)} ms`,
  );
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const paperMm of [80, 58] as const) {
    for (const text of ['raster', 'cp1258'] as const) {
      const template = {
        hospital: 'BỆNH VIỆN ĐA KHOA TỈNH',
        subtitle: null,
        footer: 'Vui lòng chờ gọi số. Xin cảm ơn!',
        showName: true,
        timeZone: 'Asia/Ho_Chi_Minh',
        paperMm,
      };
      const enc: number[] = [];
      const send: number[] = [];
      let bytes = 0;
      for (let i = 0; i < count; i++) {
        const a = performance.now();
        const job = encodeTicket(
          layoutTicket(sampleTicket(`b-${i}`, `A-${100 + i}`, new Date()), template),
          { model: 'epson-tm-t20iii', paperMm, text },
          renderer,
        );
        const b = performance.now();
        const r = await port.print(job, AbortSignal.timeout(20_000));
        if (!r.ok) throw new Error(r.reason);
        enc.push(b - a);
        send.push(performance.now() - b);
        bytes = job.length;
      }
      console.log(
        `  ${paperMm} mm ${text.padEnd(6)}: ${String(bytes).padStart(6)} bytes/ticket; encode median ${med(enc).toFixed(0)} ms; send + status checks median ${med(send).toFixed(0)} ms; total median ${med(enc.map((e, i) => e + send[i]!)).toFixed(0)} ms`,
      );
    }
  }
  await port.close();
  await vp.stop();
  rmSync(dir, { recursive: true, force: true });
}

async function idle(seconds: number): Promise<void> {
  const entry = 'dist/src/main.js';
  if (!existsSync(entry)) throw new Error('run `npm run build` first: the benchmark measures the built daemon');
  const sim = await startSim({ brokerPort: 0, deviceId: 'bench' });
  let t0 = NaN;
  let onlineMs = NaN;
  const watcher = await KioskClient.connect(
    { url: sim.broker.url, clientId: 'bench-idle', filter: kioskTopics(TOPIC_PREFIX, sim.deviceId).retained('status') },
    (client) =>
      client.onMessage(({ payload }) => {
        if (payload === 'online' && Number.isNaN(onlineMs)) onlineMs = performance.now() - t0;
      }),
  );
  t0 = performance.now();
  const daemon = spawn(process.execPath, [entry, '--config', sim.configPath], { stdio: 'ignore' });
  const rss: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const status = readFileSync(`/proc/${daemon.pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
    rss.push(kb / 1024);
  }
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.on('exit', r));
  await watcher.end();
  await sim.stop();
  const settled = rss.slice(Math.floor(rss.length / 2)).sort((a, b) => a - b);
  const med = settled[Math.floor(settled.length / 2)] ?? NaN;
  console.log(`idle benchmark (${seconds} s, node ${process.version}, ${process.arch})`);
  console.log(`  start to retained "online": ${onlineMs.toFixed(0)} ms`);
  console.log(`  RSS after settling: median ${med.toFixed(1)} MiB, min ${settled[0]?.toFixed(1)} MiB, max ${settled.at(-1)?.toFixed(1)} MiB`);
  const every = Math.max(1, Math.floor(seconds / 12));
  console.log(
    `  RSS every ${every} s (MiB): ${rss
      .filter((_, i) => (i + 1) % every === 0)
      .map((v) => v.toFixed(0))
      .join(' ')}`,
  );
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '30' },
    count: { type: 'string', default: '20' },
    data: { type: 'string', multiple: true },
    groups: { type: 'string' },
    json: { type: 'string' },
    threshold: { type: 'string' },
    pairs: { type: 'string' },
    recognizer: { type: 'string' },
    config: { type: 'string' },
    reference: { type: 'string' },
    mode: { type: 'string', default: 'photo' },
    camera: { type: 'string', default: 'still' },
    burst: { type: 'string', default: '3' },
    examine: { type: 'string' },
    // No default: checkin's is 200 check-ins, chip's 30 reads.
    n: { type: 'string' },
    'sample-every': { type: 'string', default: '100' },
    heap: { type: 'boolean', default: false },
  },
});
const which = positionals[0] ?? 'idle';
if (which === 'idle') await idle(Number(values.seconds));
else if (which === 'print') await print(Number(values.count));
else if (which === 'faceid') {
  if (!values.data?.length) throw new Error('faceid needs --data DIR (DIR/<identity>/<n>.jpg)');
  if (values.reference !== undefined && values.reference !== 'faceapi-ssd') throw new Error('--reference knows only faceapi-ssd');
  if (values.mode !== 'photo' && values.mode !== 'kiosk') throw new Error('--mode is photo (default) or kiosk');
  if (values.camera !== 'still' && values.camera !== 'stream')
    throw new Error('--camera is still (default) or stream (kiosk mode: a burst from the camera model)');
  await faceBench({
    data: values.data,
    pairs: values.pairs,
    groups: values.groups,
    json: values.json,
    threshold: values.threshold === undefined ? undefined : Number(values.threshold),
    recognizer: values.recognizer,
    config: values.config,
    reference: values.reference === 'faceapi-ssd' ? 'faceapi-ssd' : undefined,
    mode: values.mode,
    camera: values.camera === 'stream' ? 'stream' : 'still',
    burst: Number(values.burst),
    examine: values.examine === undefined ? undefined : Number(values.examine),
  });
} else if (which === 'untrusted') await import('./untrusted-input.js');
else if (which === 'checkin')
  await checkinBench({ n: Number(values.n ?? '200'), json: values.json, sampleEvery: Number(values['sample-every']), heap: values.heap });
else if (which === 'chip') await chipBench({ n: Number(values.n ?? '30'), json: values.json });
else if (which === 'adapt') {
  if (values.data?.length !== 2) throw new Error('adapt needs --data DEV --data ASIA');
  await adaptBench(values.data, values.recognizer);
} else {
  console.error(`unknown benchmark "${which}"; available: idle, print, faceid, checkin, chip, adapt, untrusted`);
  process.exit(64);
}
