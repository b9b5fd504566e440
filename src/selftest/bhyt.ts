import { createBhytClient } from '../bhyt/client.js';
import { bhytClientOptions } from '../bhyt/options.js';
import type { Secrets } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { Clock } from '../util/clock.js';
import { fail, pass, skip, type Check, type Verdict } from './check.js';

export interface BhytCheckDeps {
  readonly config: Pick<Config, 'bhyt'>;
  readonly secrets: Pick<Secrets, 'bhytPassword'>;
  readonly clock: Clock;
  readonly wallClock: () => Date;
  readonly log: Logger;
  readonly limitMs: number;
  readonly fetch?: typeof fetch;
}

/** Takes a token from the BHYT gateway with the kiosk's account, through the daemon's own client: no card is sent. */
export function bhytCheck(d: BhytCheckDeps): Check {
  const b = d.config.bhyt;
  return {
    name: 'bhyt',
    limitMs: d.limitMs,
    async run(signal): Promise<Verdict> {
      if (!b.enabled) return skip('bhyt.enabled is false');
      // The daemon's own mapping, with this check's time limit and no breaker to trip.
      const deps = { clock: d.clock, wallClock: d.wallClock, log: d.log, ...(d.fetch ? { fetch: d.fetch } : {}) };
      const client = createBhytClient(
        bhytClientOptions(b, d.secrets, deps, { timeoutMs: Math.min(b.timeoutMs, d.limitMs), breaker: { failures: 100, openSec: 1 } }),
      );
      const r = await client.login(signal);
      if (!r.ok) return fail(`${r.reason} (${b.url})`);
      return pass(`token taken from ${b.url} as ${b.username}`);
    },
  };
}
