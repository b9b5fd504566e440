/**
 * What the kiosk shows of itself: the lamps, the retained `state` topic, systemd's status
 * line, and a log line when the mode changes. `info` is republished on every connect, since
 * it carries the protocol actually negotiated (auto may have fallen back to 3.1.1).
 */
import { describePortState, PORT_IDS, type Indicators } from '../hal/ports.js';
import type { Logger } from '../log/logger.js';
import type { KioskPublisher } from '../mqtt/publisher.js';
import { ledsFor } from '../pipeline/leds.js';
import type { KioskRuntime, KioskStatus } from '../pipeline/runtime.js';
import type { Feature } from '../daemon/feature.js';

export interface KioskStateDeps {
  readonly runtime: Pick<KioskRuntime, 'status' | 'subscribe'>;
  readonly indicators: Pick<Indicators, 'setLeds'>;
  readonly link: { connected(): boolean; onConnect(listener: () => void): unknown };
  readonly notifier: { status(line: string): void };
  readonly publish: KioskPublisher;
  /** The retained `info` payload as it stands (face models may load after the first connect). */
  readonly info: { publish(): void };
  readonly startedAt: string;
  readonly wallClock: () => Date;
  readonly log: Logger;
}

const portsLine = (s: KioskStatus) => PORT_IDS.map((id) => `${id}=${describePortState(s.ports[id])}`).join(' ');

export interface KioskState extends Feature {
  /** The status line systemd shows (`systemctl status kioskd`). */
  statusLine(): string;
  /** Publishes the retained state now (after the machine starts). */
  publishNow(): void;
}

export function kioskState(d: KioskStateDeps): KioskState {
  let since = d.startedAt;
  let lastMode = d.runtime.status().mode;
  let connected = false;
  let unsubscribe = () => {};
  const statusLine = (s = d.runtime.status()) => `${s.mode}; ${portsLine(s)}; mqtt=${d.link.connected() ? 'connected' : 'connecting'}`;
  const publishState = (s: KioskStatus): void =>
    d.publish.retained('state', { mode: s.mode, step: s.step, session_id: s.sessionId, ports: s.ports, leds: ledsFor(s), since });
  const changed = (s: KioskStatus): void => {
    if (s.mode !== lastMode) {
      since = d.wallClock().toISOString();
      d.log.info({ from: lastMode, to: s.mode, ports: portsLine(s) }, 'kiosk mode changed');
      lastMode = s.mode;
    }
    d.indicators.setLeds(ledsFor(s));
    publishState(s);
    d.notifier.status(statusLine(s));
  };
  return {
    name: 'kiosk-state',
    start() {
      unsubscribe = d.runtime.subscribe(changed);
      // The link has no way to unsubscribe; a stopped feature ignores later connects.
      connected = true;
      d.link.onConnect(() => {
        if (!connected) return;
        d.info.publish();
        d.notifier.status(statusLine());
      });
    },
    stop() {
      connected = false;
      unsubscribe();
    },
    statusLine: () => statusLine(),
    publishNow: () => publishState(d.runtime.status()),
  };
}
