import type { Logger } from '../../log/logger.js';
import { BUTTON_IDS, LED_IDS, type ButtonId, type LedId } from '../ports.js';
import { PortFaultError, type Fault } from '../supervised-port.js';
import type { GpioIndicatorsConfig } from './config.js';
import { findGpioChip, GPIO_SYSFS_ROOT, type GpioChip } from './gpio-base.js';

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

export interface ClaimedPins {
  readonly chip: GpioChip;
  readonly lamps: ReadonlyMap<LedId, GpioLine>;
  readonly buttons: ReadonlyMap<ButtonId, GpioLine>;
}

/**
 * Claims every configured pin: the lamps start off, the buttons are inputs on both edges.
 * Returns why it could not (pins already claimed are released), or null if `stopped()` turned
 * true meanwhile.
 */
export async function claimPins(
  cfg: GpioIndicatorsConfig,
  o: { loadOnoff: () => Promise<GpioModule>; root: string; stopped: () => boolean; log: Logger },
): Promise<ClaimedPins | Fault | null> {
  let onoff: GpioModule;
  try {
    onoff = await o.loadOnoff();
  } catch (err) {
    const reason = `cannot load the optional "onoff" module (${firstLine(err)}); install it, or set indicators.driver to "none"`;
    return { code: 'not-installed', reason };
  }
  if (!onoff.Gpio.accessible) {
    const reason = `no access to ${GPIO_SYSFS_ROOT}/export: no GPIO sysfs on this machine, or kioskd is not in group gpio`;
    return { code: 'permission', reason };
  }
  let chip: GpioChip;
  try {
    chip = await findGpioChip(cfg.chip, o.root);
  } catch (err) {
    return { code: 'not-present', reason: firstLine(err) };
  }
  if (o.stopped()) return null;
  const pin = (role: string, bcm: number, make: (n: number) => GpioLine): GpioLine => {
    if (chip.ngpio !== null && bcm >= chip.ngpio)
      throw new PortFaultError({ code: 'pin-unavailable', reason: `${role}: BCM ${bcm} is beyond ${chip.label}'s ${chip.ngpio} lines` });
    const n = chip.base + bcm;
    try {
      return make(n);
    } catch (err) {
      throw new PortFaultError({ ...gpioFault(err), reason: `${role} (BCM ${bcm} = GPIO ${n} on ${chip.label}): ${gpioFault(err).reason}` });
    }
  };
  const lamps = new Map<LedId, GpioLine>();
  const buttons = new Map<ButtonId, GpioLine>();
  try {
    for (const id of LED_IDS) {
      const bcm = cfg.leds[id];
      if (bcm === undefined) continue;
      // "high"/"low" set the raw level as the pin becomes an output, so the lamp starts off without a flash.
      lamps.set(
        id,
        pin(`leds.${id}`, bcm, (n) => new onoff.Gpio(n, cfg.activeLow ? 'high' : 'low', 'none', { activeLow: cfg.activeLow })),
      );
    }
    for (const id of BUTTON_IDS) {
      const bcm = cfg.buttons[id];
      if (bcm === undefined) continue;
      // Both edges, so a release is seen too and a held button counts once.
      buttons.set(
        id,
        pin(`buttons.${id}`, bcm, (n) => new onoff.Gpio(n, 'in', 'both', { activeLow: cfg.buttonsActiveLow })),
      );
    }
  } catch (err) {
    releasePins({ lamps, buttons }, o.log);
    return err instanceof PortFaultError ? err.fault : { code: 'pin-unavailable', reason: firstLine(err) };
  }
  return { chip, lamps, buttons };
}

/** Switches the lamps off (a lamp left lit by a stopped daemon would tell patients the kiosk is ready) and gives every pin back. */
export function releasePins(pins: Pick<ClaimedPins, 'lamps' | 'buttons'>, log: Logger): void {
  const quietly = (fn: () => void, what: string): void => {
    try {
      fn();
    } catch (err) {
      log.debug({ err: (err as Error).message }, `GPIO ${what} failed`);
    }
  };
  for (const [id, line] of pins.buttons) {
    quietly(() => line.unwatchAll(), `unwatch ${id}`);
    quietly(() => line.unexport(), `unexport ${id}`);
  }
  for (const [id, line] of pins.lamps) {
    quietly(() => line.writeSync(0), `switch off ${id}`);
    quietly(() => line.unexport(), `unexport ${id}`);
  }
}

export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

function gpioFault(err: unknown): Fault {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EINVAL') return { code: 'pin-unavailable', reason: 'the kernel refused the GPIO number (wrong chip or base?)' };
  if (e?.code === 'EBUSY') return { code: 'pin-unavailable', reason: 'the pin is in use (by a kernel driver or another program)' };
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return { code: 'permission', reason: 'permission denied (is the kioskd user in group gpio?)' };
  return { code: 'pin-unavailable', reason: firstLine(err) };
}
