/** The retained `info` payload: what runs on this kiosk. The face models fill in their part once loaded. */
import type { KioskPublisher } from '../mqtt/publisher.js';
import type { FaceIdInfo, InfoPayload } from '../mqtt/topics.js';

export interface KioskInfoDeps {
  readonly version: string;
  readonly halMode: InfoPayload['hal_mode'];
  readonly drivers: InfoPayload['drivers'];
  readonly protocol: () => InfoPayload['mqtt_protocol'];
  readonly startedAt: string;
  readonly restartsSinceBoot: number;
  readonly publish: Pick<KioskPublisher, 'retained'>;
}

export interface KioskInfo {
  payload(): InfoPayload;
  setFaceId(faceid: FaceIdInfo): void;
  publish(): void;
}

export function kioskInfo(d: KioskInfoDeps): KioskInfo {
  let faceid: FaceIdInfo | null = null;
  const payload = (): InfoPayload => ({
    schema: 1,
    version: d.version,
    hal_mode: d.halMode,
    drivers: d.drivers,
    mqtt_protocol: d.protocol(),
    started_at: d.startedAt,
    faceid,
    restarts_since_boot: d.restartsSinceBoot,
  });
  return {
    payload,
    setFaceId(f) {
      faceid = f;
    },
    publish: () => d.publish.retained('info', payload()),
  };
}
