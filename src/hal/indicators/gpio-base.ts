import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const GPIO_SYSFS_ROOT = '/sys/class/gpio';

export interface GpioChip {
  /** Directory name, e.g. "gpiochip512". */
  readonly name: string;
  readonly label: string;
  /** Global number of the chip's line 0: BCM n is base + n in /sys/class/gpio/export. */
  readonly base: number;
  /** Number of lines, when the kernel says. */
  readonly ngpio: number | null;
}

/** Every gpiochip* under `root` with its label and base; unreadable entries are skipped. */
export async function listGpioChips(root = GPIO_SYSFS_ROOT): Promise<GpioChip[]> {
  let names: string[];
  try {
    names = (await readdir(root)).filter((n) => /^gpiochip\d+$/.test(n));
  } catch (err) {
    throw new Error(`cannot read ${root}: ${(err as Error).message} (no GPIO sysfs on this machine?)`, { cause: err });
  }
  const chips: GpioChip[] = [];
  for (const name of names) {
    const label = await readTrimmed(join(root, name, 'label'));
    const base = await readInt(join(root, name, 'base'));
    const ngpio = await readInt(join(root, name, 'ngpio'));
    if (label === null || base === null || base < 0) continue;
    chips.push({ name, label, base, ngpio: ngpio !== null && ngpio > 0 ? ngpio : null });
  }
  return chips.sort((a, b) => a.base - b.base);
}

/**
 * The chip the kiosk's pins are on. The base is read, never assumed: Bookworm kernels moved
 * it from 0 to 512 (Pi 4; 522 reported too) and 571 (Pi 5), and onoff takes global numbers.
 * `chip` is a label, or "auto" for the single chip whose label starts with "pinctrl-".
 */
export async function findGpioChip(chip: string, root = GPIO_SYSFS_ROOT): Promise<GpioChip> {
  const chips = await listGpioChips(root);
  const found = chips.map((c) => `${c.name} "${c.label}" (base ${c.base})`).join(', ') || 'none';
  const matches = chips.filter((c) => (chip === 'auto' ? c.label.startsWith('pinctrl-') : c.label === chip));
  if (matches.length === 1) return matches[0]!;
  const wanted = chip === 'auto' ? 'labelled "pinctrl-…"' : `labelled "${chip}"`;
  if (matches.length === 0) throw new Error(`no GPIO chip ${wanted} under ${root}; found: ${found}`);
  throw new Error(`several GPIO chips ${wanted} under ${root}: ${found}; set chip to one of these labels`);
}

async function readInt(path: string): Promise<number | null> {
  const text = await readTrimmed(path);
  return text !== null && /^\d+$/.test(text) ? Number(text) : null;
}

async function readTrimmed(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return null;
  }
}
