import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { CardConfig, PrinterConfig } from '../config/schema.js';
import type { Clock } from '../util/clock.js';
import { absentCamera, absentCardReader, absentIndicators, absentPrinter } from './absent.js';
import type { CameraConfig } from './camera/config.js';
import { createRpicamCamera } from './camera/rpicam.js';
import { absentChipReader, createChipPort, createHn212ChipPort } from './chip/hal-port.js';
import type { Hn212Config } from './chip/hn212.js';
import type { ChipReaderConfig } from './chip/port.js';
import type { IndicatorsConfig } from './indicators/config.js';
import { createGpioIndicators } from './indicators/gpio.js';

import { createSimIndicators } from './indicators/sim.js';
import { createHidScanner } from './card/hid-reader.js';
import { createCardReader, createScanAssembler } from './card/reader.js';
import { linkOpenerFor } from './card/transport.js';
import { createTicketPrinter } from './printer/printer.js';
import { devicePrinter, tcpPrinter } from './printer/transport.js';
import { usbPrinter } from './printer/usb.js';
import { PORT_IDS, type Camera, type CardReader, type ChipReader, type Indicators, type Port, type PortId, type TicketPrinter } from './ports.js';
import { createStorageWatch, type StorageWatch } from './storage.js';

export interface Hal {
  readonly mode: 'real' | 'sim';
  readonly ports: Readonly<Record<PortId, Port>> & {
    readonly card: CardReader;
    readonly printer: TicketPrinter;
    readonly camera: Camera;
    readonly indicators: Indicators;
    readonly storage: StorageWatch;
    readonly chip: ChipReader;
  };
  /** driver name per port, as loaded; reported at start and in kiosk/<id>/info. */
  readonly drivers: Readonly<Record<PortId, string>>;
  open(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export interface HalDeps {
  readonly log: Logger;
  readonly clock: Clock;
  readonly random: () => number;
  readonly today: () => { year: number; month: number; day: number };
  /** The environment camera commands run with (hw-sim puts its fake rpicam-vid and rpicam-still on PATH). */
  readonly env?: NodeJS.ProcessEnv;
  /** The state directory whose free space is watched (kiosk.stateDir, kiosk.storage). */
  readonly storage: { readonly dir: string; readonly lowMb: number; readonly minMb: number; readonly checkEverySec: number };
  /** The chip reader's config (the top-level `chip` section); null when chip.enabled is false. */
  readonly chip?: { readonly driver: 'pcsc' | 'hn212'; readonly reader: ChipReaderConfig; readonly hn212: Hn212Config } | null;
}

/**
 * Builds each port from its config entry. Drivers with native dependencies are imported
 * here, lazily, only when configured, so a machine without libusb still starts.
 */
export async function createHal(cfg: Config['hal'], deps: HalDeps): Promise<Hal> {
  const ports = {} as Record<PortId, Port> & {
    card: CardReader;
    printer: TicketPrinter;
    camera: Camera;
    indicators: Indicators;
    storage: StorageWatch;
    chip: ChipReader;
  };
  ports.camera = createCamera(cfg.camera, deps);
  ports.indicators = createIndicators(cfg.indicators, deps);
  ports.card = createCard(cfg.card, deps);
  ports.printer = createPrinter(cfg.printer, deps);
  const st = deps.storage;
  ports.storage = createStorageWatch({
    dir: st.dir,
    lowBytes: st.lowMb * 2 ** 20,
    minBytes: st.minMb * 2 ** 20,
    everyMs: st.checkEverySec * 1000,
    clock: deps.clock,
    log: deps.log.child({ port: 'storage' }),
  });
  ports.chip = createChip(deps);
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

function createCard(cfg: CardConfig, deps: HalDeps): CardReader {
  const log = deps.log.child({ port: 'card' });
  switch (cfg.driver) {
    case 'none':
      return absentCardReader('no driver configured');
    case 'serial':
      return createCardReader(
        {
          driver: cfg.path.startsWith('tcp://') ? 'serial-tcp' : 'serial',
          where: cfg.path,
          openLink: linkOpenerFor(cfg.path, cfg.baudRate),
          termination: cfg.framing,
          idleGapMs: cfg.idleGapMs,
          duplicateWindowMs: cfg.duplicateWindowSec * 1000,
          reconnect: { baseMs: cfg.reconnectBaseMs, maxMs: cfg.reconnectMaxMs },
        },
        { ...deps, log },
      );
    case 'hid': {
      const assembler = createScanAssembler(
        { termination: cfg.framing, idleGapMs: cfg.idleGapMs, duplicateWindowMs: cfg.duplicateWindowSec * 1000 },
        { ...deps, log },
      );
      const port = createHidScanner(
        { vendorId: cfg.vendorId, productId: cfg.productId, mode: cfg.mode },
        { log, clock: deps.clock, onBytes: (b, endOfScan) => assembler.push(b, endOfScan), onReset: () => assembler.reset() },
      );
      return { ...port, onScan: (l) => assembler.onScan(l) };
    }
  }
}

/** The PC/SC binding or socket.io-client is loaded only when the chip is on, at open (src/hal/chip/pcsc.ts, hn212.ts). */
function createChip(deps: HalDeps): ChipReader {
  const chip = deps.chip;
  if (!chip) return absentChipReader('chip reading is off (chip.enabled: false)');
  const d = { clock: deps.clock, log: deps.log.child({ port: 'chip' }) };
  return chip.driver === 'hn212' ? createHn212ChipPort(chip.hn212, d) : createChipPort(chip.reader, d);
}

function createCamera(cfg: CameraConfig, deps: HalDeps): Camera {
  if (cfg.driver === 'none') return absentCamera('no driver configured');
  return createRpicamCamera(cfg, {
    clock: deps.clock,
    random: deps.random,
    log: deps.log.child({ port: 'camera' }),
    ...(deps.env ? { env: deps.env } : {}),
  });
}

function createIndicators(cfg: IndicatorsConfig, deps: HalDeps): Indicators {
  const d = { clock: deps.clock, random: deps.random, log: deps.log.child({ port: 'indicators' }) };
  switch (cfg.driver) {
    case 'none':
      return absentIndicators('no driver configured');
    case 'gpio':
      return createGpioIndicators(cfg, d);
    case 'sim':
      return createSimIndicators(cfg, d);
  }
}

function createPrinter(cfg: PrinterConfig, deps: HalDeps): TicketPrinter {
  if (cfg.driver === 'none') return absentPrinter('no driver configured');
  const link =
    cfg.driver === 'tcp'
      ? { driver: 'escpos-tcp', where: `tcp://${cfg.host}:${cfg.port}`, openLink: tcpPrinter(cfg.host, cfg.port) }
      : cfg.driver === 'device'
        ? { driver: 'escpos-device', where: cfg.path, openLink: devicePrinter(cfg.path) }
        : {
            driver: 'escpos-usb',
            where: `usb ${cfg.vendorId.toString(16)}:${cfg.productId.toString(16)}`,
            openLink: usbPrinter(cfg.vendorId, cfg.productId),
          };
  return createTicketPrinter(
    {
      ...link,
      pollMs: cfg.statusPollMs,
      statusTimeoutMs: cfg.statusTimeoutMs,
      jobTimeoutMs: cfg.jobTimeoutMs,
      reconnect: { baseMs: cfg.reconnectBaseMs, maxMs: cfg.reconnectMaxMs },
    },
    { clock: deps.clock, random: deps.random, log: deps.log.child({ port: 'printer' }) },
  );
}
