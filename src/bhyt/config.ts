import { z } from 'zod';

/**
 * The `bhyt` config section: the VSS health-insurance gateway. Strict like the rest of the
 * config. Credentials and the officer identity are optional in the schema so a kiosk without
 * a gateway needs none, and required (with a message saying so) once `enabled` is true.
 */
export const bhytConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('look patients up on the BHYT gateway; when off, tickets say the card was not checked'),
    url: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .refine(
        (u) => !URL.canParse(u) || (new URL(u).username === '' && new URL(u).password === ''),
        'must not carry a user or password: use bhyt.username and bhyt.passwordFile',
      )
      .default('https://egw.baohiemxahoi.gov.vn')
      .describe('gateway base URL (training gateway: https://daotaoegw.baohiemxahoi.gov.vn)'),
    username: z.string().min(1).optional().describe('gateway account issued to the hospital, usually <facility code>_BV; required when enabled'),
    passwordFile: z
      .string()
      .min(1)
      .optional()
      .describe('file holding the gateway password in plain text (the kiosk sends its MD5); default: the systemd credential "bhyt-password"'),
    officerName: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .describe('hoTenCb: full name of the registered staff member the kiosk looks cards up as; required when enabled'),
    officerId: z
      .string()
      .regex(/^\d{12}$/, 'must be a 12-digit CCCD number')
      .optional()
      .describe("cccdCb: that staff member's 12-digit CCCD number, as on the hospital's registered user list; required when enabled"),
    timeoutMs: z.number().int().min(200).max(60_000).default(4000).describe('longest one gateway request may take, in milliseconds'),
    breaker: z
      .strictObject({
        failures: z.number().int().min(1).max(100).default(3).describe('this many gateway failures in a row stop lookups for a while'),
        openSec: z.number().int().min(1).max(3600).default(30).describe('how long lookups are skipped before one is tried again'),
      })
      .prefault({})
      .describe('circuit breaker: while the gateway is down, patients do not wait for it'),
    reconcileEverySec: z
      .number()
      .int()
      .min(10)
      .max(86_400)
      .default(120)
      .describe('how often lookups that could not be made (gateway down) are tried again'),
  })
  .superRefine((c, ctx) => {
    if (!c.enabled) return;
    const required = [
      ['username', c.username, 'the gateway account'],
      ['officerName', c.officerName, 'the name of the registered officer (hoTenCb)'],
      ['officerId', c.officerId, 'the CCCD of the registered officer (cccdCb)'],
    ] as const;
    for (const [key, value, what] of required) {
      if (value === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `required when bhyt.enabled is true: ${what}` });
    }
  })
  .prefault({});

export type BhytConfig = z.output<typeof bhytConfigSchema>;
