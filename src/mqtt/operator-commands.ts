import { randomUUID } from 'node:crypto';
import type { KioskRuntime } from '../pipeline/runtime.js';
import { sampleTicket, testTicketNumber } from '../printing/setup.js';
import type { TestPrintResult, TicketSpooler } from '../printing/spooler.js';
import type { Clock } from '../util/clock.js';
import type { CommandHandler } from './commands.js';

export interface OperatorCommandDeps {
  readonly runtime: KioskRuntime;
  readonly spooler: Pick<TicketSpooler, 'printTest'>;
  /** Aborted when the daemon stops: a test print in flight gives up. */
  readonly lifetime: AbortSignal;
  readonly clock: Clock;
  readonly wallClock: () => Date;
  readonly uptimeSec: () => number;
  /** One pass of the BHYT lookups left for later; null when the gateway is not enabled. */
  readonly reconcile: (() => Promise<{ done: number; left: number }>) | null;
  /** At most one test print per this many seconds (0: no limit). */
  readonly testPrintEverySec: number;
}

/**
 * The patient's own answers. Anyone on the broker could send them, answering for a patient who
 * stands at the kiosk: they come only from the kiosk's buttons (and, later, its local screen).
 */
export const PATIENT_ONLY_COMMANDS: Readonly<Record<string, string>> = {
  consent: "not accepted over MQTT: consent is the patient's own answer, taken only from the kiosk's buttons or screen",
  department: "not accepted over MQTT: the department is the patient's choice, made only at the kiosk",
};

/**
 * What an operator (central monitoring, a technician) may ask of a kiosk over MQTT. Only the
 * operator's acts: a patient's answers (consent, department) are taken from the kiosk's own
 * buttons and screen, never from the network, and `cancel` must name the session it ends.
 */
export function operatorCommands(d: OperatorCommandDeps): Record<string, CommandHandler> {
  let lastTestPrintAt = -Infinity;
  return {
    ping: () => ({ pong: true, uptime_s: Math.round(d.uptimeSec()) }),
    state: () => d.runtime.status(),
    'print-test': async (args): Promise<{ ticket_id: string; number: string } & TestPrintResult> => {
      if (args['number'] !== undefined)
        throw new Error(
          'print-test takes no number: a test ticket always carries its own TEST-… number, so no queue number can be printed from a command',
        );
      const mode = d.runtime.status().mode;
      if (mode === 'in-session') throw new Error('a patient is checking in: test prints wait until the kiosk is idle');
      if (mode === 'booting' || mode === 'stopping') throw new Error(`the kiosk is ${mode}`);
      const now = d.clock.now();
      const waitMs = lastTestPrintAt + d.testPrintEverySec * 1000 - now;
      if (waitMs > 0) throw new Error(`one test print per ${d.testPrintEverySec} s: try again in ${Math.ceil(waitMs / 1000)} s`);
      lastTestPrintAt = now;
      const ticketId = `test-${randomUUID()}`;
      const number = testTicketNumber(ticketId);
      const r = await d.spooler.printTest(sampleTicket(ticketId, number, d.wallClock()), d.lifetime);
      return { ticket_id: ticketId, number, ...r };
    },
    cancel: (args) => {
      const id = args['session_id'];
      if (typeof id !== 'string' || id === '') throw new Error('cancel needs {"session_id": …}: the check-in it ends (state answers with it)');
      const current = d.runtime.status().sessionId;
      if (current !== id) throw new Error(current === null ? 'no check-in is in progress' : 'that check-in is not the one in progress');
      d.runtime.cancel();
      return d.runtime.status();
    },
    reconcile: async () => {
      if (!d.reconcile) throw new Error('the BHYT gateway is not enabled');
      return d.reconcile();
    },
    maintenance: (args) => {
      if (typeof args['enabled'] !== 'boolean') throw new Error('maintenance needs {"enabled": true|false}');
      d.runtime.setMaintenance(args['enabled']);
      return { mode: d.runtime.status().mode };
    },
  };
}
