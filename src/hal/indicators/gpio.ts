import type { Clock } from '../../util/clock.js';
import type { ButtonId, DriverDeps, Indicators, LedId, Leds } from '../ports.js';
import { createStateCell } from '../supervised-port.js';
import { createButtonFanout } from './buttons.js';
import type { GpioIndicatorsConfig } from './config.js';
import { GPIO_SYSFS_ROOT } from './gpio-base.js';
import { claimPins, releasePins, type GpioLine, type GpioModule } from './gpio-claim.js';

export type { GpioLine, GpioModule } from './gpio-claim.js';

export interface GpioIndicatorsDeps extends DriverDeps {
  /** Where to look for gpiochip*\/label and base (tests point it at a temp tree). onoff itself always uses /sys/class/gpio. */
  readonly sysfsRoot?: string;
  /** Loads onoff; tests hand in a fake. */
  readonly loadOnoff?: () => Promise<GpioModule>;
}

const OFF: Leds = { ready: 'off', busy: 'off', error: 'off' };

/**
 * Lamps and buttons on the Raspberry Pi header through onoff (sysfs GPIO). onoff is optional
 * and native, so it is loaded only here, in open(); without it, or without GPIO access, the
 * port is `faulted` with the reason and the kiosk runs on without lamps. GPIO does not come
 * and go like a USB device, so there is no reconnect loop: a failed claim stays failed.
 */
export function createGpioIndicators(cfg: GpioIndicatorsConfig, deps: GpioIndicatorsDeps): Indicators {
  const { clock, log } = deps;
  const cell = createStateCell({ kind: 'connecting', attempt: 1 }, (next) => {
    if (next.kind === 'faulted') log.warn({ reason: next.reason }, 'GPIO lamps and buttons unavailable');
  });
  const buttons = createButtonFanout(log);
  let leds: Leds = OFF;
  let stopped = true;
  const watched = new Map<ButtonId, { line: GpioLine; timer: unknown }>();
  const lamps = createLamps(cfg.blinkMs, clock, (id, err) =>
    cell.set({ kind: 'faulted', code: 'lamp-failed', reason: `cannot set the ${id} lamp: ${(err as Error).message}` }),
  );
  const apply = (): void => lamps.show(leds, !stopped);

  /** A press counts once the contact has stayed closed for debounceMs, and once per press. */
  const watchButton = (id: ButtonId, line: GpioLine): void => {
    const b = { line, stable: line.readSync(), latest: 0 as 0 | 1, timer: null as unknown };
    b.latest = b.stable;
    watched.set(id, b);
    const settle = (): void => {
      b.timer = null;
      if (b.latest === b.stable) return;
      b.stable = b.latest;
      if (b.stable !== 1) return;
      log.debug({ button: id }, 'button pressed');
      buttons.emit(id);
    };
    line.watch((err, value) => {
      if (err) return log.debug({ button: id, err: err.message }, 'GPIO interrupt error');
      if (stopped) return;
      b.latest = value;
      clock.clearTimeout(b.timer);
      if (cfg.debounceMs === 0) settle();
      else b.timer = clock.setTimeout(settle, cfg.debounceMs);
    });
  };

  const release = (): void => {
    for (const b of watched.values()) clock.clearTimeout(b.timer);
    releasePins({ lamps: lamps.release(), buttons: new Map([...watched].map(([id, b]) => [id, b.line])) }, log);
    watched.clear();
  };

  const claim = async (): Promise<void> => {
    const root = deps.sysfsRoot ?? GPIO_SYSFS_ROOT;
    const loadOnoff = deps.loadOnoff ?? (() => import('onoff'));
    const pins = await claimPins(cfg, { loadOnoff, root, stopped: () => stopped, log });
    if (pins === null) return;
    if (!('chip' in pins)) {
      if (!stopped) cell.set({ kind: 'faulted', code: pins.code, reason: pins.reason });
      return;
    }
    for (const [id, line] of pins.lamps) lamps.add(id, line);
    for (const [id, line] of pins.buttons) watchButton(id, line);
    const { label, base } = pins.chip;
    log.info({ chip: label, base, lamps: lamps.ids(), buttons: [...watched.keys()] }, 'GPIO lamps and buttons claimed');
    if (stopped) return;
    cell.set({ kind: 'ready' });
    apply();
  };

  return {
    id: 'indicators',
    driver: 'gpio',
    async open(signal) {
      if (signal.aborted || !stopped) return;
      stopped = false;
      await claim();
      if (stopped) release(); // closed while claiming
    },
    async close() {
      stopped = true;
      release();
    },
    state: cell.state,
    onStateChange: cell.onStateChange,
    setLeds(next) {
      leds = { ready: next.ready, busy: next.busy, error: next.error };
      if (!stopped) apply();
    },
    leds: () => leds,
    onButton: buttons.onButton,
  };
}

/** The lamps' pins: each written only when its level changes; blinking lamps share one phase so they blink together. */
function createLamps(blinkMs: number, clock: Clock, onFail: (id: LedId, err: unknown) => void) {
  const lamps = new Map<LedId, { line: GpioLine; written: 0 | 1 | null }>();
  let blinkTimer: unknown = null;
  let blinkLit = true;
  let last: Leds = OFF;
  const show = (leds: Leds, running: boolean): void => {
    last = leds;
    for (const [id, lamp] of lamps) {
      const s = leds[id];
      const value = s === 'on' || (s === 'blink' && blinkLit) ? 1 : 0;
      if (lamp.written === value) continue;
      try {
        lamp.line.writeSync(value);
        lamp.written = value;
      } catch (err) {
        lamp.written = null;
        onFail(id, err);
      }
    }
    const blinking = [...lamps.keys()].some((id) => leds[id] === 'blink');
    if (blinking && blinkTimer === null && running) {
      blinkTimer = clock.setTimeout(() => {
        blinkTimer = null;
        blinkLit = !blinkLit;
        show(last, running);
      }, blinkMs);
    } else if (!blinking && blinkTimer !== null) {
      clock.clearTimeout(blinkTimer);
      blinkTimer = null;
      blinkLit = true; // the next blink starts lit, so it shows at once
    }
  };
  return {
    show,
    add: (id: LedId, line: GpioLine) => void lamps.set(id, { line, written: 0 }),
    ids: () => [...lamps.keys()],
    /** Stops blinking and hands the pins back for release. */
    release(): Map<LedId, GpioLine> {
      clock.clearTimeout(blinkTimer);
      blinkTimer = null;
      const lines = new Map([...lamps].map(([id, l]) => [id, l.line] as const));
      lamps.clear();
      return lines;
    },
  };
}
