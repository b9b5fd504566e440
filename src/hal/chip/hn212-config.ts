/**
 * Configuration of the HN-212 adapter (hn212.ts): where JTH's packaged Socket.IO service listens
 * and how long its results stay good. docs chip.md §12; the wire format is JTH's integration note
 * (tvtrung206/Mo-ta-he-thong: "Tich-hop-doc-the-cccd-gan-chip-HN212-jth-api.md").
 */
import { z } from 'zod';

const httpUrl = (s: string): boolean => {
  try {
    const u = new URL(s);
    return (
      (u.protocol === 'http:' || u.protocol === 'https:') &&
      u.username === '' &&
      u.password === '' &&
      u.pathname === '/' &&
      u.search === '' &&
      u.hash === ''
    );
  } catch {
    return false;
  }
};

/** Socket.IO's own event names: a server cannot send them, so listening on one would hear nothing of the reader. */
const RESERVED_EVENTS = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

export const hn212ConfigSchema = z.strictObject({
  url: z
    .string()
    .max(200)
    .default('http://192.168.5.1:8000')
    .refine(httpUrl, 'must be an http:// or https:// URL with nothing after the port, e.g. http://192.168.5.1:8000')
    .describe("the HN-212 reader's service (JTH's package): http://<reader's address>:8000"),
  namespace: z
    .string()
    .max(100)
    .regex(/^\/[\w\-/]*$/, 'must start with "/"')
    .default('/')
    .describe('Socket.IO namespace to join; the public clients of the service use the default "/"'),
  event: z
    .string()
    .min(1)
    .max(100)
    .default('/event')
    .refine((s) => !RESERVED_EVENTS.has(s), 'must not be a name Socket.IO reserves (connect, disconnect, …)')
    .describe('name of the Socket.IO event that carries the reader\'s messages (the note\'s "channel /event")'),
  allowPolling: z
    .boolean()
    .default(false)
    .describe(
      'fall back to HTTP long-polling when the service refuses WebSocket; long-poll responses are not size-capped before parsing, so leave off unless needed',
    ),
  connectTimeoutMs: z.number().int().min(200).max(60_000).default(5000).describe('longest one connection attempt may take, in milliseconds'),
  reconnectMinMs: z.number().int().min(50).max(60_000).default(500).describe('first wait before connecting again after the service went away'),
  reconnectMaxMs: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(10_000)
    .describe('longest wait between connection attempts (the wait doubles up to it)'),
  freshForMs: z
    .number()
    .int()
    .min(1000)
    .max(600_000)
    .default(60_000)
    .describe('a card read the service sent before the kiosk asked for it is used if it is at most this old (and only once)'),
});

export type Hn212Config = z.output<typeof hn212ConfigSchema>;

export const DEFAULT_HN212_CONFIG: Hn212Config = hn212ConfigSchema.parse({});

/** Largest decoded file per field, in bytes. DG2 carries the portrait; EF.SOD one or two certificates. */
export const HN212_LIMITS = {
  dg2: 1024 * 1024,
  sod: 128 * 1024,
  /** DG13, DG14, DG15: as readChip's default file limit. */
  other: 64 * 1024,
  /** One WebSocket message: every field in base64 plus the service's own portrait (img_data), with room to spare. */
  message: 6 * 1024 * 1024,
} as const;
