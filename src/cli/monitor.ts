/**
 * `kioskd monitor --broker URL`: a live view of every kiosk on a broker. Read-only: it
 * subscribes to <prefix>/+/# and never publishes. A table redrawn in place on a terminal,
 * JSON lines otherwise (one per kiosk row change, and a `"notice":"kiosk-limit"` line when the
 * kiosk cap turns ids away: see src/monitor/fleet.ts).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import mqtt, { type IClientOptions } from 'mqtt';
import { redactUrl } from '../mqtt/link.js';
import { emptyFleet, fleetRows, kioskLimit, kioskRow, reduceFleet, type Fleet } from '../monitor/fleet.js';
import { changeKey, limitJson, renderTable, rowJson } from '../monitor/render.js';

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

/** Retained values arrive in a burst right after subscribing; the fleet counts as complete after this much quiet. */
const SETTLE_QUIET_MS = { once: 1000, live: 300 };
/** …or after this long, for a broker that never goes quiet. */
const SETTLE_MAX_MS = 5000;
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

async function run(o: Options): Promise<number> {
  const out = process.stdout;
  const tty = out.isTTY === true && !o.json;
  // https://no-color.org: any non-empty NO_COLOR turns colour off.
  const colour = tty && out.hasColors() && !process.env['NO_COLOR'];
  const broker = redactUrl(o.url);
  const say = (line: string): void => void process.stderr.write(`kioskd monitor: ${line}\n`);

  let fleet: Fleet = emptyFleet(o.prefix);
  let connection = 'connecting';
  let lastError: string | null = null;
  let outageReported = false;
  let wasConnected = false;
  let settled = false;
  let settleQuiet: ReturnType<typeof setTimeout> | undefined;
  let settleMax: ReturnType<typeof setTimeout> | undefined;
  let reachDeadline: ReturnType<typeof setTimeout> | undefined;
  let stopping = false;
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finish = resolve));

  const options: IClientOptions = {
    clientId: `kioskd-monitor-${randomBytes(4).toString('hex')}`,
    clean: true,
    // 3.1.1: all a read-only monitor needs, and every broker speaks it.
    protocolVersion: 4,
    reconnectPeriod: RETRY_MS,
    connectTimeout: 5000,
    resubscribe: false, // subscribed on each connect below
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.ca ? { ca: o.ca } : {}),
    ...(o.cert && o.key ? { cert: o.cert, key: o.key } : {}),
  };
  const client = mqtt.connect(o.url, options);

  // --- output -------------------------------------------------------------------------
  const emitted = new Map<string, string>();
  /** One line per kiosk whose row changed; `ids` narrows the look to the kiosks a message named. */
  const writeJsonChanges = (ids: Iterable<string> = new Set([...fleet.kiosks.keys(), ...emitted.keys()])): void => {
    const now = Date.now();
    for (const id of [...ids].sort()) {
      const r = kioskRow(fleet, id, now);
      if (!r) {
        if (emitted.delete(id)) out.write(JSON.stringify({ kiosk: id, removed: true }) + '\n');
        continue;
      }
      const key = changeKey(r);
      if (emitted.get(id) === key) continue;
      emitted.set(id, key);
      out.write(JSON.stringify(rowJson(r)) + '\n');
    }
  };
  /** The cap's line when its counts changed; checked each second, not per message (a flood would be a line per id). */
  let limitEmitted = '';
  const writeLimit = (): void => {
    const l = kioskLimit(fleet);
    const line = l ? JSON.stringify(limitJson(l)) : '';
    if (line === limitEmitted) return;
    limitEmitted = line;
    if (line) out.write(line + '\n');
  };
  const table = (size: boolean): string[] =>
    renderTable(fleetRows(fleet, Date.now()), { broker, connection, prefix: o.prefix, limit: kioskLimit(fleet) }, Date.now(), {
      colour,
      ...(size && out.columns ? { width: out.columns } : {}),
      ...(size && out.rows ? { height: out.rows } : {}),
    });
  // Home, each line cleared to its end, then the rest of the screen: no flicker, no scrolling.
  const redraw = (): void =>
    void out.write(
      '\x1b[H' +
        table(true)
          .map((l) => l + '\x1b[K')
          .join('\n') +
        '\x1b[J',
    );
  let redrawTimer: ReturnType<typeof setTimeout> | undefined;
  const changed = (id?: string): void => {
    if (o.once) return;
    // JSON waits for the retained burst, so a kiosk's first line is whole; the screen need not.
    if (!tty) return void (settled && writeJsonChanges(id === undefined ? undefined : [id]));
    // Bursts (a reconnect replays every retained value) become one redraw.
    redrawTimer ??= setTimeout(() => {
      redrawTimer = undefined;
      redraw();
    }, 100);
  };
  const settle = (): void => {
    if (settled) return;
    settled = true;
    clearTimeout(settleQuiet);
    clearTimeout(settleMax);
    if (o.once) {
      if (tty) out.write(table(false).join('\n') + '\n');
      else {
        for (const r of fleetRows(fleet, Date.now())) out.write(JSON.stringify(rowJson(r)) + '\n');
        writeLimit();
      }
      return finish(0);
    }
    if (!tty) {
      writeJsonChanges();
      writeLimit();
    }
  };

  // --- broker -------------------------------------------------------------------------
  client.on('connect', () => {
    connection = 'connected';
    lastError = null;
    if (outageReported) say(`connected to ${broker}`);
    outageReported = false;
    wasConnected = true;
    client.subscribe(`${o.prefix}/+/#`, { qos: 1 }, (err, granted) => {
      const refused = err ? err.message : granted?.some((g) => g.qos === 128) ? `the broker refused the subscription to ${o.prefix}/+/#` : null;
      if (refused) {
        connection = 'subscription refused';
        say(`${refused} (check the user's ACL)`);
        if (o.once) finish(EX_NOPERM);
        return;
      }
      clearTimeout(reachDeadline);
      if (settled) return changed();
      // Wait for the retained burst to go quiet (see `message`), or give up waiting.
      settleQuiet ??= setTimeout(settle, o.once ? SETTLE_QUIET_MS.once : SETTLE_QUIET_MS.live);
      settleMax ??= setTimeout(settle, SETTLE_MAX_MS);
    });
    if (tty && !o.once) redraw();
  });
  let tlsRefused = false;
  client.on('error', (err: Error & { code?: number | string; reason?: string }) => {
    const tls = tlsProblem(err, o);
    lastError = tls ?? err.message;
    // A certificate problem does not go away by retrying: --once says so now, not after --timeout.
    if (tls && o.once && !tlsRefused) {
      tlsRefused = true;
      say(`cannot connect to the broker ${broker}: ${tls}`);
      finish(EX_UNAVAILABLE);
    }
  });
  client.on('close', () => {
    if (stopping) return;
    const reason = lastError ?? 'connection closed';
    connection = `${wasConnected ? 'lost' : 'unreachable'}: ${reason}; retrying`;
    if (!outageReported && !o.once) {
      outageReported = true;
      say(
        wasConnected
          ? `lost the broker ${broker} (${reason}); reconnecting every ${RETRY_MS / 1000} s`
          : `cannot reach the broker ${broker} (${reason}); retrying every ${RETRY_MS / 1000} s`,
      );
    }
    wasConnected = false;
    if (tty && !o.once) redraw();
  });
  client.on('message', (topic, payload, packet) => {
    fleet = reduceFleet(fleet, { topic, payload, retain: packet.retain }, Date.now());
    if (!settled) settleQuiet?.refresh();
    changed(topic.split('/')[1]);
  });

  // --- lifetime -----------------------------------------------------------------------
  const interrupted = (): void => finish(o.once ? 130 : 0);
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  // A closed pipe (`kioskd monitor | head`) ends the monitor quietly.
  out.on('error', () => finish(0));
  if (o.once) {
    reachDeadline = setTimeout(() => {
      say(`cannot reach the broker ${broker} within ${o.timeoutMs / 1000} s: ${lastError ?? 'no answer'}`);
      finish(EX_UNAVAILABLE);
    }, o.timeoutMs);
  } else if (tty) {
    out.write('\x1b[?25l\x1b[2J'); // hide the cursor while redrawing; restored below
    redraw();
  }
  // Every second: "last seen" ages tick, kiosks go stale, errors slide out of the hour.
  const tick = o.once
    ? undefined
    : setInterval(() => {
        if (tty) return redraw();
        if (!settled) return;
        writeJsonChanges();
        writeLimit();
      }, 1000);

  try {
    return await done;
  } finally {
    stopping = true;
    clearInterval(tick);
    for (const t of [settleQuiet, settleMax, reachDeadline, redrawTimer]) clearTimeout(t);
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    if (tty && !o.once) out.write('\x1b[?25h\n');
    // Read-only, nothing to flush: never let a half-open socket hold the exit up.
    let giveUp: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([client.endAsync(true).catch(() => {}), new Promise((r) => (giveUp = setTimeout(r, 1000)))]);
    clearTimeout(giveUp);
  }
}

function secureContextAccepts(opts: { cert?: Buffer; key?: Buffer }): boolean {
  try {
    createSecureContext(opts);
    return true;
  } catch {
    return false;
  }
}

const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/**
 * What a TLS failure means, in the monitor's own options, or null when it is not one. Node's
 * texts ("self-signed certificate in certificate chain", an OpenSSL alert) say what failed but
 * not what to do about it.
 */
function tlsProblem(err: Error & { code?: number | string; reason?: string }, o: { ca?: Buffer; cert?: Buffer }): string | null {
  const code = typeof err.code === 'string' ? err.code : '';
  const what = err.reason ?? err.message.split('\n')[0]!;
  if (UNTRUSTED.has(code)) {
    return o.ca
      ? `the broker's certificate is not signed by the CA in --ca (${what})`
      : `the broker's certificate is not signed by a CA this computer trusts (${what}): pass the hospital's CA certificate with --ca FILE`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `the broker's certificate is not made out to this host name (${what}): use a name it lists in --broker`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return `the broker's certificate ${code === 'CERT_HAS_EXPIRED' ? 'has expired' : 'is not valid yet'} (check this computer's clock too)`;
  if (/CERTIFICATE_REQUIRED$/.test(code) || (!o.cert && /HANDSHAKE_FAILURE$/.test(code)))
    return `the broker requires a client certificate (${what}): pass --cert FILE --key FILE`;
  if (
    /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)$/.test(code)
  ) {
    return `the broker refused the client certificate${o.cert ? ' in --cert' : ''} (${what})`;
  }
  if (/^ERR_SSL_|^ERR_TLS_|CERT/.test(code)) return `TLS with the broker failed (${what})`;
  return null;
}
