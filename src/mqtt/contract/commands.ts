/**
 * Commands: kiosk/<id>/cmd/<name> with a JSON object; the answer on kiosk/<id>/cmd/<name>/response.
 * `args` is what the daemon parses a request with (serveCommands), and `badArgs` the answer a
 * request gets when they do not parse.
 */
import { z } from 'zod';
import { kioskMode, mapValues, ports, sessionId, step, transaction } from './shared.js';

export const kioskStatus = z
  .object({ mode: kioskMode, step, sessionId: sessionId.nullable(), ports })
  .describe("The kiosk's status as the state machine reports it (note: sessionId, not session_id).");

export const commandError = z
  .object({
    transaction: transaction.nullable().describe("The request's transaction, or null when it had none (or was not JSON)."),
    status: z.literal('error'),
    error: z
      .string()
      .describe("What was wrong: not JSON, not an object, unknown command (with the known ones), bad arguments, or the handler's reason."),
  })
  .describe('The command was not carried out.');

export const commandResponse = z
  .object({
    transaction: transaction.nullable(),
    status: z.enum(['ok', 'error']),
    data: z.exactOptional(z.unknown()),
    error: z.exactOptional(z.string()),
  })
  .describe("The answer to any command: ok with the command's data, or error with a reason.");

export interface CommandSpec {
  readonly summary: string;
  /** What an ok answer's data holds, in words. */
  readonly answer: string;
  readonly args: z.ZodObject;
  /** The error answer when the arguments do not parse (default: zod's first issue). */
  readonly badArgs?: string;
  /** Arguments refused by name, with the answer: a field the request must not carry at all. */
  readonly refusedArgs?: Readonly<Record<string, string>>;
  readonly data: z.ZodType;
}

export const commandSpecs = {
  ping: {
    summary: 'Is the daemon there and answering.',
    answer: 'the uptime in seconds',
    args: z.object({}),
    data: z.object({ pong: z.literal(true), uptime_s: z.number().int() }).describe('Yes, and for how long (seconds).'),
  },
  state: {
    summary: "The kiosk's status now.",
    answer: 'the kiosk status',
    args: z.object({}),
    data: kioskStatus,
  },
  'print-test': {
    summary:
      'Prints a test ticket: a TEST-… number no lane uses, "PHIẾU IN THỬ — KHÔNG CÓ GIÁ TRỊ" bars top and bottom, no priority bar, no QR code. At most one per mqtt.commands.testPrintEverySec; refused while a patient is checking in; dropped, never held, when the printer is not ready.',
    answer: 'the ticket id, its TEST-… number and whether it printed',
    args: z.object({}),
    refusedArgs: {
      number: 'print-test takes no number: a test ticket always carries its own TEST-… number, so no queue number can be printed from a command',
    },
    data: z
      .discriminatedUnion('outcome', [
        z.object({ ticket_id: z.string(), number: z.string().regex(/^TEST-/), outcome: z.literal('printed') }),
        z.object({
          ticket_id: z.string(),
          number: z.string().regex(/^TEST-/),
          outcome: z.literal('dropped'),
          reason: z.string().describe('Why it did not print (printer faulted, paper out …).'),
        }),
      ])
      .describe('printed, or dropped (the printer could not print it: a test print is never held for a reprint).'),
  },
  cancel: {
    summary: 'Abandons the check-in in progress. Refused unless session_id names it (from the state topic or the state command).',
    answer: 'the kiosk status',
    args: z.object({
      session_id: z
        .string()
        .refine((id) => id !== '')
        .describe('The check-in to end; any other (or none) is refused.'),
    }),
    badArgs: 'cancel needs {"session_id": …}: the check-in it ends (state answers with it)',
    data: kioskStatus,
  },
  reconcile: {
    summary: 'Makes the BHYT lookups that could not be made at check-in now (one pass). Error when the gateway is not enabled.',
    answer: 'how many lookups were answered and how many still wait',
    args: z.object({}),
    data: z.object({ done: z.number().int().describe('Lookups answered in this pass.'), left: z.number().int().describe('Still waiting.') }),
  },
  maintenance: {
    summary: 'Takes the kiosk out of service for a technician, or back.',
    answer: 'the mode now',
    args: z.object({ enabled: z.boolean() }),
    badArgs: 'maintenance needs {"enabled": true|false}',
    data: z.object({ mode: kioskMode }),
  },
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof commandSpecs;
/** What a handler of command K is handed: its arguments as parsed (transaction and unknown fields dropped). */
export type CommandArgs<K extends CommandName> = z.infer<(typeof commandSpecs)[K]['args']>;
/** What an ok answer to command K carries. */
export type CommandData<K extends CommandName> = z.infer<(typeof commandSpecs)[K]['data']>;

function request(name: string, spec: CommandSpec): z.ZodType {
  return spec.args.extend({ transaction: z.exactOptional(transaction) }).describe(`Command ${name}: ${spec.summary}`);
}

function response(name: string, spec: CommandSpec) {
  const ok = z.object({ transaction: transaction.nullable(), status: z.literal('ok'), data: spec.data });
  return z.discriminatedUnion('status', [ok, commandError]).describe(`Answer to ${name}.`);
}

export const commandPayloads = mapValues(commandSpecs as Record<CommandName, CommandSpec>, (spec, name) => ({
  request: request(name, spec),
  response: response(name, spec) as z.ZodType,
}));

export const anyCommand = z
  .object({ transaction: z.exactOptional(transaction) })
  .describe('Any other command name: the kiosk answers with an error that lists the commands it knows.');
