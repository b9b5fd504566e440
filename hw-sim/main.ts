#!/usr/bin/env node
/**
 * hw-sim: runs the real kioskd against virtual hardware and an embedded MQTT broker on
 * loopback, so technicians and tests need no kiosk.
 */
import { parseArgs } from 'node:util';
import { runConsole } from './console.js';
import { spawnDaemon } from './daemon.js';
import { startSim } from './sim.js';

const USAGE = `Usage:
  hw-sim [start] [--port N] [--device-id ID] [--scanner pty|tcp] [--no-daemon]

  start        start the embedded MQTT broker and virtual devices on 127.0.0.1, write the
               daemon config for them, and run kioskd against it until Ctrl-C (default)
  --port N     broker port (default 1883, or a free one if 1883 is taken)
  --device-id  kiosk id used in MQTT topics (default sim-kiosk-1)
  --scanner    how kioskd reaches the virtual scanner: pty (a serial device, needs socat;
               the default when socat is installed) or tcp (tcp://127.0.0.1:PORT)
  --no-daemon  do not run kioskd; run it yourself with the printed config`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      'device-id': { type: 'string' },
      'no-daemon': { type: 'boolean' },
      scanner: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0] ?? 'start';
  if (values.help || command !== 'start') {
    process.stdout.write(USAGE + '\n');
    return values.help ? 0 : 64;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    process.stderr.write(`--port must be a TCP port number, not "${values.port}"\n`);
    return 64;
  }
  const scanner = values.scanner;
  if (scanner !== undefined && scanner !== 'pty' && scanner !== 'tcp') {
    process.stderr.write(`--scanner must be pty or tcp, not "${scanner}"\n`);
    return 64;
  }
  const sim = await startSim({
    ...(scanner !== undefined ? { scanner } : {}),
    ...(port !== undefined ? { brokerPort: port } : {}),
    ...(values['device-id'] !== undefined ? { deviceId: values['device-id'] } : {}),
  });
  const { host, port: p, url } = sim.broker;
  const base = `kiosk/${sim.deviceId}`;
  process.stdout.write(
    [
      `hw-sim: virtual kiosk hardware on ${host}`,
      `  MQTT broker (embedded, MQTT 3.1.1): ${url}`,
      `  kiosk id:   ${sim.deviceId}`,
      `  topics:     ${base}/status, /info, /state, /health (retained); ${base}/event/<kind>; ${base}/cmd/<name> -> .../response`,
      `  watch it:   npx mqtt sub -h ${host} -p ${p} -t '${base}/#' -v`,
      `  ask it:     npx mqtt pub -h ${host} -p ${p} -t '${base}/cmd/ping' -m '{"transaction":"t1"}'`,
      `  config:     ${sim.configPath}`,
      `  scanner:    virtual CCCD scanner on ${sim.scanner.link === 'pty' ? `a pty (${sim.scanner.daemonPath})` : sim.scanner.daemonPath}`,
      `  scan a test card: type "scan 1" and Enter here (or "help" for faults: unplug, garbage, …)`,
      `  camera and printer are not built yet: they report "absent"; this config requires only the card.`,
      values['no-daemon']
        ? `  kioskd is not started (--no-daemon): node dist/src/main.js --config ${sim.configPath}`
        : `  Ctrl-C stops the kiosk (it publishes "stopped"), then the simulator.`,
      '',
    ].join('\n'),
  );

  if (values['no-daemon']) {
    await waitForSignal();
    await sim.stop();
    return 0;
  }

  const daemon = spawnDaemon(sim.configPath);
  const stopConsole = runConsole(process.stdin, sim.scanner, (line) => line && process.stdout.write(line + '\n'));
  process.stdout.write(`hw-sim: kioskd started (pid ${daemon.pid})\n`);
  const killOnExit = (): void => {
    if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  let stopRequestedAt = 0;
  const forward = (): void => {
    const now = Date.now();
    // npm and the terminal can both deliver one Ctrl-C; treat signals within 1 s as one press.
    if (stopRequestedAt === 0) {
      stopRequestedAt = now;
      daemon.kill('SIGTERM');
    } else if (now - stopRequestedAt > 1000) {
      process.stdout.write('hw-sim: second Ctrl-C, forcing kioskd to exit\n');
      daemon.kill('SIGINT');
    }
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward); // the terminal was closed
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    daemon.on('exit', (code, signal) => resolve({ code, signal })),
  );
  if (stopRequestedAt === 0) {
    process.stdout.write(`hw-sim: kioskd exited on its own (${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`}); stopping the simulator\n`);
    // Let the broker hand the daemon's last will ("offline") to subscribers before it goes.
    await new Promise((r) => setTimeout(r, 1000));
  }
  stopConsole();
  await sim.stop();
  process.stdout.write('hw-sim: stopped\n');
  return stopRequestedAt !== 0 && exit.code === 0 ? 0 : exit.code === 78 ? 78 : 1;
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
