import type { Indicators, Leds, PortState, Unsubscribe } from '../ports.js';

/**
 * Indicators with nothing behind them. The kiosk still works without lamps or buttons (the
 * screen says everything), so this says "absent" honestly and keeps what it was told, so
 * kiosk/<id>/info can still show what the lamps would show.
 */
export function nullIndicators(reason: string): Indicators {
  const state: PortState = { kind: 'absent', reason };
  let leds: Leds = { ready: 'off', busy: 'off', error: 'off' };
  return {
    id: 'indicators',
    driver: 'none',
    open: async () => {},
    close: async () => {},
    state: () => state,
    onStateChange: (): Unsubscribe => () => {},
    setLeds(next) {
      leds = { ready: next.ready, busy: next.busy, error: next.error };
    },
    leds: () => leds,
    onButton: (): Unsubscribe => () => {},
  };
}
