// The MRZ-derived secret that BAC keys and PACE's MRZ password both start from (ICAO 9303-11 §9.7.2, 9303-3 §4.9).
import { sha1 } from './card-crypto.js';

export interface MrzKey {
  readonly documentNumber: string;
  /** YYMMDD */
  readonly birthDate: string;
  /** YYMMDD */
  readonly expiryDate: string;
}

/** ICAO 9303-3 check digit: weights 7, 3, 1; digits as themselves, A–Z as 10–35, '<' (and anything else) as 0. */
export function checkDigit(field: string): string {
  const weights = [7, 3, 1];
  let sum = 0;
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    const value = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 90 ? c - 55 : 0;
    sum += value * weights[i % 3]!;
  }
  return String(sum % 10);
}

/** Document number (padded with '<' to 9), date of birth, date of expiry, each followed by its check digit. */
export function mrzInformation(key: MrzKey): string {
  const number = key.documentNumber.toUpperCase().padEnd(9, '<');
  return [number, key.birthDate, key.expiryDate].map((f) => f + checkDigit(f)).join('');
}

/** SHA-1 of the MRZ information: all 20 bytes for PACE, the first 16 (K_seed) for BAC. */
export const mrzHash = (key: MrzKey): Uint8Array => sha1(new TextEncoder().encode(mrzInformation(key)));
