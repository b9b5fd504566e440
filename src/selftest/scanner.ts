import type { CardConfig, Config } from '../config/schema.js';
import type { ScanResult } from '../hal/card/types.js';
import { maskId } from '../log/mask.js';
import type { CardReader } from '../hal/ports.js';
import type { Clock } from '../util/clock.js';
import { absentVerdict, fail, firstState, pass, seconds, type Check, type Verdict } from './check.js';

export interface ScannerCheckDeps {
  readonly config: Pick<Config, 'hal' | 'kiosk'>;
  readonly card: CardReader;
  readonly clock: Clock;
  /** 0: only check the scanner is there; N: also wait up to N s for a real card and parse it. */
  readonly scanMs: number;
  /** Tells the technician to scan now (stderr, not the report). */
  readonly prompt: (line: string) => void;
  readonly limitMs: number;
}

/**
 * The card port opens and is ready (the device is present). With --scan-sec, a card scanned
 * now must parse; the report shows only its masked number, and the identity is dropped.
 */
export function scannerCheck(d: ScannerCheckDeps): Check {
  const cfg = d.config.hal.card;
  return {
    name: 'scanner',
    limitMs: d.limitMs + d.scanMs,
    async run(signal): Promise<Verdict> {
      if (cfg.driver === 'none') return absentVerdict('card scanner', 'hal.card.driver', d.config.kiosk.requiredPorts.includes('card'));
      const where = scannerWhere(cfg);
      // Listening before open: a scan racing the open is not lost.
      let scanned: ScanResult | null = null;
      let onScanned: () => void = () => {};
      const off = d.card.onScan((s) => {
        scanned ??= s;
        onScanned();
        return false;
      });
      try {
        await d.card.open(signal);
        const state = await firstState(d.card, signal);
        if (!state) return fail(`the scanner at ${where} did not open within ${seconds(d.limitMs)}`);
        if (state.kind === 'faulted' || state.kind === 'absent')
          return fail(`not available at ${where}: ${state.reason}${/busy/.test(state.reason) ? '; is the kioskd service still running?' : ''}`);
        const ready = `scanner ready at ${where}`;
        if (d.scanMs === 0) return pass(ready);
        d.prompt(`scanner: scan a CCCD card now (${seconds(d.scanMs)})…`);
        const got = await new Promise<ScanResult | null>((resolve) => {
          const t = d.clock.setTimeout(() => done(null), d.scanMs);
          const done = (r: ScanResult | null): void => {
            d.clock.clearTimeout(t);
            signal.removeEventListener('abort', onAbort);
            resolve(r);
          };
          const onAbort = (): void => done(null);
          onScanned = () => done(scanned);
          if (scanned) return done(scanned);
          signal.addEventListener('abort', onAbort, { once: true });
        });
        if (!got) return fail(`${ready}, but no card was scanned within ${seconds(d.scanMs)}`);
        if (got.kind === 'rejected')
          return fail(`${ready}, but the scan was rejected: ${got.rejection.message} (${got.summary.bytes} bytes, ${got.summary.fields} fields)`);
        return pass(`${ready}; card ${maskId(got.identity.idNumber)} read (${got.identity.form})`);
      } finally {
        off();
      }
    },
  };
}

function scannerWhere(cfg: Exclude<CardConfig, { driver: 'none' }>): string {
  return cfg.driver === 'serial'
    ? cfg.path
    : `usb ${cfg.vendorId.toString(16).padStart(4, '0')}:${cfg.productId.toString(16).padStart(4, '0')} (HID)`;
}
