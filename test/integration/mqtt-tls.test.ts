/**
 * kioskd and `kioskd monitor` against a TLS broker, as a hospital runs one: mqtts://, the
 * hospital's own CA, optionally client certificates. A throwaway PKI is made with openssl at
 * test time (keys never leave the temp dir) and a real mosquitto serves it.
 */
import test from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type IClientOptions } from 'mqtt';
import { killQuietly, runDaemon, writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { runKioskdCli } from '../helpers/kioskd-cli.js';
import { makePki, openssl, type Pki } from '../helpers/pki.js';
import { freePort, waitForListen } from '../helpers/ports.js';
import { until } from '../helpers/wait.js';
import { kioskdArgv } from '../../hw-sim/daemon.js';

const MOSQUITTO = '/usr/sbin/mosquitto';

interface TlsBroker {
  readonly url: string;
  readonly log: () => string;
  stop(): Promise<void>;
}

/** mosquitto with one TLS listener on a free loopback port. */
async function tlsMosquitto(pki: Pki, requireCertificate: boolean): Promise<TlsBroker> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} is missing: run \`apt-get install -y mosquitto\` (the TLS tests run a real broker)`);
  const port = await freePort();
  const conf = join(pki.dir, `mosquitto-${port}.conf`);
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      `cafile ${pki.ca}`,
      `certfile ${pki.serverCert}`,
      `keyfile ${pki.serverKey}`,
      `require_certificate ${requireCertificate}`,
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      '',
    ].join('\n'),
  );
  // As root mosquitto drops to user "mosquitto" before it reads its certificates.
  if (process.getuid?.() === 0) {
    const uid = spawnSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'mosquitto'], { encoding: 'utf8' });
    if (uid.status === 0)
      for (const f of [pki.dir, pki.ca, pki.serverCert, pki.serverKey, conf]) chownSync(f, Number(uid.stdout), Number(gid.stdout));
  }
  const proc = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d: Buffer) => (log += d.toString()));
  try {
    await waitForListen(port, 5000);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`mosquitto did not start: ${(err as Error).message}\n${log}`);
  }
  return {
    url: `mqtts://127.0.0.1:${port}`,
    log: () => log,
    stop: () => stopChild(proc),
  };
}

async function stopChild(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

/** What central monitoring sees on the broker: every message on `filter`, connected with `tls`. */
async function subscribe(url: string, filter: string, tls: IClientOptions) {
  const client = await mqtt.connectAsync(url, {
    protocolVersion: 4,
    reconnectPeriod: 200,
    clientId: `tls-watch-${Math.random().toString(16).slice(2)}`,
    ...tls,
  });
  const seen: Array<{ topic: string; payload: string; retain: boolean }> = [];
  client.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await client.subscribeAsync(filter, { qos: 1 });
  return { seen, stop: () => client.endAsync(true) };
}

const daemonConfig = (id: string, url: string, tls: Record<string, string>) => ({
  device: { id },
  mqtt: { url, reconnectBaseMs: 300, tls },
  hal: { mode: 'sim' as const },
});

/** The daemon's outage line for this broker, with everything it says about why. */
const outageLine = (d: DaemonProc): string | undefined =>
  d
    .output()
    .split('\n')
    .find((l) => /MQTT broker/.test(l) && /retrying/.test(l));

let pki: Pki;
let tlsBroker: TlsBroker;
let mtlsBroker: TlsBroker;
const daemons: DaemonProc[] = [];
const started = (d: DaemonProc): DaemonProc => (daemons.push(d), d);

test.before(async () => {
  pki = makePki();
  [tlsBroker, mtlsBroker] = await Promise.all([tlsMosquitto(pki, false), tlsMosquitto(pki, true)]);
});

test.after.always(async () => {
  for (const d of daemons) killQuietly(d);
  await Promise.all([tlsBroker?.stop(), mtlsBroker?.stop()]);
  // Throwaway keys: never left behind.
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

/** The kiosk on the TLS broker, shared by the daemon test and the monitor test. */
let tlsKiosk: Promise<DaemonProc> | undefined;
const kioskOnTls = (): Promise<DaemonProc> =>
  (tlsKiosk ??= (async () => {
    const d = started(runDaemon(daemonConfig('tls-lobby', tlsBroker.url, { caFile: pki.ca })));
    await d.waitForOutput(/MQTT broker connected/, 30_000);
    return d;
  })());

test('with mqtts:// and the hospital CA the daemon connects: its retained status is "online"', async (t) => {
  const w = await subscribe(tlsBroker.url, 'kiosk/tls-lobby/status', { ca: [readPem(pki.ca)] });
  t.teardown(() => w.stop());
  const d = await kioskOnTls();
  await until(() => w.seen.some((m) => m.payload === 'online'), 15_000, 'kiosk/tls-lobby/status "online"').catch((e: Error) => {
    throw new Error(`${e.message}\ndaemon:\n${d.output()}\nbroker:\n${tlsBroker.log()}`);
  });
  t.is(d.proc.exitCode, null);
});

test('mutual TLS: with its client certificate the daemon connects; without it, it stays offline and says the broker wants a certificate', async (t) => {
  const w = await subscribe(mtlsBroker.url, 'kiosk/+/status', { ca: [readPem(pki.ca)], cert: readPem(pki.clientCert), key: readPem(pki.clientKey) });
  t.teardown(() => w.stop());
  const withCert = started(runDaemon(daemonConfig('mtls-ok', mtlsBroker.url, { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey })));
  const without = started(runDaemon(daemonConfig('mtls-nocert', mtlsBroker.url, { caFile: pki.ca })));
  await until(() => w.seen.some((m) => m.topic === 'kiosk/mtls-ok/status' && m.payload === 'online'), 30_000, 'kiosk/mtls-ok/status "online"').catch(
    (e: Error) => {
      throw new Error(`${e.message}\ndaemon:\n${withCert.output()}\nbroker:\n${mtlsBroker.log()}`);
    },
  );
  const line = await until(() => outageLine(without) !== undefined, 30_000, 'the outage line of the kiosk without a certificate')
    .then(() => outageLine(without)!)
    .catch((e: Error) => {
      throw new Error(`${e.message}\ndaemon:\n${without.output()}`);
    });
  t.log(line);
  t.regex(line, /certificate/i, 'the technician is told it is about a certificate');
  t.regex(line, /client certificate|mqtt\.tls\.certFile/, 'and that the broker wants one from the kiosk');
  // It keeps trying, offline, instead of exiting; and the broker never saw it online.
  await new Promise((r) => setTimeout(r, 1500));
  t.is(without.proc.exitCode, null, 'the kiosk keeps running');
  t.false(w.seen.some((m) => m.topic === 'kiosk/mtls-nocert/status'));
  t.is(countOutages(without), 1, 'said once per outage, not on every retry');
});

test('a kiosk that trusts the wrong CA stays up, offline, and says the broker certificate is not trusted', async (t) => {
  const w = await subscribe(tlsBroker.url, 'kiosk/wrong-ca/status', { ca: [readPem(pki.ca)] });
  t.teardown(() => w.stop());
  const d = started(runDaemon(daemonConfig('wrong-ca', tlsBroker.url, { caFile: pki.otherCa })));
  await until(() => outageLine(d) !== undefined, 30_000, 'the outage line').catch((e: Error) => {
    throw new Error(`${e.message}\ndaemon:\n${d.output()}`);
  });
  const line = outageLine(d)!;
  t.log(line);
  t.regex(line, /certificate/i);
  t.regex(line, /mqtt\.tls\.caFile/, 'names the setting to fix');
  t.notRegex(d.output(), /uncaught|unhandled|crash/i);
  await new Promise((r) => setTimeout(r, 1500));
  t.is(d.proc.exitCode, null, 'the kiosk keeps running offline');
  t.false(w.seen.some((m) => m.payload === 'online'));
  t.is(countOutages(d), 1, 'said once per outage, not on every retry');
});

test('TLS files that cannot work are config errors (exit 78 naming the setting), not a crash at connect time', async (t) => {
  // A key that is not the certificate's made MQTT.js throw inside the daemon: exit 70, restarted in a loop.
  const mismatch = runDaemon(daemonConfig('bad-key', mtlsBroker.url, { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.serverKey }));
  const notPem = join(pki.dir, 'ca.der');
  openssl(pki.dir, ['x509', '-in', pki.ca, '-outform', 'DER', '-out', notPem]);
  const der = runDaemon(daemonConfig('der-ca', tlsBroker.url, { caFile: notPem }));
  const halfPair = runDaemon(daemonConfig('half-pair', mtlsBroker.url, { caFile: pki.ca, certFile: pki.clientCert }));
  for (const d of [mismatch, der, halfPair]) started(d);
  // 'exit' can come before the last of stderr has been read: wait for the words, then judge them.
  const says = async (d: DaemonProc, re: RegExp): Promise<void> => {
    t.like(await d.exited, { code: 78 });
    await until(() => re.test(d.output()), 5000, `${re}`).catch(() => {});
    t.regex(d.output(), re);
  };
  await says(mismatch, /mqtt\.tls\.keyFile: .*server\.key is not the key of the certificate .*client\.pem/);
  await says(der, /mqtt\.tls\.caFile: .*ca\.der holds no PEM certificate/);
  await says(halfPair, /mqtt\.tls\.keyFile: mqtt\.tls\.certFile and mqtt\.tls\.keyFile go together/);
});

// The build when up to date, else the source (hw-sim/daemon.ts).
const kioskd = kioskdArgv();

const monitorOnce = (args: string[]) => runKioskdCli(['monitor', ...args, '--once', '--json']);

const kiosksIn = (stdout: string): Array<Record<string, unknown>> =>
  stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('kioskd monitor --ca lists the kiosk on an mqtts:// broker; without --ca it exits 69 naming the certificate', async (t) => {
  await kioskOnTls();
  const ok = await monitorOnce(['--broker', tlsBroker.url, '--ca', pki.ca]);
  t.is(ok.code, 0, ok.stderr);
  t.like(
    kiosksIn(ok.stdout).find((r) => r['kiosk'] === 'tls-lobby'),
    { kiosk: 'tls-lobby', status: 'online' },
  );

  const untrusted = await monitorOnce(['--broker', tlsBroker.url, '--timeout', '5']);
  t.is(untrusted.code, 69);
  t.log(untrusted.stderr.trim());
  t.regex(untrusted.stderr, /certificate/i);
  t.regex(untrusted.stderr, /--ca/, 'says which option fixes it');
  t.is(untrusted.stdout, '');
});

test('kioskd monitor --cert/--key: a broker that requires client certificates lists the kiosk; without them exit 69 naming the certificate', async (t) => {
  const w = await subscribe(mtlsBroker.url, 'kiosk/mtls-mon/status', {
    ca: [readPem(pki.ca)],
    cert: readPem(pki.clientCert),
    key: readPem(pki.clientKey),
  });
  t.teardown(() => w.stop());
  started(runDaemon(daemonConfig('mtls-mon', mtlsBroker.url, { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey })));
  await until(() => w.seen.some((m) => m.payload === 'online'), 30_000, 'kiosk/mtls-mon/status "online"');

  const ok = await monitorOnce(['--broker', mtlsBroker.url, '--ca', pki.ca, '--cert', pki.clientCert, '--key', pki.clientKey]);
  t.is(ok.code, 0, ok.stderr);
  t.like(
    kiosksIn(ok.stdout).find((r) => r['kiosk'] === 'mtls-mon'),
    { kiosk: 'mtls-mon', status: 'online' },
  );

  const noCert = await monitorOnce(['--broker', mtlsBroker.url, '--ca', pki.ca, '--timeout', '5']);
  t.is(noCert.code, 69);
  t.log(noCert.stderr.trim());
  t.regex(noCert.stderr, /certificate/i);
  t.regex(noCert.stderr, /--cert/, 'says which options fix it');
});

test("kioskd monitor: --cert without --key or on mqtt:// is a usage error (64); a key that is not the certificate's, or a DER CA, is an unusable file (66)", async (t) => {
  const run = (...args: string[]) => spawnSync(process.execPath, [...kioskd, 'monitor', ...args], { encoding: 'utf8', timeout: 30_000 });
  const half = run('--broker', 'mqtts://127.0.0.1:1', '--cert', pki.clientCert);
  t.is(half.status, 64);
  t.regex(half.stderr, /--cert and --key go together/);
  t.is(run('--broker', 'mqtt://127.0.0.1:1', '--cert', pki.clientCert, '--key', pki.clientKey).status, 64);
  const missing = run('--broker', 'mqtts://127.0.0.1:1', '--cert', join(pki.dir, 'nope.pem'), '--key', pki.clientKey);
  t.is(missing.status, 66);
  t.regex(missing.stderr, /client certificate .*nope\.pem: ENOENT/);
  const mismatch = run('--broker', 'mqtts://127.0.0.1:1', '--cert', pki.clientCert, '--key', pki.serverKey);
  t.is(mismatch.status, 66);
  t.regex(mismatch.stderr, /client key .*server\.key is not the key of the certificate .*client\.pem/);
  const der = join(pki.dir, 'monitor-ca.der');
  openssl(pki.dir, ['x509', '-in', pki.ca, '-outform', 'DER', '-out', der]);
  const derCa = run('--broker', 'mqtts://127.0.0.1:1', '--ca', der);
  t.is(derCa.status, 66);
  t.regex(derCa.stderr, /CA file .*monitor-ca\.der holds no PEM certificate/);
});

const readPem = (file: string): Buffer => readFileSync(file);

function countOutages(d: DaemonProc): number {
  return d
    .output()
    .split('\n')
    .filter((l) => /MQTT broker/.test(l) && /retrying/.test(l)).length;
}

test('kioskd selftest names the same mqtt.tls setting as the daemon: the broker check passes with the CA and fails with the wrong one', async (t) => {
  const selftest = (tls: Record<string, string>) =>
    runKioskdCli([
      'selftest',
      '--config',
      writeConfig({ ...daemonConfig('selftest-tls', tlsBroker.url, tls), faceid: { enabled: false } }),
      '--skip',
      'printer',
      '--skip',
      'camera',
      '--skip',
      'lamps',
      '--skip',
      'scanner',
      '--skip',
      'bhyt',
      '--skip',
      'clock',
    ]);
  const ok = await selftest({ caFile: pki.ca });
  t.is(ok.code, 0, ok.stdout + ok.stderr);
  t.regex(ok.stdout, /✔ broker/);
  const wrong = await selftest({ caFile: pki.otherCa });
  t.is(wrong.code, 1, wrong.stdout + wrong.stderr);
  t.regex(wrong.stdout, /✘ broker .*not signed by the CA in mqtt\.tls\.caFile/);
  t.regex(wrong.stdout, /FAILED: broker/);
});
