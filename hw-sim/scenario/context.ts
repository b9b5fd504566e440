import type { Leds } from '../../src/hal/ports.js';
import type { Clock } from '../../src/util/clock.js';
import { daemonRunning as isRunning } from '../daemon.js';
import type { KioskSim } from '../kiosk.js';
import type { MqttRecorder } from './mqtt-log.js';

/** Where a window starts: positions in the MQTT log and the device counters at a moment. */
export interface Mark {
  readonly mqtt: number;
  readonly tickets: number;
  readonly camera: number;
  readonly portrait: number;
  readonly bhyt: number;
  readonly log: number;
}

/** What steps and expectations of one scenario work on. */
export interface ScenarioContext {
  readonly kiosk: KioskSim;
  readonly mqtt: MqttRecorder;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  /** Values saved by `save:`, for `${name}`. */
  readonly saved: Map<string, unknown>;
  /** `start` (the scenario's beginning) and every `mark:` so far. */
  readonly marks: Map<string, Mark>;
  /** Lamp changes as the panel saw them, with clock times. */
  readonly leds: ReadonlyArray<{ readonly at: number; readonly leds: Leds }>;
  /** When the scanner last sent something (clock time), or null. */
  lastScanAt: number | null;
}

export function markNow(k: KioskSim, mqtt: MqttRecorder): Mark {
  return {
    mqtt: mqtt.seen.length,
    tickets: k.sim.printer.tickets.length,
    camera: k.sim.camera.calls().length + k.sim.camera.streamCalls().length,
    portrait: k.sim.identity.stats().requests,
    bhyt: k.sim.gateway.stats().lookups,
    log: k.output().length,
  };
}

export function daemonRunning(k: KioskSim): boolean {
  return isRunning(k.daemon);
}

/** "kioskd is not running (killed by SIGKILL)" when it is not; null while it runs. */
export function daemonNote(k: KioskSim): string | null {
  if (daemonRunning(k)) return null;
  return `kioskd is not running (${k.daemon.signalCode ? `killed by ${k.daemon.signalCode}` : `exited with code ${k.daemon.exitCode}`})`;
}

/** Resolves after `ms`, or rejects when the run is aborted (Ctrl-C). */
export function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clock.clearTimeout(h);
      reject(signal.reason as Error);
    };
    const h = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A step that did not do what it should: `lines` say what was expected and what was seen. */
export class StepFailed extends Error {
  constructor(readonly lines: readonly string[]) {
    super(lines.join('\n'));
  }
}
