import type { Leds } from '../hal/ports.js';
import type { KioskStatus } from './runtime.js';

/**
 * What the lamps say, from the kiosk's status. Green "ready" steady: scan your card; blinking
 * with "busy" on: press a button (consent); "busy" alone: please wait; red "error": out of
 * service (blinking: a technician is at work). Pure.
 */
export function ledsFor(s: Pick<KioskStatus, 'mode' | 'step'>): Leds {
  switch (s.mode) {
    case 'idle':
      return { ready: 'on', busy: 'off', error: 'off' };
    case 'in-session':
      return s.step === 'consent' || s.step === 'department'
        ? { ready: 'blink', busy: 'on', error: 'off' }
        : { ready: 'off', busy: 'on', error: 'off' };
    case 'out-of-service':
      return { ready: 'off', busy: 'off', error: 'on' };
    case 'maintenance':
      return { ready: 'off', busy: 'off', error: 'blink' };
    case 'booting':
      return { ready: 'off', busy: 'blink', error: 'off' };
    case 'stopping':
      return { ready: 'off', busy: 'off', error: 'off' };
  }
}
