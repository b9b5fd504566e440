import type { Logger } from 'pino';
import type { Secrets } from '../config/load.js';
import type { Clock } from '../util/clock.js';
import type { BhytClientOptions } from './client.js';
import type { BhytConfig } from './config.js';

export interface BhytClientDeps {
  readonly clock: Clock;
  readonly wallClock: () => Date;
  readonly log: Logger;
  readonly fetch?: typeof fetch | undefined;
}

/**
 * The BHYT client as the `bhyt` config section describes it (the daemon, `kioskd selftest`).
 * Only for an enabled section: the schema then requires the account and the officer.
 */
export function bhytClientOptions(
  c: BhytConfig,
  secrets: Pick<Secrets, 'bhytPassword'>,
  deps: BhytClientDeps,
  overrides: Partial<BhytClientOptions> = {},
): BhytClientOptions {
  if (!c.enabled || c.username === undefined || c.officerName === undefined || c.officerId === undefined)
    throw new Error('bhyt.enabled is false, or the account or the officer is missing: no BHYT client to build');
  return {
    url: c.url,
    username: c.username,
    password: secrets.bhytPassword ?? '',
    officerName: c.officerName,
    officerId: c.officerId,
    timeoutMs: c.timeoutMs,
    breaker: c.breaker,
    clock: deps.clock,
    wallClock: deps.wallClock,
    log: deps.log,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...overrides,
  };
}
