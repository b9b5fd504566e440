/**
 * Privacy helpers in one place: the masked forms code must log and publish in the first place
 * (`maskId`, `initials`), and the safety nets that catch what slips through (an error message
 * quoting a card line).
 */

/** "********2345": the only form of an ID number allowed in logs and MQTT. */
export function maskId(id: string): string {
  return id.length <= 4 ? '****' : '*'.repeat(id.length - 4) + id.slice(-4);
}

/** "N. T. Á. T." for "Nguyễn Thị Ánh Tuyết". */
export function initials(name: string): string {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => `${[...w][0]!.toUpperCase()}.`)
    .join(' ');
}

/**
 * Any run of exactly 12 digits is taken for a CCCD number and cut to its last 4, except the
 * last group of a UUID (session, ticket and event ids): about 1 in 280 is all digits by chance,
 * and a masked id would no longer match the audit.
 */
export function maskIdNumbers(text: string): string {
  return text.replace(/(?<![\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-)(?<!\d)\d{8}(\d{4})(?!\d)/gi, '********$1');
}

/** Keys whose values never leave the process: secrets and everything read from an ID card. */
export const SENSITIVE_KEYS: ReadonlySet<string> = new Set(
  [
    'password',
    'passwordFile',
    'token',
    'accessToken',
    'apiKey',
    'authorization',
    'secret',
    'idNumber',
    'oldIdNumber',
    'cccd',
    'fullName',
    'name',
    'dateOfBirth',
    'dob',
    'address',
    'portrait',
    'image',
    'frame',
    'jpeg',
    'embedding',
    'identity',
    'raw',
    'patientName',
    'probe',
    'reference',
    'descriptor',
    'faces',
    // What a CCCD chip holds (DG1's MRZ, DG13's fields) and the access number that opens it.
    'mrz',
    'documentNumber',
    'birthDate',
    'expiryDate',
    'issueDate',
    'names',
    'surname',
    'givenNames',
    'optionalData',
    'optionalData2',
    'holder',
    'dg1',
    'dg13',
    'can',
  ].map((k) => k.toLowerCase()),
);

export const CENSORED = '[redacted]';

/** A copy of `value` with sensitive keys censored at any depth (arrays included). */
export function censorDeep(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  // Too deep to inspect is too deep to trust; raw bytes may be a photo.
  if (depth > 8) return '[too deep to log]';
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => censorDeep(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SENSITIVE_KEYS.has(k.toLowerCase()) ? CENSORED : censorDeep(v, depth + 1);
  return out;
}
