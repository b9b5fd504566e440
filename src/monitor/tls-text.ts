import { classifyTlsError } from '../mqtt/tls-error.js';

/**
 * What a TLS failure means, in the monitor's own options, or null when it is not one. Node's
 * texts ("self-signed certificate in certificate chain", an OpenSSL alert) say what failed but
 * not what to do about it.
 */
export function monitorTlsProblem(err: Error & { code?: number | string; reason?: string }, o: { ca?: Buffer; cert?: Buffer }): string | null {
  const kind = classifyTlsError(err, Boolean(o.cert));
  if (kind === null) return null;
  const what = err.reason ?? err.message.split('\n')[0]!;
  switch (kind) {
    case 'untrusted':
      return o.ca
        ? `the broker's certificate is not signed by the CA in --ca (${what})`
        : `the broker's certificate is not signed by a CA this computer trusts (${what}): pass the hospital's CA certificate with --ca FILE`;
    case 'wrong-host':
      return `the broker's certificate is not made out to this host name (${what}): use a name it lists in --broker`;
    case 'expired':
    case 'not-yet-valid':
      return `the broker's certificate ${kind === 'expired' ? 'has expired' : 'is not valid yet'} (check this computer's clock too)`;
    case 'client-cert-required':
      return `the broker requires a client certificate (${what}): pass --cert FILE --key FILE`;
    case 'client-cert-refused':
      return `the broker refused the client certificate${o.cert ? ' in --cert' : ''} (${what})`;
    case 'failed':
      return `TLS with the broker failed (${what})`;
  }
}
