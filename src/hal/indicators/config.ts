import { z } from 'zod';
import { absentOnly, durationMs } from '../../config/sections/common.js';

/**
 * The indicators port's config: the kiosk's lamps (ready, busy, error) and push buttons
 * (consent yes/no, help). Kept next to its drivers; src/config/schema.ts plugs it in.
 */

/** A BCM GPIO line number as printed on Raspberry Pi pinout charts (GPIO17 → 17). */
const bcmLine = z.number().int().min(0).max(63);

/** Where hw-sim's virtual panel listens. */
export const PANEL_URL = /^tcp:\/\/([^:/\s]+):(\d{1,5})\/?$/;

export const indicatorsConfigSchema = z
  .discriminatedUnion('driver', [
    absentOnly.extend({
      driver: z.literal('none').describe('"none": no lamps or buttons fitted; the port reports "absent" and the kiosk works without them'),
    }),
    z.strictObject({
      driver: z.literal('gpio').describe('lamps and buttons wired to the Raspberry Pi GPIO header (needs the optional onoff module)'),
      chip: z
        .string()
        .min(1)
        .default('auto')
        .describe(
          'label of the GPIO chip the header is on, such as "pinctrl-bcm2711" (Pi 4) or "pinctrl-rp1" (Pi 5); "auto": the one chip whose label starts with "pinctrl-"',
        ),
      leds: z
        .strictObject({
          ready: bcmLine.optional().describe('BCM GPIO number of the "ready" lamp; leave out if not fitted'),
          busy: bcmLine.optional().describe('BCM GPIO number of the "busy" lamp; leave out if not fitted'),
          error: bcmLine.optional().describe('BCM GPIO number of the "error" lamp; leave out if not fitted'),
        })
        .prefault({})
        .describe('which GPIO drives each lamp (BCM numbers, e.g. 17 for GPIO17)'),
      buttons: z
        .strictObject({
          'consent-yes': bcmLine.optional().describe('BCM GPIO number of the "yes, I agree" button; leave out if not fitted'),
          'consent-no': bcmLine.optional().describe('BCM GPIO number of the "no" button; leave out if not fitted'),
          help: bcmLine.optional().describe('BCM GPIO number of the "call for help" button; leave out if not fitted'),
        })
        .prefault({})
        .describe('which GPIO reads each button (BCM numbers)'),
      activeLow: z.boolean().default(false).describe('true if a lamp lights when its pin is low (wired to +3.3 V through the lamp)'),
      buttonsActiveLow: z.boolean().default(true).describe('true if a pressed button pulls its pin to ground (the usual wiring, with pull-ups)'),
      debounceMs: durationMs(0, 1000).default(50).describe('a button must stay still this long before a press counts (contacts bounce)'),
      blinkMs: durationMs(50, 10_000).default(500).describe('how long a blinking lamp stays on, and then off'),
    }),
    z.strictObject({
      driver: z.literal('sim').describe("hw-sim's virtual panel, reached over TCP"),
      url: z.string().regex(PANEL_URL, 'must be tcp://host:port').describe("where hw-sim's panel listens: tcp://host:port"),
      reconnectBaseMs: durationMs(50, 60_000).default(250).describe('first wait before reconnecting to the panel; doubles on each failure'),
      reconnectMaxMs: durationMs(100, 600_000).default(2000).describe('longest wait between reconnect attempts'),
    }),
  ])
  .superRefine((c, ctx) => {
    if (c.driver !== 'gpio') return;
    // Two roles on one pin would fight (a lamp driving a button's input), so say which.
    const seen = new Map<number, string>();
    const roles: [string, number | undefined][] = [
      ...Object.entries(c.leds).map(([k, v]): [string, number | undefined] => [`leds.${k}`, v]),
      ...Object.entries(c.buttons).map(([k, v]): [string, number | undefined] => [`buttons.${k}`, v]),
    ];
    for (const [role, line] of roles) {
      if (line === undefined) continue;
      const other = seen.get(line);
      if (other) ctx.addIssue({ code: 'custom', path: role.split('.'), message: `GPIO ${line} is already used by ${other}` });
      else seen.set(line, role);
    }
  })
  .prefault({ driver: 'none' })
  .describe('status lamps and push buttons: none, GPIO on a Raspberry Pi, or the hw-sim panel');

export type IndicatorsConfig = z.output<typeof indicatorsConfigSchema>;
export type GpioIndicatorsConfig = Extract<IndicatorsConfig, { driver: 'gpio' }>;
export type SimIndicatorsConfig = Extract<IndicatorsConfig, { driver: 'sim' }>;
