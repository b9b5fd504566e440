import { z } from 'zod';

/**
 * The `identity` config section: the service that gives the card holder's reference portrait
 * (the hospital's patient registry, or a bridge to a chip reader). The protocol is described in
 * portrait-client.ts. Strict like the rest of the config.
 */
export const identityConfigSchema = z
  .strictObject({
    url: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .refine(
        (u) => !URL.canParse(u) || (new URL(u).username === '' && new URL(u).password === ''),
        'must not carry a user or password: use identity.tokenFile',
      )
      .optional()
      .describe(
        'base URL of the identity service; the kiosk POSTs to <url>/portrait. Absent: there is no identity service, so there are no reference portraits',
      ),
    timeoutMs: z
      .number()
      .int()
      .min(200)
      .max(60_000)
      .default(3000)
      .describe('longest one portrait request may take, in milliseconds; after that the check-in goes on without a portrait'),
    tokenFile: z
      .string()
      .min(1)
      .optional()
      .describe('file holding a bearer token for the service (sent as "Authorization: Bearer <token>"); tokens are not allowed in the config itself'),
  })
  .refine((c) => c.tokenFile === undefined || c.url !== undefined, {
    path: ['tokenFile'],
    message: 'needs identity.url: a token is of no use without a service',
  })
  .describe("where the kiosk gets the card holder's reference portrait")
  .prefault({});

export type IdentityConfig = z.output<typeof identityConfigSchema>;
