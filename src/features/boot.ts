/**
 * The kiosk goes live: the machine starts, the broker link connects, the devices open while
 * the face models load, and systemd hears READY once local start-up is done (the broker and
 * the devices are reported on, not waited for).
 */
import type { Logger } from '../log/logger.js';
import type { KioskRuntime } from '../pipeline/runtime.js';
import type { Feature } from '../daemon/feature.js';
import type { FaceModels } from './face-models.js';
import type { KioskState } from './kiosk-state.js';

export interface BootDeps {
  readonly runtime: Pick<KioskRuntime, 'start' | 'bootDone'>;
  readonly state: Pick<KioskState, 'publishNow' | 'statusLine'>;
  readonly link: { start(): void };
  readonly hal: { open(signal: AbortSignal): Promise<void> };
  readonly faces: Pick<FaceModels, 'settled'>;
  readonly notifier: { ready(status: string): void };
  readonly drivers: Readonly<Record<string, string>>;
  readonly log: Logger;
}

const aborted = (signal: AbortSignal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));

export function boot(d: BootDeps): Feature {
  return {
    name: 'boot',
    async start(signal) {
      d.runtime.start();
      d.state.publishNow();
      d.link.start();
      await d.hal.open(signal).catch((err: unknown) => {
        if (!signal.aborted) throw err;
      });
      await Promise.race([d.faces.settled(), aborted(signal)]);
      d.runtime.bootDone();
      d.log.info(
        `drivers loaded: ${Object.entries(d.drivers)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      );
      d.notifier.ready(d.state.statusLine());
    },
    stop() {},
  };
}
