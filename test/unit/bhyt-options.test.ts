import test from 'ava';
import { pino } from 'pino';
import { SimulatedClock } from 'xstate';
import { bhytClientOptions } from '../../src/bhyt/options.js';
import { bhytConfigSchema } from '../../src/bhyt/config.js';

// One mapping from the `bhyt` section to the client's options, for the daemon and kioskd selftest.

const deps = { clock: new SimulatedClock(), wallClock: () => new Date(0), log: pino({ level: 'silent' }) };
const section = bhytConfigSchema.parse({ enabled: true, username: '79001_BV', officerName: 'Nguyễn Văn A', officerId: '001234567890' });

test('the section, the password and the deps map onto the options; overrides win', (t) => {
  const o = bhytClientOptions(section, { bhytPassword: 'secret' }, deps);
  t.like(o, {
    url: 'https://egw.baohiemxahoi.gov.vn',
    username: '79001_BV',
    password: 'secret',
    officerName: 'Nguyễn Văn A',
    officerId: '001234567890',
    timeoutMs: 4000,
    breaker: { failures: 3, openSec: 30 },
  });
  t.is(o.clock, deps.clock);
  t.false('fetch' in o);
  t.like(bhytClientOptions(section, {}, deps, { timeoutMs: 500, breaker: { failures: 100, openSec: 1 } }), {
    password: '',
    timeoutMs: 500,
    breaker: { failures: 100, openSec: 1 },
  });
});

test('a disabled section builds no client', (t) => {
  t.throws(() => bhytClientOptions(bhytConfigSchema.parse({}), {}, deps), { message: /bhyt.enabled is false/ });
});
