import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const OPENSSL = '/usr/bin/openssl';

/** Throwaway TLS material made by openssl at test time (the TLS and broker-ACL tests). */
export interface Pki {
  readonly dir: string;
  readonly ca: string;
  /** A second CA that signed nothing the broker shows: what a kiosk with the wrong file trusts. */
  readonly otherCa: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

export function openssl(dir: string, args: string[]): void {
  const r = spawnSync(OPENSSL, args, { cwd: dir, encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.error?.message ?? r.stderr}`);
}

/** CA, server cert for 127.0.0.1/localhost, client cert, and an unrelated CA; EC keys, so it takes milliseconds. */
export function makePki(dir = mkdtempSync(join(tmpdir(), 'kioskd-tls-'))): Pki {
  if (!existsSync(OPENSSL))
    throw new Error(`${OPENSSL} is missing: run \`apt-get install -y openssl\` (the TLS tests make their certificates with it)`);
  // Our own openssl config, so the host's openssl.cnf cannot change what the certificates say.
  writeFileSync(
    join(dir, 'openssl.cnf'),
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      '[ca]',
      'basicConstraints = critical,CA:TRUE',
      'keyUsage = critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier = hash',
      '[server]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = IP:127.0.0.1,DNS:localhost',
      '[client]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage = clientAuth',
      '',
    ].join('\n'),
  );
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const makeCa = (name: string, cn: string): void =>
    openssl(dir, [
      'req',
      '-x509',
      ...key,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-config',
      'openssl.cnf',
      '-extensions',
      'ca',
    ]);
  const makeLeaf = (name: string, cn: string, ext: string, serial: number): void => {
    openssl(dir, ['req', '-new', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`, '-config', 'openssl.cnf']);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-set_serial',
      String(serial),
      '-days',
      '2',
      '-out',
      `${name}.pem`,
      '-extfile',
      'openssl.cnf',
      '-extensions',
      ext,
    ]);
  };
  makeCa('ca', 'Test Hospital CA');
  makeCa('other-ca', 'Some Other CA');
  makeLeaf('server', '127.0.0.1', 'server', 1);
  makeLeaf('client', 'kiosk-mtls', 'client', 2);
  const at = (f: string): string => join(dir, f);
  return {
    dir,
    ca: at('ca.pem'),
    otherCa: at('other-ca.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
  };
}
