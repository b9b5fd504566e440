import { accessSync, closeSync, constants, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import YAML from 'yaml';
import type { z } from 'zod';
import { configSchema, deviceIdSchema, type Config } from './schema.js';

/** Exit code for a configuration error (sysexits EX_CONFIG); systemd must not restart-loop on it. */
export const EX_CONFIG = 78;
export const ENV_PREFIX = 'KIOSKD__';
/**
 * A kiosk config is a few KB. Anything over this is refused before it is read: a 50 MB value
 * once took 11 s and 1.8 GB to parse, and a kiosk that cannot start must say why at once.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/**
 * How many times YAML aliases may be expanded (the yaml package's default, stated here): a
 * "billion laughs" file of nested aliases would otherwise expand to gigabytes.
 */
const MAX_ALIAS_COUNT = 100;

export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(`invalid configuration in ${source}: ${problems.length} problem(s)`);
  }
  /** One line per problem, with its path, ready for a technician to fix. */
  format(): string {
    const lines = this.problems.map((p) => `  - ${p.path || '(root)'}: ${p.message}`);
    return `${this.source}: ${this.problems.length} configuration error${this.problems.length === 1 ? '' : 's'}\n${lines.join('\n')}`;
  }
}

/** Secrets are kept apart from the config so that logging or publishing the config can never leak them. */
export interface Secrets {
  readonly mqttPassword?: string;
  readonly bhytPassword?: string;
  readonly identityToken?: string;
  /** TLS material read at load time, so a missing file is a config error (78), not a crash. */
  readonly tls?: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
}

export interface LoadedConfig {
  readonly config: Config;
  readonly deviceId: string;
  readonly secrets: Secrets;
  readonly source: string;
}

export interface LoadOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly hostname?: () => string;
}

/**
 * `KIOSKD__MQTT__URL=mqtt://…` sets mqtt.url; `KIOSKD__MQTT__RECONNECT_BASE_MS=5000` sets
 * mqtt.reconnectBaseMs. Values are read as YAML scalars, so numbers, booleans and `[a, b]` lists work.
 */
export function envOverrides(env: NodeJS.ProcessEnv): { overrides: Record<string, unknown>; raw: Map<string, string>; problems: ConfigProblem[] } {
  const overrides: Record<string, unknown> = {};
  const raw = new Map<string, string>();
  const problems: ConfigProblem[] = [];
  for (const [name, raw_] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw_ === undefined) continue;
    const segments = name.slice(ENV_PREFIX.length).split('__').map(snakeToCamel);
    if (segments.some((s) => s === '')) {
      problems.push({ path: name, message: 'malformed environment override name' });
      continue;
    }
    let value: unknown;
    try {
      value = YAML.parse(raw_);
    } catch {
      value = raw_;
    }
    let node = overrides;
    for (const seg of segments.slice(0, -1)) {
      const next = node[seg];
      node = (typeof next === 'object' && next !== null ? next : (node[seg] = {})) as Record<string, unknown>;
    }
    node[segments.at(-1)!] = value;
    raw.set(segments.join('.'), raw_);
  }
  return { overrides, raw, problems };
}

function snakeToCamel(s: string): string {
  return s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** `over` merged into a copy of `base`, objects key by key; anything else in `over` wins. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

function setPath(root: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = root;
  for (const seg of path.slice(0, -1)) node = node[seg] as Record<string, unknown>;
  node[path.at(-1)!] = value;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function issueProblems(issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      // One line per unknown key, so each can be found and fixed on its own.
      for (const key of issue.keys) out.push({ path: path ? `${path}.${key}` : key, message: 'unknown key' + hintFor(key) });
    } else if (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)) {
      out.push({ path, message: `required (${issue.message.replace(/^Invalid input: /, '').replace(/, received undefined$/, '')})` });
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}

function hintFor(key: string): string {
  return /pass(word)?|token|secret/i.test(key) ? ' (secrets are not allowed in the config: use passwordFile or a systemd credential)' : '';
}

/** Parses and validates config text; throws ConfigError listing every problem. */
export function parseConfig(text: string, source: string, opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const problems: ConfigProblem[] = [];
  const parsed = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (parsed.errors.length > 0) {
    throw new ConfigError(
      source,
      parsed.errors.map((e) => ({ path: `line ${e.linePos?.[0]?.line ?? '?'}`, message: e.message.split('\n')[0] ?? e.code })),
    );
  }
  let doc: unknown;
  try {
    doc = parsed.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (err) {
    // The yaml package throws (a ReferenceError) on an alias bomb or an alias to no anchor.
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError(source, [
      {
        path: '',
        message: /resource exhaustion/.test(message)
          ? `too many YAML aliases (*name): expanding them would exceed ${MAX_ALIAS_COUNT} copies; a kiosk config needs few or none`
          : `not valid YAML: ${message}`,
      },
    ]);
  }
  if (!isPlainObject(doc)) throw new ConfigError(source, [{ path: '', message: 'the config must be a YAML mapping' }]);

  const env_ = envOverrides(env);
  problems.push(...env_.problems);
  const merged = deepMerge(doc, env_.overrides);
  let result = configSchema.safeParse(merged);
  if (!result.success) {
    // KIOSKD__DEVICE__ID=1234 reads as a number; where the schema wants text, use the text.
    let retry = false;
    for (const issue of result.error.issues) {
      const key = issue.path.join('.');
      const text = env_.raw.get(key);
      if (issue.code === 'invalid_type' && issue.expected === 'string' && text !== undefined) {
        setPath(merged as Record<string, unknown>, issue.path.map(String), text);
        retry = true;
      }
    }
    if (retry) result = configSchema.safeParse(merged);
  }
  if (!result.success) problems.push(...issueProblems(result.error.issues));

  let secrets: Secrets = {};
  let deviceId = '';
  if (result.success) {
    secrets = readSecrets(result.data, env, problems);
    deviceId = result.data.device.id ?? (opts.hostname ?? hostname)();
    const idCheck = deviceIdSchema.safeParse(deviceId);
    if (!idCheck.success)
      problems.push({
        path: 'device.id',
        message: `the hostname "${deviceId}" cannot be a kiosk id (${idCheck.error.issues[0]?.message}); set device.id`,
      });
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(source, problems);
  return { config: result.data, deviceId, secrets, source };
}

export function loadConfigFile(path: string, opts: LoadOptions = {}): LoadedConfig {
  return parseConfig(readConfigText(path), path, opts);
}

/**
 * The file's text, refused when over MAX_CONFIG_BYTES: by its size before reading anything, and
 * (for a pipe or a file still growing) by reading at most one byte more than the limit.
 */
function readConfigText(path: string): string {
  const tooBig = (what: string): ConfigError =>
    new ConfigError(path, [
      { path: '', message: `the file is ${what}; a kiosk config is at most ${MAX_CONFIG_BYTES / 1024 / 1024} MB (is this the right file?)` },
    ]);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new ConfigError(path, [{ path: '', message: `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  try {
    const st = fstatSync(fd);
    if (st.isFile() && st.size > MAX_CONFIG_BYTES) throw tooBig(`${(st.size / 1024 / 1024).toFixed(1)} MB`);
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let len = 0;
    for (;;) {
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
      if (len > MAX_CONFIG_BYTES) throw tooBig(`over ${MAX_CONFIG_BYTES / 1024 / 1024} MB`);
    }
    return buf.toString('utf8', 0, len);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(path, [{ path: '', message: `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  } finally {
    closeSync(fd);
  }
}

function readSecrets(config: Config, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): Secrets {
  const read = (path: string, file: string): Buffer | undefined => {
    try {
      return readFileSync(file);
    } catch (err) {
      problems.push({ path, message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
      return undefined;
    }
  };
  const credDir = env['CREDENTIALS_DIRECTORY'];
  // Outside the service (`sudo kioskd selftest`, `check-config`), read the same files the unit
  // loads: /etc/credstore/kioskd.<name> (root-only), so a technician needs no extra flags.
  let credstoreDenied: string | null = null;
  const credential = (name: string): string | undefined => {
    const store = env['KIOSKD_CREDSTORE'] ?? '/etc/credstore';
    const file = credDir ? join(credDir, name) : join(store, `kioskd.${name}`);
    if (existsSync(file)) return file;
    // existsSync says "absent" for a root-only store too: remembered for the "required" message.
    if (!credDir && existsSync(store)) {
      try {
        accessSync(store, constants.X_OK);
      } catch {
        credstoreDenied = store;
      }
    }
    return undefined;
  };
  // A trailing newline from `echo secret > file` is not part of the secret.
  const text = (path: string, file: string | undefined): string | undefined =>
    file === undefined
      ? undefined
      : read(path, file)
          ?.toString('utf8')
          .replace(/\r?\n$/, '');
  const mqttPassword = text('mqtt.passwordFile', config.mqtt.passwordFile ?? credential('mqtt-password'));
  const bhytPassword = config.bhyt.enabled ? text('bhyt.passwordFile', config.bhyt.passwordFile ?? credential('bhyt-password')) : undefined;
  if (config.bhyt.enabled && bhytPassword === undefined && !problems.some((p) => p.path === 'bhyt.passwordFile')) {
    problems.push({
      path: 'bhyt.passwordFile',
      message: `required when bhyt.enabled is true: a file with the gateway password, or the systemd credential "bhyt-password"${credstoreDenied ? ` (${credstoreDenied} may hold it but is not readable by this user: run with sudo)` : ''}`,
    });
  }
  const identityToken = text('identity.tokenFile', config.identity.tokenFile);
  const t = config.mqtt.tls;
  const tls = t
    ? {
        ...(t.caFile ? { ca: read('mqtt.tls.caFile', t.caFile) } : {}),
        ...(t.certFile ? { cert: read('mqtt.tls.certFile', t.certFile) } : {}),
        ...(t.keyFile ? { key: read('mqtt.tls.keyFile', t.keyFile) } : {}),
      }
    : undefined;
  if (t && tls) checkTls(t, tls, problems);
  return {
    ...(mqttPassword !== undefined ? { mqttPassword } : {}),
    ...(bhytPassword !== undefined ? { bhytPassword } : {}),
    ...(identityToken !== undefined ? { identityToken } : {}),
    ...(tls ? { tls: Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)) } : {}),
  };
}

/**
 * TLS material the broker connection would otherwise reject only when it connects: a key that is
 * not the certificate's makes MQTT.js throw (a crash, restarted in a loop), a CA file without a
 * PEM certificate silently trusts nothing. Both are the config's fault, so they are config errors.
 */
function checkTls(
  t: NonNullable<Config['mqtt']['tls']>,
  m: { ca?: Buffer | undefined; cert?: Buffer | undefined; key?: Buffer | undefined },
  problems: ConfigProblem[],
): void {
  if (m.ca && !m.ca.includes('-----BEGIN CERTIFICATE-----')) {
    problems.push({
      path: 'mqtt.tls.caFile',
      message: `${t.caFile} holds no PEM certificate (a DER file converts with: openssl x509 -inform der -in FILE -out ca.pem)`,
    });
  }
  if ((t.certFile === undefined) !== (t.keyFile === undefined)) {
    problems.push({
      path: t.certFile ? 'mqtt.tls.keyFile' : 'mqtt.tls.certFile',
      message: 'mqtt.tls.certFile and mqtt.tls.keyFile go together: mutual TLS needs the client certificate and its key',
    });
    return;
  }
  if (!m.cert || !m.key) return;
  const fails = (opts: { cert?: Buffer; key?: Buffer }): boolean => {
    try {
      createSecureContext(opts);
      return false;
    } catch {
      return true;
    }
  };
  if (fails({ cert: m.cert })) problems.push({ path: 'mqtt.tls.certFile', message: `${t.certFile} is not a PEM certificate` });
  else if (fails({ key: m.key })) problems.push({ path: 'mqtt.tls.keyFile', message: `${t.keyFile} is not a PEM private key without a passphrase` });
  else if (fails({ cert: m.cert, key: m.key }))
    problems.push({ path: 'mqtt.tls.keyFile', message: `${t.keyFile} is not the key of the certificate ${t.certFile}` });
}
