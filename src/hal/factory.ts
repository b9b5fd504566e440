import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { absentPort } from './absent.js';
import { PORT_IDS, type Port, type PortId } from './ports.js';

export interface Hal {
  readonly mode: 'real' | 'sim';
  readonly ports: Readonly<Record<PortId, Port>>;
  /** driver name per port, as loaded; reported at start and in kiosk/<id>/info. */
  readonly drivers: Readonly<Record<PortId, string>>;
  open(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export interface HalDeps {
  readonly log: Logger;
}

/**
 * Builds each port from its config entry. Drivers with native dependencies are imported
 * here, lazily, only when configured, so a machine without libusb still starts.
 */
export async function createHal(cfg: Config['hal'], deps: HalDeps): Promise<Hal> {
  const ports = {} as Record<PortId, Port>;
  for (const id of PORT_IDS) {
    const entry = cfg[id];
    switch (entry.driver) {
      case 'none':
        ports[id] = absentPort(id, 'no driver configured');
        break;
    }
  }
  const drivers = Object.fromEntries(PORT_IDS.map((id) => [id, ports[id].driver])) as Record<PortId, string>;
  return {
    mode: cfg.mode,
    ports,
    drivers,
    async open(signal) {
      await Promise.all(PORT_IDS.map((id) => ports[id].open(signal)));
    },
    async close() {
      const results = await Promise.allSettled(PORT_IDS.map((id) => ports[id].close()));
      results.forEach((r, i) => {
        if (r.status === 'rejected') deps.log.warn({ port: PORT_IDS[i], err: r.reason }, 'port did not close cleanly');
      });
    },
  };
}
