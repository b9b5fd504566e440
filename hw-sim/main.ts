#!/usr/bin/env node
/**
 * hw-sim: runs the real kioskd against virtual hardware and an embedded MQTT broker on
 * loopback, so technicians and tests need no kiosk.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { KioskClient, KioskCommandError } from '../src/mqtt/kiosk-client.js';
import { kioskTopics } from '../src/mqtt/topics.js';
import { printSample } from './print-sample.js';
import { runConsole, type ConsoleDevices } from './console.js';
import { daemonExit, stopDaemon, type ClockMove } from './daemon.js';
import { startKiosk, type Kiosk, type KioskOptions } from './kiosk.js';
import { TOPIC_PREFIX, type Sim } from './sim.js';
import type { AdvanceClock } from './web/kiosk-clock.js';
import { startWebPanel, type WebPanel } from './web/server.js';

const USAGE = `Usage:
  hw-sim [start] [--port N] [--device-id ID] [--scanner pty|tcp] [--no-faceid] [--no-daemon]
                [--panel-port N] [--no-panel] [--no-chip] [--dir DIR]
  hw-sim print-sample --out DIR [--paper 80|58] [--text raster|cp1258]
  hw-sim run FILE… [--artifacts DIR]   run scenario files (hw-sim/scenarios/README.md) against
                                       the real daemon; exit 0 only if every expectation held

  start        start the embedded MQTT broker and virtual devices on 127.0.0.1, write the
               daemon config for them, and run kioskd against it until Ctrl-C (default)
  --port N     broker port (default 1883, or a free one if 1883 is taken)
  --device-id  kiosk id used in MQTT topics (default sim-kiosk-1)
  --scanner    how kioskd reaches the virtual scanner: pty (a serial device, needs socat;
               the default when socat is installed) or tcp (tcp://127.0.0.1:PORT)
  --no-faceid  do not load the face models in kioskd (starts faster, ~200 MB less)
  --no-daemon  do not run kioskd; run it yourself with the printed config
  --panel-port N  the technician web panel's port on 127.0.0.1 (default 8080, or a free
               one if 8080 is taken)
  --no-panel   do not serve the web panel
  --no-chip    no virtual CCCD chip: do not start hw-sim's own pcscd (one per machine; by
               default it runs when pcscd and vsmartcard-vpcd are installed and no other
               pcscd runs), and kioskd takes the portraits from the identity service
  --dir DIR    keep the generated config, the tickets (PNG + text) and kioskd's state in DIR
               after hw-sim stops; without it they go in a fresh /tmp/kioskd-hw-sim-* folder
               that is deleted when hw-sim stops (tickets print the sample patients' names)

  print-sample prints a sample Vietnamese ticket through kioskd's own encoder and printer
               driver to a virtual printer over TCP, and writes what it printed to DIR as
               ticket-001.png and ticket-001.txt (the text read back by OCR when tesseract-ocr
               and tesseract-ocr-vie are installed)`;

async function main(): Promise<number> {
  // Scenario files have their own options.
  if (process.argv[2] === 'run') return (await import('./scenario/cli.js')).runMain(process.argv.slice(3));
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      'device-id': { type: 'string' },
      'no-daemon': { type: 'boolean' },
      'no-faceid': { type: 'boolean' },
      'panel-port': { type: 'string' },
      'no-panel': { type: 'boolean' },
      'no-chip': { type: 'boolean' },
      scanner: { type: 'string' },
      dir: { type: 'string' },
      out: { type: 'string' },
      paper: { type: 'string' },
      text: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0] ?? 'start';
  if (command === 'print-sample' && !values.help) {
    const paper = values.paper === undefined ? 80 : Number(values.paper);
    const text = values.text ?? 'raster';
    if (!values.out || (paper !== 80 && paper !== 58) || !['raster', 'cp1258'].includes(text)) {
      process.stderr.write('usage: hw-sim print-sample --out DIR [--paper 80|58] [--text raster|cp1258]\n');
      return 64;
    }
    const r = await printSample({ outDir: resolvePath(values.out), paperMm: paper, text: text as 'raster' | 'cp1258' });
    process.stdout.write(
      [
        `hw-sim: printed the sample ticket (${paper} mm, ${text}): ${r.bytes} bytes, encoded in ${r.encodeMs.toFixed(0)} ms, sent and checked in ${r.printMs.toFixed(0)} ms`,
        `  picture: ${r.ticket.png}`,
        `  text:    ${r.ticket.txt}`,
        '',
      ].join('\n'),
    );
    return 0;
  }
  if (values.help || command !== 'start') {
    process.stdout.write(USAGE + '\n');
    return values.help ? 0 : 64;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    process.stderr.write(`--port must be a TCP port number, not "${values.port}"\n`);
    return 64;
  }
  const panelPort = values['panel-port'] === undefined ? undefined : Number(values['panel-port']);
  if (panelPort !== undefined && !(Number.isInteger(panelPort) && panelPort >= 0 && panelPort < 65536)) {
    process.stderr.write(`--panel-port must be a TCP port number, not "${values['panel-port']}"\n`);
    return 64;
  }
  const scanner = values.scanner;
  if (scanner !== undefined && scanner !== 'pty' && scanner !== 'tcp') {
    process.stderr.write(`--scanner must be pty or tcp, not "${scanner}"\n`);
    return 64;
  }
  if (values.dir === '') {
    process.stderr.write('--dir needs a directory\n');
    return 64;
  }
  return start({
    dir: values.dir,
    noDaemon: values['no-daemon'] === true,
    noPanel: values['no-panel'] === true,
    faceid: values['no-faceid'] !== true,
    panelPort,
    kiosk: {
      chip: values['no-chip'] === true ? 'off' : 'try',
      ...(scanner !== undefined ? { scanner } : {}),
      ...(port !== undefined ? { brokerPort: port } : {}),
      ...(values['device-id'] !== undefined ? { deviceId: values['device-id'] } : {}),
    },
  });
}

interface StartOptions {
  /** --dir: kept after hw-sim stops; else a fresh temp folder, deleted. */
  readonly dir: string | undefined;
  readonly noDaemon: boolean;
  readonly noPanel: boolean;
  readonly faceid: boolean;
  readonly panelPort: number | undefined;
  readonly kiosk: Pick<KioskOptions, 'scanner' | 'brokerPort' | 'deviceId' | 'chip'>;
}

/** hw-sim start: the virtual kiosk, its web panel and console, until Ctrl-C (or kioskd exits). */
async function start(o: StartOptions): Promise<number> {
  // Asked for: kept. Otherwise a fresh temp folder, removed however hw-sim stops (but kill -9).
  const keep = o.dir !== undefined;
  const dir = keep ? resolvePath(o.dir!) : mkdtempSync(join(tmpdir(), 'kioskd-hw-sim-'));
  const removeDir = (): void => {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  // Also on a crash (hw-sim exits 1 through process.exit): nothing of a run stays in /tmp.
  process.on('exit', removeDir);
  const { noDaemon } = o;
  let panel: WebPanel | null = null;
  // Set once kioskd runs: the panel's clock buttons reach it through this variable.
  let kiosk: Kiosk | null = null;
  let signalled: Promise<void> | null = null;
  try {
    if (keep) mkdirSync(dir, { recursive: true });
    kiosk = await startKiosk({
      dir,
      faceid: o.faceid,
      daemon: !noDaemon,
      daemonOutput: 'inherit',
      ...o.kiosk,
      beforeDaemon: async (sim) => {
        const advanceClock = noDaemon
          ? undefined
          : (move: ClockMove) =>
              kiosk?.advanceClock ? kiosk.advanceClock(move) : Promise.reject(new Error('kioskd has not started yet; try again in a moment'));
        if (!o.noPanel) panel = await openPanel(sim, o.panelPort, advanceClock);
        // Listening before the banner: a signal right after it must stop hw-sim cleanly, not kill it.
        if (noDaemon) signalled = waitForSignal();
        process.stdout.write(banner(sim, panel, noDaemon, keep, dir));
      },
    });
  } catch (err) {
    await (panel as WebPanel | null)?.close();
    removeDir();
    throw err;
  }
  const k = kiosk;
  const stopAll = async (): Promise<void> => {
    stopConsole();
    await panel?.close();
    await k.stop();
    removeDir();
  };
  const consoleDevices: ConsoleDevices = {
    sim: k.sim,
    ask: (cmd: string, args: Record<string, unknown>) => askDaemon(k.sim.broker.url, k.sim.deviceId, cmd, args),
    ...(k.advanceClock ? { advanceClock: k.advanceClock } : {}),
  };
  const say = (line: string): void => void (line && process.stdout.write(line + '\n'));
  // The console drives the devices even without kioskd: a technician runs `kioskd selftest` against them.
  const stopConsole = runConsole(process.stdin, consoleDevices, say);
  const daemon = k.daemon;
  if (!daemon) {
    await signalled;
    await stopAll();
    return 0;
  }
  process.stdout.write(`hw-sim: kioskd started (pid ${daemon.pid})\n`);
  k.sim.printer.onTicket((t) =>
    process.stdout.write(`hw-sim: printer ${t.complete ? 'printed a ticket' : 'tore off an unfinished ticket'}: ${t.png} (text: ${t.txt})\n`),
  );
  process.on('exit', () => void stopDaemon(daemon, { graceMs: 0 }));
  let stopRequestedAt = 0;
  const forward = (): void => {
    const now = Date.now();
    // npm and the terminal can both deliver one Ctrl-C; treat signals within 1 s as one press.
    if (stopRequestedAt === 0) {
      stopRequestedAt = now;
      void k.stopDaemon(Infinity);
    } else if (now - stopRequestedAt > 1000) {
      process.stdout.write('hw-sim: second Ctrl-C, forcing kioskd to exit\n');
      daemon.kill('SIGINT');
    }
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward); // the terminal was closed
  const exit = await daemonExit(daemon);
  if (stopRequestedAt === 0) {
    process.stdout.write(
      `hw-sim: kioskd exited on its own (${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`}); stopping the simulator\n`,
    );
    // Let the broker hand the daemon's last will ("offline") to subscribers before it goes.
    await new Promise((r) => setTimeout(r, 1000));
  }
  await stopAll();
  process.stdout.write(keep ? `hw-sim: stopped; the files are in ${dir}\n` : 'hw-sim: stopped\n');
  return stopRequestedAt !== 0 && exit.code === 0 ? 0 : exit.code === 78 ? 78 : 1;
}

/** What hw-sim start prints once the devices are up: where everything is and how to drive it. */
function banner(sim: Sim, panel: WebPanel | null, noDaemon: boolean, keep: boolean, dir: string): string {
  const { host, port: p, url } = sim.broker;
  const base = `kiosk/${sim.deviceId}`;
  return [
    `hw-sim: virtual kiosk hardware on ${host}`,
    `  MQTT broker (embedded, MQTT 3.1.1): ${url}`,
    `  kiosk id:   ${sim.deviceId}`,
    `  topics:     ${base}/status, /info, /state, /health (retained); ${base}/event/<kind>; ${base}/cmd/<name> -> .../response`,
    `  watch it:   npx mqtt sub -h ${host} -p ${p} -t '${base}/#' -v`,
    `  ask it:     npx mqtt pub -h ${host} -p ${p} -t '${base}/cmd/ping' -m '{"transaction":"t1"}'`,
    `  config:     ${sim.configPath}`,
    `  scanner:    virtual CCCD scanner on ${sim.scanner.link === 'pty' ? `a pty (${sim.scanner.daemonPath})` : sim.scanner.daemonPath}`,
    `  scan a test card: type "scan 1" and Enter here (or "help" for faults: unplug, garbage, …)`,
    `  printer:    virtual receipt printer on ${sim.printer.url}; tickets appear in ${sim.ticketsDir} (PNG + text)`,
    `  print a test ticket: type "print"; paper out: "paper out" (and "paper ok"); "help" lists all`,
    `  camera:     a fake rpicam-still on kioskd's PATH (${sim.camera.binDir}); "face 2" / "face stranger" / "face empty" chooses what it shows`,
    `  ${sim.faces.note}`,
    `  buttons:    virtual lamps and buttons on ${sim.panel.url}; "yes" / "no" answer the consent question, "helpme" presses help`,
    `  portraits:  identity service ${sim.identity.url}; BHYT gateway ${sim.gateway.url} ("bhyt 2 010": sample 2's card expired)`,
    chipLine(sim),
    `  a check-in: "scan 1", then "yes": a ticket with a queue number prints (with "face stranger" first: a counter ticket)`,
    panel
      ? `  web panel:  ${panel.url}  (open it in a browser: mode and step, lamps, buttons, card scans, faces, printer faults, tickets, MQTT traffic)`
      : `  web panel:  off (--no-panel)`,
    noDaemon
      ? [
          `  kioskd is not started (--no-daemon): ${Object.entries(sim.camera.env)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')} node dist/src/main.js --config ${sim.configPath}`,
          `  self-test:  the same with "selftest" before --config; "paper out", "unplug", "camera fail", "clock unsynced" here make it fail`,
        ].join('\n')
      : `  Ctrl-C stops the kiosk (it publishes "stopped"), then the simulator.`,
    keep
      ? `  files:      kept in ${dir} when hw-sim stops (--dir)`
      : `  files:      ${dir} is deleted when hw-sim stops (--dir DIR keeps the config, tickets and state)`,
    '',
  ].join('\n');
}

/** The chip reader's banner line: where it is and how to use it, or why there is none. */
function chipLine(sim: Sim): string {
  const c = sim.chip.status();
  if (!c.available) return `  chip:       no virtual CCCD chip: ${c.off}; kioskd takes the portraits from the identity service`;
  return [
    `  chip:       virtual CCCD chip reader "${c.reader}" on hw-sim's own pcscd; after "scan 1", "card on 1" puts sample 1's card on it`,
    `              (the chip's portrait is the face reference); "card off", "card fault wrong-can|removed|slow|jpeg2000|corrupt-hash|…"`,
  ].join('\n');
}

/** The web panel on the port asked for; by default on 8080, or on a free port when 8080 is taken. */
async function openPanel(sim: Sim, port: number | undefined, advanceClock: AdvanceClock | undefined): Promise<WebPanel> {
  const taken = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
  const clock = advanceClock ? { advanceClock } : {};
  try {
    return await startWebPanel({ sim, port: port ?? 8080, ...clock });
  } catch (err) {
    if (!taken(err)) throw err;
    if (port !== undefined)
      throw new Error(`--panel-port ${port}: 127.0.0.1:${port} is already in use; choose another port, or leave --panel-port out for a free one`);
    return startWebPanel({ sim, port: 0, ...clock });
  }
}

/** One command to the daemon over the broker, as central monitoring would send it; the console prints the reply. */
async function askDaemon(url: string, deviceId: string, command: string, args: Record<string, unknown>): Promise<string> {
  const client = await KioskClient.connect({
    url,
    clientId: `hw-sim-console-${process.pid}`,
    deviceId,
    filter: kioskTopics(TOPIC_PREFIX, deviceId).response(command),
    reconnectPeriodMs: 0,
  });
  try {
    return JSON.stringify(await client.command(command, args, { timeoutMs: 30_000, transactionPrefix: 'console' }));
  } catch (err) {
    if (!(err instanceof KioskCommandError) || err.reason === 'unsent') throw err;
    return err.reason === 'refused' ? `error: ${err.message}` : 'no answer from kioskd within 30 s';
  } finally {
    await client.end();
  }
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, () => resolve());
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`hw-sim: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
