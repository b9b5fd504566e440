/**
 * `kioskd monitor --broker URL`: a live view of every kiosk on a broker. Read-only: it
 * subscribes to <prefix>/+/# and never publishes. A table redrawn in place on a terminal,
 * JSON lines otherwise (one per kiosk row change, and a `"notice":"kiosk-limit"` line when the
 * kiosk cap turns ids away: see src/monitor/fleet.ts).
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import { KioskClient } from '../mqtt/kiosk-client.js';
import { redactUrl } from '../mqtt/link.js';
import { emptyFleet, reduceFleet, type Fleet } from '../monitor/fleet.js';
import { monitorOutput } from '../monitor/output.js';
import { settler } from '../monitor/settle.js';
import { monitorTlsProblem } from '../monitor/tls-text.js';

const EX_USAGE = 64;
const EX_NOINPUT = 66;
const EX_UNAVAILABLE = 69;
const EX_NOPERM = 77;

const USAGE = `Usage: kioskd monitor --broker mqtt[s]://HOST[:PORT] [options]
  --broker URL          the broker the kiosks publish to (required)
  --prefix P            topic prefix (default: kiosk)
  --username U          broker user name
  --password-file FILE  broker password, read from FILE
  --ca FILE             CA certificate(s) to trust for mqtts:// (the hospital's own CA)
  --cert FILE           client certificate (PEM), for a broker that requires one
  --key FILE            the client certificate's key (PEM, no passphrase)
  --once                print the fleet once the retained values have arrived, then exit
  --timeout SEC         with --once: how long to try to reach the broker (default 10)
  --json                JSON lines even on a terminal
Exit: 0 done (or Ctrl-C), 64 usage, 66 unreadable or unusable file, 69 broker unreachable or its certificate refused (--once), 77 not allowed to subscribe (--once)`;

const RETRY_MS = 2000;

interface Options {
  readonly url: string;
  readonly prefix: string;
  readonly username?: string;
  readonly password?: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly once: boolean;
  readonly timeoutMs: number;
  readonly json: boolean;
}

class UsageError extends Error {}
class InputError extends Error {}

export async function monitorMain(argv: string[]): Promise<number> {
  let o: Options | 'help';
  try {
    o = parseOptions(argv);
  } catch (err) {
    if (err instanceof InputError) {
      process.stderr.write(`kioskd monitor: ${err.message}\n`);
      return EX_NOINPUT;
    }
    process.stderr.write(`kioskd monitor: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return EX_USAGE;
  }
  if (o === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  return run(o);
}

function parseOptions(argv: string[]): Options | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        broker: { type: 'string' },
        prefix: { type: 'string', default: 'kiosk' },
        username: { type: 'string' },
        'password-file': { type: 'string' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        once: { type: 'boolean', default: false },
        timeout: { type: 'string', default: '10' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return 'help';
  if (!values.broker) throw new UsageError('--broker URL is required');
  let url: URL;
  try {
    url = new URL(values.broker);
  } catch {
    throw new UsageError(`--broker "${values.broker}" is not a URL (e.g. mqtt://broker:1883)`);
  }
  if (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:') throw new UsageError(`--broker must be mqtt:// or mqtts://, not ${url.protocol}//`);
  if (values.ca && url.protocol !== 'mqtts:') throw new UsageError('--ca needs an mqtts:// broker');
  if ((values.cert === undefined) !== (values.key === undefined))
    throw new UsageError('--cert and --key go together: a client certificate needs its key');
  if (values.cert && url.protocol !== 'mqtts:') throw new UsageError('--cert and --key need an mqtts:// broker');
  const prefix = values.prefix;
  if (prefix === '' || /[+#/]/.test(prefix)) throw new UsageError(`--prefix "${prefix}" must be one topic level without + # /`);
  const timeoutSec = Number(values.timeout);
  if (!(timeoutSec > 0 && timeoutSec <= 3600)) throw new UsageError(`--timeout must be seconds between 0 and 3600, not "${values.timeout}"`);
  if (values['password-file'] && !values.username && !url.username) throw new UsageError('--password-file needs --username');
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new InputError(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  const ca = values.ca ? read('CA file', values.ca) : undefined;
  // Node would silently trust nothing from it, and then blame the broker's certificate.
  if (ca && !ca.includes('-----BEGIN CERTIFICATE-----'))
    throw new InputError(
      `the CA file ${values.ca} holds no PEM certificate (a DER file converts with: openssl x509 -inform der -in ${values.ca} -out ca.pem)`,
    );
  const cert = values.cert ? read('client certificate', values.cert) : undefined;
  const key = values.key ? read('client key', values.key) : undefined;
  // MQTT.js would throw on these at connect time; say which file is wrong instead.
  if (cert && key) {
    if (!secureContextAccepts({ cert })) throw new InputError(`the client certificate ${values.cert} is not a PEM certificate`);
    if (!secureContextAccepts({ key })) throw new InputError(`the client key ${values.key} is not a PEM private key without a passphrase`);
    if (!secureContextAccepts({ cert, key })) throw new InputError(`the client key ${values.key} is not the key of the certificate ${values.cert}`);
  }
  return {
    url: values.broker,
    prefix,
    ...(values.username !== undefined ? { username: values.username } : {}),
    ...(values['password-file']
      ? {
          password: read('password file', values['password-file'])
            .toString('utf8')
            .replace(/\r?\n$/, ''),
        }
      : {}),
    ...(ca ? { ca } : {}),
    ...(cert && key ? { cert, key } : {}),
    once: values.once,
    timeoutMs: timeoutSec * 1000,
    json: values.json,
  };
}

/** What the run knows of its broker connection, for the header line and stderr. */
interface Link {
  connection: string;
  lastError: string | null;
  outageReported: boolean;
  wasConnected: boolean;
}

async function run(o: Options): Promise<number> {
  const out = process.stdout;
  const tty = out.isTTY === true && !o.json;
  const broker = redactUrl(o.url);
  let fleet: Fleet = emptyFleet(o.prefix);
  const link: Link = { connection: 'connecting', lastError: null, outageReported: false, wasConnected: false };
  const view = monitorOutput({
    out,
    tty,
    // https://no-color.org: any non-empty NO_COLOR turns colour off.
    colour: tty && out.hasColors() && !process.env['NO_COLOR'],
    once: o.once,
    broker,
    prefix: o.prefix,
    fleet: () => fleet,
    connection: () => link.connection,
  });
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finish = resolve));
  const client = KioskClient.open({
    url: o.url,
    clientId: 'kioskd-monitor',
    prefix: o.prefix,
    // 3.1.1: all a read-only monitor needs, and every broker speaks it.
    protocol: 4,
    reconnectPeriodMs: RETRY_MS,
    connectTimeoutMs: 5000,
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    tls: { ...(o.ca ? { ca: o.ca } : {}), ...(o.cert && o.key ? { cert: o.cert, key: o.key } : {}) },
  });
  const settle = settler(o.once, () => {
    view.settled();
    if (o.once) finish(0);
  });
  let reachDeadline: ReturnType<typeof setTimeout> | undefined;
  const stopBroker = watchBroker(client, o, link, {
    say,
    finish,
    redraw: () => view.redraw(),
    subscribed: () => {
      clearTimeout(reachDeadline);
      if (settle.done()) view.changed();
      else settle.start();
    },
  });
  client.onMessage((m) => {
    fleet = reduceFleet(fleet, { topic: m.topic, payload: m.payload, retain: m.retain }, Date.now());
    settle.quiet();
    view.changed(m.topic.split('/')[1]);
  });

  const interrupted = (): void => finish(o.once ? 130 : 0);
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  // A closed pipe (`kioskd monitor | head`) ends the monitor quietly.
  out.on('error', () => finish(0));
  if (o.once) {
    reachDeadline = setTimeout(() => {
      say(`cannot reach the broker ${broker} within ${o.timeoutMs / 1000} s: ${link.lastError ?? 'no answer'}`);
      finish(EX_UNAVAILABLE);
    }, o.timeoutMs);
  } else if (tty) view.begin();
  // Every second: "last seen" ages tick, kiosks go stale, errors slide out of the hour.
  const tick = o.once ? undefined : setInterval(() => view.tick(), 1000);
  try {
    return await done;
  } finally {
    stopBroker();
    clearInterval(tick);
    clearTimeout(reachDeadline);
    settle.cancel();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    view.end();
    // Read-only, nothing to flush: never let a half-open socket hold the exit up.
    let giveUp: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([client.end().catch(() => {}), new Promise((r) => (giveUp = setTimeout(r, 1000)))]);
    clearTimeout(giveUp);
  }
}

function say(line: string): void {
  process.stderr.write(`kioskd monitor: ${line}\n`);
}

/** Follows the connection: the header's line, one stderr line per outage, --once's early exits. Returns a stop function. */
function watchBroker(
  client: KioskClient,
  o: Options,
  link: Link,
  on: { say: (line: string) => void; finish: (code: number) => void; redraw: () => void; subscribed: () => void },
): () => void {
  const broker = redactUrl(o.url);
  let stopping = false;
  let tlsRefused = false;
  client.mqtt.on('connect', () => {
    link.connection = 'connected';
    link.lastError = null;
    if (link.outageReported) on.say(`connected to ${broker}`);
    link.outageReported = false;
    link.wasConnected = true;
    on.redraw();
  });
  client.onSubscribe((refused) => {
    if (refused === null) return on.subscribed();
    link.connection = 'subscription refused';
    on.say(`${refused} (check the user's ACL)`);
    if (o.once) on.finish(EX_NOPERM);
  });
  client.mqtt.on('error', (err: Error & { code?: number | string; reason?: string }) => {
    const tls = monitorTlsProblem(err, o);
    link.lastError = tls ?? err.message;
    // A certificate problem does not go away by retrying: --once says so now, not after --timeout.
    if (tls && o.once && !tlsRefused) {
      tlsRefused = true;
      on.say(`cannot connect to the broker ${broker}: ${tls}`);
      on.finish(EX_UNAVAILABLE);
    }
  });
  client.mqtt.on('close', () => {
    if (stopping) return;
    const reason = link.lastError ?? 'connection closed';
    link.connection = `${link.wasConnected ? 'lost' : 'unreachable'}: ${reason}; retrying`;
    if (!link.outageReported && !o.once) {
      link.outageReported = true;
      on.say(
        link.wasConnected
          ? `lost the broker ${broker} (${reason}); reconnecting every ${RETRY_MS / 1000} s`
          : `cannot reach the broker ${broker} (${reason}); retrying every ${RETRY_MS / 1000} s`,
      );
    }
    link.wasConnected = false;
    on.redraw();
  });
  return () => void (stopping = true);
}

function secureContextAccepts(opts: { cert?: Buffer; key?: Buffer }): boolean {
  try {
    createSecureContext(opts);
    return true;
  } catch {
    return false;
  }
}
