import type { BhytClient } from '../bhyt/client.js';
import type { InsuranceResult } from '../pipeline/step-ports.js';
import type { BhytState } from '../queue/types.js';

export interface InsuranceStepDeps {
  readonly bhyt: BhytClient | null;
  /** The kiosk's configuration is at fault (e.g. the BHYT officer is not registered): staff must be told. */
  readonly alert: (code: string, message: string) => void;
}

/** The BHYT lookup step: the gateway's answer, or `unchecked` with why (the lookup is made later). */
export function createInsuranceLookup(d: InsuranceStepDeps) {
  /** Gateway problems staff were alerted about; one alert per kind until the gateway answers properly again. */
  const alerted = new Set<string>();
  return async (identity: { idNumber: string; fullName: string; dateOfBirth: string }, signal: AbortSignal): Promise<InsuranceResult> => {
    if (!d.bhyt) return { kind: 'skipped' };
    const r = await d.bhyt.lookup({ cardId: identity.idNumber, fullName: identity.fullName, dateOfBirth: identity.dateOfBirth }, signal);
    if (r.kind === 'unavailable') {
      // A redirect, an answer that is not JSON or too large: not an outage but something for
      // staff to look at (a wrong URL, a proxy). Alerted once, not at every patient.
      if (r.problem && !alerted.has(r.problem)) {
        alerted.add(r.problem);
        d.alert(`bhyt.gateway-${r.problem}`, `the BHYT gateway's answer was refused: ${r.reason}; lookups are made later`);
      }
      return { kind: 'unchecked', reason: r.reason };
    }
    alerted.clear();
    if (r.fault === 'gateway') return { kind: 'unchecked', reason: `gateway error ${r.code}: ${r.reason}` };
    if (r.fault === 'kiosk') d.alert('bhyt.kiosk-refused', `the BHYT gateway refused the kiosk's lookup (${r.code}): ${r.reason}`);
    return r.route === 'proceed'
      ? { kind: 'proceed', code: r.code, words: r.words }
      : { kind: 'counter', code: r.code, words: r.words, reason: r.reason };
  };
}

/** The gateway's result code, when it answered. */
export function bhytCodeOf(i: InsuranceResult | null): string | null {
  return i && 'code' in i ? i.code : null;
}

/** What the audit records of the lookup. */
export function bhytState(i: InsuranceResult | null): Exclude<BhytState, 'reconciled'> {
  if (!i) return 'not-asked';
  return i.kind === 'proceed' || i.kind === 'counter' ? 'checked' : i.kind;
}
