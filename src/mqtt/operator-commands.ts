import { randomUUID } from 'node:crypto';
import type { KioskRuntime } from '../pipeline/runtime.js';
import { sampleTicket, testTicketNumber } from '../printing/ticket/test-ticket.js';
import type { TicketSpooler } from '../printing/spooler.js';
import type { Clock } from '../util/clock.js';
import type { CommandData, CommandName } from './contract/commands.js';
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

/** Every command of the contract, each answering with the data the contract says it does. */
export type OperatorCommands = {
  readonly [K in CommandName]: (...args: Parameters<CommandHandler<K>>) => CommandData<K> | Promise<CommandData<K>>;
};

/**
 * What an operator (central monitoring, a technician) may ask of a kiosk over MQTT. Only the
 * operator's acts: a patient's answers (consent, department) are taken from the kiosk's own
 * buttons and screen, never from the network, and `cancel` must name the session it ends.
 * Arguments arrive parsed by the contract (serveCommands): what is wrong with them is answered there.
 */
export function operatorCommands(d: OperatorCommandDeps): OperatorCommands {
  let lastTestPrintAt = -Infinity;
  return {
    ping: () => ({ pong: true as const, uptime_s: Math.round(d.uptimeSec()) }),
    state: () => d.runtime.status(),
    'print-test': async () => {
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
    cancel: ({ session_id }) => {
      const current = d.runtime.status().sessionId;
      if (current !== session_id) throw new Error(current === null ? 'no check-in is in progress' : 'that check-in is not the one in progress');
      d.runtime.cancel();
      return d.runtime.status();
    },
    reconcile: async () => {
      if (!d.reconcile) throw new Error('the BHYT gateway is not enabled');
      return d.reconcile();
    },
    maintenance: ({ enabled }) => {
      d.runtime.setMaintenance(enabled);
      return { mode: d.runtime.status().mode };
    },
  };
}
