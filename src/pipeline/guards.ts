import type { KioskContext, KioskEvent } from './session.js';
import { requiredPortsUsable } from './session.js';

/** The machine's named delays and guards: read from the context (the policy), never from a clock or I/O. */
type Args = { readonly context: KioskContext };

export const delays = {
  resultHold: ({ context }: Args) => context.resultHoldMs,
  consent: ({ context }: Args) => context.policy.consentTimeoutMs,
  retryPause: ({ context }: Args) => context.policy.retryPauseMs,
  departmentChoice: ({ context }: Args) => context.policy.departmentChoiceMs,
  portrait: ({ context }: Args) => context.policy.timeouts.portraitMs,
  capture: ({ context }: Args) => context.policy.timeouts.captureMs,
  verify: ({ context }: Args) => context.policy.timeouts.verifyMs,
  insurance: ({ context }: Args) => context.policy.timeouts.insuranceMs,
  number: ({ context }: Args) => context.policy.timeouts.numberMs,
  print: ({ context }: Args) => context.policy.timeouts.printMs,
};

export const guards = {
  portsUsable: ({ context }: Args) => requiredPortsUsable(context),
  portsNotUsable: ({ context }: Args) => !requiredPortsUsable(context),
  unverifiedAllowed: ({ context }: Args) => context.policy.noPortrait === 'unverified',
  noDepartmentChoice: ({ context }: Args) => context.policy.departmentChoiceMs === 0 || context.policy.departments.length < 2,
  knownDepartment: ({ context, event }: Args & { readonly event: KioskEvent }) =>
    event.type === 'department.choose' && context.policy.departments.includes(event.department),
  stopAfter: ({ context }: Args) => context.session?.exitTo === 'stopping',
  maintenanceAfter: ({ context }: Args) => context.session?.exitTo === 'maintenance',
};
