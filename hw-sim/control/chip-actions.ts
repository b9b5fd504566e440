/**
 * The chip reader's control actions (hw-sim/chip/sim-chip.ts): a sample's card placed on the
 * reader or taken off, and the card's faults. Part of hw-sim's one control vocabulary
 * (table.ts): the console's `card on N`, the web panel and the scenario step `chip:`.
 */
import { z } from 'zod';
import { CHIP_FAULT_TEXT, CHIP_FAULTS, DEFAULT_SLOW_MS } from '../chip/chip-faults.js';
import { define } from './define.js';
import { chipDelayMs, chipFault, sampleNumber } from './fields.js';

export const CHIP_CONTROL = {
  'chip.place': define({
    params: z.strictObject({ sample: sampleNumber }),
    usage: "sample=N (sample N's card on the chip reader, the one there taken off)",
    positional: 'sample',
    apply: (sim, p) => sim.chip.place(p.sample),
    describe: (p) => `chip: sample ${p.sample}'s card is on the reader`,
  }),
  'chip.remove': define({
    params: z.strictObject({}),
    usage: '(the card is taken off the chip reader)',
    apply: (sim) => sim.chip.remove(),
    describe: () => 'chip: the card was taken off the reader',
  }),
  'chip.fault': define({
    params: z
      .strictObject({ fault: chipFault, delayMs: chipDelayMs.optional() })
      .refine((p) => p.delayMs === undefined || p.fault === 'slow', { message: 'delayMs goes with fault=slow', path: ['delayMs'] }),
    usage: `fault=${CHIP_FAULTS.join('|')} [delayMs=N (slow; default ${DEFAULT_SLOW_MS})]`,
    positional: 'fault',
    apply: (sim, p) => sim.chip.setFault({ fault: p.fault, ...(p.delayMs !== undefined ? { delayMs: p.delayMs } : {}) }),
    describe: (p) =>
      `chip: ${p.fault === 'none' ? 'no fault' : `fault ${p.fault}`}: ${p.fault === 'slow' ? `answers ${p.delayMs ?? DEFAULT_SLOW_MS} ms late` : CHIP_FAULT_TEXT[p.fault]}`,
  }),
  'chip.reset': define({
    params: z.strictObject({}),
    usage: '(no card on the reader, no fault; nothing without a chip reader)',
    apply: (sim) => sim.chip.reset(),
    describe: () => 'chip reader: no card, no fault',
  }),
} as const;
