import type { Config } from '../config/schema.js';
import { LED_IDS, type Indicators, type Leds } from '../hal/ports.js';
import type { Clock } from '../util/clock.js';
import { absentVerdict, fail, firstState, pause, pass, seconds, type Check, type Verdict } from './check.js';

const DARK: Leds = { ready: 'off', busy: 'off', error: 'off' };

export interface LampsCheckDeps {
  readonly config: Pick<Config, 'hal' | 'kiosk'>;
  readonly indicators: Indicators;
  readonly clock: Clock;
  /** How long each lamp blinks (about a second: long enough to see). */
  readonly eachMs: number;
  readonly limitMs: number;
}

/**
 * Blinks each lamp in turn through the indicators port, then turns them all off. Software
 * cannot see a lamp light: the port only proves the panel is there and took the commands,
 * so the report asks the technician to watch.
 */
export function lampsCheck(d: LampsCheckDeps): Check {
  const cfg = d.config.hal.indicators;
  const where = cfg.driver === 'sim' ? `the panel at ${cfg.url}` : 'the GPIO lamps';
  return {
    name: 'lamps',
    limitMs: d.limitMs + LED_IDS.length * d.eachMs,
    async run(signal): Promise<Verdict> {
      if (cfg.driver === 'none') return absentVerdict('lamps', 'hal.indicators.driver', d.config.kiosk.requiredPorts.includes('indicators'));
      await d.indicators.open(signal);
      const state = await firstState(d.indicators, signal);
      if (!state) return fail(`${where} did not answer within ${seconds(d.limitMs)}`);
      if (state.kind === 'faulted' || state.kind === 'absent') return fail(`${where}: ${state.reason}`);
      try {
        for (const id of LED_IDS) {
          d.indicators.setLeds({ ...DARK, [id]: 'blink' });
          if (!(await pause(d.clock, d.eachMs, signal))) return fail(`interrupted while the ${id} lamp blinked`);
          const now = d.indicators.state();
          if (now.kind === 'faulted') return fail(`${where} went away while the ${id} lamp blinked: ${now.reason}`);
        }
      } finally {
        d.indicators.setLeds(DARK);
      }
      // The last command must reach the panel before the port is closed.
      await pause(d.clock, 100, new AbortController().signal);
      return pass(`${LED_IDS.join(', ')} blinked ${seconds(d.eachMs)} each, now off: did each lamp light?`);
    },
  };
}
