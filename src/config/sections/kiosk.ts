import { z } from 'zod';
import { durationMs } from './common.js';

/** `kiosk`: which ports must work, timing, the state directory and its free space. */

export const portIds = ['card', 'camera', 'printer', 'indicators', 'storage'] as const;
export type PortId = (typeof portIds)[number];

export const kioskSchema = z
  .strictObject({
    requiredPorts: z
      .array(z.enum(portIds))
      .default(['card', 'camera', 'printer'])
      .describe('ports that must be ready for the kiosk to take patients; otherwise it is out of service'),
    heartbeatMs: durationMs(100, 60_000).default(5000),
    resultHoldMs: durationMs(0, 60_000).default(3000).describe("how long a patient's result stays before the kiosk is ready for the next"),
    stateDir: z.string().min(1).default('/var/lib/kioskd').describe("where the queue database and ticket journal live (systemd's StateDirectory)"),
    // At most 20 s: the unit's TimeoutStopSec=25s would otherwise SIGKILL a ticket mid-print.
    shutdownGraceMs: durationMs(0, 20_000)
      .default(10_000)
      .describe('how long a check-in in progress may take to finish when stopping; stopping is cut off 5 s after it (keep under TimeoutStopSec)'),
    // The state directory's free space is a port (storage), always required: see hal/storage.ts.
    storage: z
      .strictObject({
        lowMb: z
          .number()
          .min(0)
          .max(1_000_000)
          .default(200)
          .describe('below this much free space in stateDir: alert storage.low, the kiosk keeps working'),
        minMb: z
          .number()
          .min(0)
          .max(1_000_000)
          .default(20)
          .describe(
            'below this: out of service (alert storage.full) until there is room again; the margin records the patients already in a session',
          ),
        checkEverySec: z.number().int().min(1).max(3600).default(10),
      })
      .prefault({}),
  })
  .prefault({});
