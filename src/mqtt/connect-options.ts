import type { IClientOptions } from 'mqtt';

/** Who a client is to the broker: the same shape for the daemon, its self-test and every consumer. */
export interface MqttCredentials {
  readonly username?: string;
  readonly password?: string;
  /** For mqtts:// and wss://: the CA to trust, and a client certificate with its key. */
  readonly tls?: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer; readonly rejectUnauthorized?: boolean };
}

/** The mqtt.js options for `c`: user name, password and TLS, each only when given. */
export function credentialOptions(c: MqttCredentials): IClientOptions {
  const tls = c.tls;
  return {
    ...(c.username !== undefined ? { username: c.username } : {}),
    ...(c.password !== undefined ? { password: c.password } : {}),
    ...(tls
      ? {
          ...(tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: tls.rejectUnauthorized } : {}),
          ...(tls.ca ? { ca: tls.ca } : {}),
          ...(tls.cert ? { cert: tls.cert } : {}),
          ...(tls.key ? { key: tls.key } : {}),
        }
      : {}),
  };
}
