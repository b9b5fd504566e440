import { field } from './http.js';

/** The lookup's fields in the gateway's formats: the birth date sent, the card read from the answer. */

export interface BhytCard {
  /** Last day of validity, ISO `YYYY-MM-DD` (gtTheDen; of the new card for 003/004). */
  readonly validTo: string | null;
  /** Initial registered facility code (maDKBD; of the new card for 003/004). */
  readonly registeredFacility: string | null;
}

/** ISO `YYYY-MM-DD` → `dd/MM/yyyy`; `YYYY` stays `yyyy` (the gateway's form for a birth year only). */
export function gatewayBirthDate(iso: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (m) return `${m[3]}/${m[2]}/${m[1]}`;
  return /^\d{4}$/.test(iso) ? iso : null;
}

/** The gateway's `dd/MM/yyyy` → ISO; anything else → null. */
function isoDate(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(v.trim());
  return m ? `${m[3]}-${m[2]}-${m[1]}` : null;
}

export function cardOf(code: string, json: unknown): BhytCard {
  // 003/004: a new card was issued; what matters from now on is the new one.
  const renewed = code === '003' || code === '004';
  const validTo = (renewed ? isoDate(field(json, 'gtTheDenMoi')) : null) ?? isoDate(field(json, 'gtTheDen'));
  const facility = (renewed ? facilityCode(field(json, 'maDKBDMoi')) : null) ?? facilityCode(field(json, 'maDKBD'));
  return { validTo, registeredFacility: facility };
}

function facilityCode(v: unknown): string | null {
  return typeof v === 'string' && /^[0-9A-Za-z]{1,10}$/.test(v.trim()) ? v.trim() : null;
}
