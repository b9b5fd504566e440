/**
 * Port states reach the state machine, and a device that needs a person (paper out, cover
 * open, unplugged …) raises an alert for central monitoring, coded `<port>.<code>` from the
 * driver's machine-readable code.
 */
import { PORT_IDS, type Port, type PortId, type PortState } from '../hal/ports.js';
import type { KioskPublisher } from '../mqtt/publisher.js';
import type { KioskRuntime } from '../pipeline/runtime.js';
import type { Feature } from '../daemon/feature.js';

export interface PortAlertsDeps {
  readonly ports: Readonly<Record<PortId, Pick<Port, 'onStateChange'>>>;
  readonly runtime: Pick<KioskRuntime, 'portChanged'>;
  readonly publish: Pick<KioskPublisher, 'event'>;
}

/** The alert code of a faulted or degraded port. */
export function alertCodeOf(id: PortId, state: Extract<PortState, { kind: 'faulted' | 'degraded' }>): string {
  return `${id}.${state.code}`;
}

export function portAlerts(d: PortAlertsDeps): Feature {
  const unsubscribe: Array<() => void> = [];
  const changed = (id: PortId, state: PortState): void => {
    d.runtime.portChanged(id, state);
    if (state.kind !== 'faulted' && state.kind !== 'degraded') return;
    d.publish.event('alert', {
      level: state.kind === 'faulted' ? 'error' : 'warning',
      code: alertCodeOf(id, state),
      message: `${id} ${state.kind}: ${state.reason}`,
      port: id,
    });
  };
  return {
    name: 'port-alerts',
    start() {
      for (const id of PORT_IDS) unsubscribe.push(d.ports[id].onStateChange((state) => changed(id, state)));
    },
    stop() {
      for (const u of unsubscribe.splice(0)) u();
    },
  };
}
