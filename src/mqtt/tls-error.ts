/**
 * What a TLS failure with an MQTT broker means, as a kind: the one classifier behind the
 * daemon's log line, `kioskd selftest` and `kioskd monitor`, which each say in their own words
 * what to fix (a config key, a command-line option). Node's texts ("self-signed certificate in
 * certificate chain", an OpenSSL alert) say what failed but not what to do about it.
 */
export type TlsErrorKind =
  /** The broker's certificate is not signed by a trusted CA (or the one configured). */
  | 'untrusted'
  /** The certificate is not made out to the host name in the URL. */
  | 'wrong-host'
  | 'expired'
  | 'not-yet-valid'
  /** The broker wants a client certificate and got none. */
  | 'client-cert-required'
  /** The broker refused the client certificate it was given. */
  | 'client-cert-refused'
  /** Any other TLS failure. */
  | 'failed';

const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

const CLIENT_CERT_REFUSED =
  /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)$/;

/**
 * The kind of TLS failure `err` is, or null when it is not one. `hasClientCert`: whether a
 * client certificate was offered (a bare handshake failure then means the broker wanted one).
 */
export function classifyTlsError(err: { readonly code?: number | string }, hasClientCert: boolean): TlsErrorKind | null {
  const code = typeof err.code === 'string' ? err.code : '';
  if (UNTRUSTED.has(code)) return 'untrusted';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'wrong-host';
  if (code === 'CERT_HAS_EXPIRED') return 'expired';
  if (code === 'CERT_NOT_YET_VALID') return 'not-yet-valid';
  if (/CERTIFICATE_REQUIRED$/.test(code) || (!hasClientCert && /HANDSHAKE_FAILURE$/.test(code))) return 'client-cert-required';
  if (CLIENT_CERT_REFUSED.test(code)) return 'client-cert-refused';
  if (/^ERR_SSL_|^ERR_TLS_|CERT/.test(code)) return 'failed';
  return null;
}
