import type { z } from 'zod';
import type { Sim } from '../sim.js';

/** One control action: its parameters' schema, how help shows them, what it does and how it says so. */
export interface Definition<S extends z.ZodType> {
  readonly params: S;
  /** The parameters as `help` shows them. */
  readonly usage: string;
  /** The parameter a bare console word fills: `printer.paper out`. */
  readonly positional?: string;
  apply(sim: Sim, p: z.output<S>): Promise<void>;
  /** What was done, for the console, the panel's answer line and scenario reports. */
  describe(p: z.output<S>): string;
}

export const define = <S extends z.ZodType>(d: Definition<S>): Definition<S> => d;
