import type { Camera, CardReader, Indicators, Leds, Port, PortId, PortState, TicketPrinter, Unsubscribe } from './ports.js';

/**
 * A port with no device behind it. It says so honestly ("absent") instead of pretending to
 * work, so the kiosk goes out of service when a required port is missing.
 */
export function absentPort(id: PortId, reason: string): Port {
  const state: PortState = { kind: 'absent', reason };
  return {
    id,
    driver: 'none',
    open: async () => {},
    close: async () => {},
    state: () => state,
    onStateChange: (): Unsubscribe => () => {},
  };
}

export function absentCardReader(reason: string): CardReader {
  return { ...absentPort('card', reason), onScan: () => () => {} };
}

export function absentPrinter(reason: string): TicketPrinter {
  return { ...absentPort('printer', reason), print: async () => ({ ok: false, reason: `no printer: ${reason}` }), status: () => null };
}

export function absentCamera(reason: string): Camera {
  return { ...absentPort('camera', reason), prepare: () => {}, capture: async () => ({ ok: false, reason: `no camera: ${reason}` }) };
}

/**
 * Indicators with nothing behind them. The kiosk still works without lamps or buttons (the
 * screen says everything); this keeps what it was told, so kiosk/<id>/info can still show
 * what the lamps would show.
 */
export function absentIndicators(reason: string): Indicators {
  let leds: Leds = { ready: 'off', busy: 'off', error: 'off' };
  return {
    ...absentPort('indicators', reason),
    setLeds(next) {
      leds = { ready: next.ready, busy: next.busy, error: next.error };
    },
    leds: () => leds,
    onButton: (): Unsubscribe => () => {},
  };
}
