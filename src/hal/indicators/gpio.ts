import {
  BUTTON_IDS,
  LED_IDS,
  type ButtonId,
  type DriverDeps,
  type Indicators,
  type LedId,
  type Leds,
  type PortState,
  type Unsubscribe,
} from '../ports.js';
import type { GpioIndicatorsConfig } from './config.js';
import { findGpioChip, GPIO_SYSFS_ROOT } from './gpio-base.js';

/** The part of onoff's Gpio this driver uses; tests hand in a fake (watch() cannot run on a fake sysfs). */
export interface GpioLine {
  readSync(): 0 | 1;
  writeSync(value: 0 | 1): void;
  watch(callback: (err: Error | null | undefined, value: 0 | 1) => void): void;
  unwatchAll(): void;
  unexport(): void;
}

export interface GpioModule {
  readonly Gpio: {
    readonly accessible: boolean;
    new (
      gpio: number,
      direction: 'in' | 'out' | 'high' | 'low',
      edge: 'none' | 'rising' | 'falling' | 'both',
      options: { activeLow?: boolean },
    ): GpioLine;
  };
}

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
  const root = deps.sysfsRoot ?? GPIO_SYSFS_ROOT;
  const loadOnoff = deps.loadOnoff ?? (() => import('onoff'));
  let state: PortState = { kind: 'connecting', attempt: 1 };
  const stateListeners = new Set<(s: PortState) => void>();
  const buttonListeners = new Set<(b: ButtonId) => void>();
  let leds: Leds = OFF;
  let stopped = true;
  const lamps = new Map<LedId, { line: GpioLine; written: 0 | 1 | null }>();
  const buttons = new Map<ButtonId, { line: GpioLine; stable: 0 | 1; latest: 0 | 1; timer: unknown }>();
  let blinkTimer: unknown = null;
  let blinkLit = true;

  const setState = (next: PortState): void => {
    if (JSON.stringify(next) === JSON.stringify(state)) return;
    state = next;
    if (next.kind === 'faulted') log.warn({ reason: next.reason }, 'GPIO lamps and buttons unavailable');
    for (const l of stateListeners) l(next);
  };

  /** Drives each lamp from `leds`; blinking lamps share one phase so they blink together. */
  const apply = (): void => {
    for (const [id, lamp] of lamps) {
      const s = leds[id];
      const value = s === 'on' || (s === 'blink' && blinkLit) ? 1 : 0;
      if (lamp.written === value) continue;
      try {
        lamp.line.writeSync(value);
        lamp.written = value;
      } catch (err) {
        lamp.written = null;
        setState({ kind: 'faulted', reason: `cannot set the ${id} lamp: ${(err as Error).message}` });
      }
    }
    const blinking = [...lamps.keys()].some((id) => leds[id] === 'blink');
    if (blinking && blinkTimer === null && !stopped) {
      blinkTimer = clock.setTimeout(toggleBlink, cfg.blinkMs);
    } else if (!blinking && blinkTimer !== null) {
      clock.clearTimeout(blinkTimer);
      blinkTimer = null;
      blinkLit = true; // the next blink starts lit, so it shows at once
    }
  };
  const toggleBlink = (): void => {
    blinkTimer = null;
    blinkLit = !blinkLit;
    apply();
  };

  const emit = (id: ButtonId): void => {
    log.debug({ button: id }, 'button pressed');
    for (const l of buttonListeners) {
      try {
        l(id);
      } catch (err) {
        log.error({ err: err instanceof Error ? err.message : String(err), button: id }, 'a button listener failed');
      }
    }
  };

  /** A press counts once the contact has stayed closed for debounceMs, and once per press. */
  const settle = (id: ButtonId): void => {
    const b = buttons.get(id);
    if (!b) return;
    b.timer = null;
    if (b.latest === b.stable) return;
    b.stable = b.latest;
    if (b.stable === 1) emit(id);
  };
  const watchButton = (id: ButtonId, line: GpioLine): void => {
    const b = { line, stable: line.readSync(), latest: 0 as 0 | 1, timer: null as unknown };
    b.latest = b.stable;
    buttons.set(id, b);
    line.watch((err, value) => {
      if (err) return log.debug({ button: id, err: err.message }, 'GPIO interrupt error');
      if (stopped) return;
      b.latest = value;
      clock.clearTimeout(b.timer);
      if (cfg.debounceMs === 0) settle(id);
      else b.timer = clock.setTimeout(() => settle(id), cfg.debounceMs);
    });
  };

  const release = (): void => {
    clock.clearTimeout(blinkTimer);
    blinkTimer = null;
    for (const [id, b] of buttons) {
      clock.clearTimeout(b.timer);
      quietly(() => b.line.unwatchAll(), `unwatch ${id}`);
      quietly(() => b.line.unexport(), `unexport ${id}`);
    }
    // A lamp left lit by a stopped daemon would tell patients the kiosk is ready.
    for (const [id, lamp] of lamps) {
      quietly(() => lamp.line.writeSync(0), `switch off ${id}`);
      quietly(() => lamp.line.unexport(), `unexport ${id}`);
    }
    buttons.clear();
    lamps.clear();
  };
  const quietly = (fn: () => void, what: string): void => {
    try {
      fn();
    } catch (err) {
      log.debug({ err: (err as Error).message }, `GPIO ${what} failed`);
    }
  };

  /** Claims every configured pin; returns why it could not, or null. */
  const claim = async (): Promise<string | null> => {
    let onoff: GpioModule;
    try {
      onoff = await loadOnoff();
    } catch (err) {
      return `cannot load the optional "onoff" module (${firstLine(err)}); install it, or set indicators.driver to "none"`;
    }
    if (!onoff.Gpio.accessible) {
      return `no access to ${GPIO_SYSFS_ROOT}/export: no GPIO sysfs on this machine, or kioskd is not in group gpio`;
    }
    let chip;
    try {
      chip = await findGpioChip(cfg.chip, root);
    } catch (err) {
      return firstLine(err);
    }
    if (stopped) return null;
    const pin = (role: string, bcm: number, make: (n: number) => GpioLine): GpioLine => {
      if (chip.ngpio !== null && bcm >= chip.ngpio) throw new Error(`${role}: BCM ${bcm} is beyond ${chip.label}'s ${chip.ngpio} lines`);
      const n = chip.base + bcm;
      try {
        return make(n);
      } catch (err) {
        throw new Error(`${role} (BCM ${bcm} = GPIO ${n} on ${chip.label}): ${gpioErrorReason(err)}`, { cause: err });
      }
    };
    try {
      for (const id of LED_IDS) {
        const bcm = cfg.leds[id];
        if (bcm === undefined) continue;
        // "high"/"low" set the raw level as the pin becomes an output, so the lamp starts off without a flash.
        const line = pin(`leds.${id}`, bcm, (n) => new onoff.Gpio(n, cfg.activeLow ? 'high' : 'low', 'none', { activeLow: cfg.activeLow }));
        lamps.set(id, { line, written: 0 });
      }
      for (const id of BUTTON_IDS) {
        const bcm = cfg.buttons[id];
        if (bcm === undefined) continue;
        // Both edges, so a release is seen too and a held button counts once.
        watchButton(
          id,
          pin(`buttons.${id}`, bcm, (n) => new onoff.Gpio(n, 'in', 'both', { activeLow: cfg.buttonsActiveLow })),
        );
      }
    } catch (err) {
      release();
      return firstLine(err);
    }
    log.info({ chip: chip.label, base: chip.base, lamps: [...lamps.keys()], buttons: [...buttons.keys()] }, 'GPIO lamps and buttons claimed');
    return null;
  };

  return {
    id: 'indicators',
    driver: 'gpio',
    async open(signal) {
      if (signal.aborted || !stopped) return;
      stopped = false;
      const reason = await claim();
      if (stopped) return release(); // closed while claiming
      if (reason !== null) return setState({ kind: 'faulted', reason });
      setState({ kind: 'ready' });
      apply();
    },
    async close() {
      stopped = true;
      release();
    },
    state: () => state,
    onStateChange(listener): Unsubscribe {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    setLeds(next) {
      leds = { ready: next.ready, busy: next.busy, error: next.error };
      if (!stopped) apply();
    },
    leds: () => leds,
    onButton(listener): Unsubscribe {
      buttonListeners.add(listener);
      return () => buttonListeners.delete(listener);
    },
  };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

function gpioErrorReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EINVAL') return 'the kernel refused the GPIO number (wrong chip or base?)';
  if (e?.code === 'EBUSY') return 'the pin is in use (by a kernel driver or another program)';
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return 'permission denied (is the kioskd user in group gpio?)';
  return firstLine(err);
}
