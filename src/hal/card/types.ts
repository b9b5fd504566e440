/**
 * What a card scan becomes: a validated identity, or a rejection that says what is wrong.
 * Identities carry personal data and stay in memory for one check-in; only `maskId` output
 * and rejection codes may reach logs or MQTT.
 */
export type Sex = 'male' | 'female';

export interface CitizenIdentity {
  /** 12-digit personal identification number (số định danh cá nhân). */
  readonly idNumber: string;
  /** The old 9-digit CMND number (or an older 12-digit number), if the card carries one. */
  readonly oldIdNumber: string | null;
  readonly fullName: string;
  /** ISO `YYYY-MM-DD`, or `YYYY` when the card gives only the year. */
  readonly dateOfBirth: string;
  readonly sex: Sex | null;
  readonly address: string | null;
  /** ISO `YYYY-MM-DD`, when present. */
  readonly issueDate: string | null;
  /** Which payload form the scanner sent, for diagnostics. */
  readonly form: '7-field' | '6-field';
  /** Repairs applied to keyboard-wedge damage, e.g. "backslash-separators". */
  readonly repairs: readonly string[];
  /** A reference portrait from a chip reader, when one is available (later). */
  readonly portrait?: Uint8Array;
}

export type RejectionCode =
  | 'empty'
  | 'too-long'
  | 'control-characters'
  | 'not-a-cccd-payload'
  | 'wrong-field-count'
  | 'bad-id-number'
  | 'bad-province-code'
  | 'id-century-mismatch'
  | 'id-year-mismatch'
  | 'id-sex-mismatch'
  | 'bad-old-id-number'
  | 'missing-name'
  | 'bad-name'
  | 'bad-date-of-birth'
  | 'bad-sex'
  | 'bad-issue-date';

export interface Rejection {
  readonly code: RejectionCode;
  /** One line for a technician; never contains the payload's personal data. */
  readonly message: string;
}

export type ParseResult = { readonly ok: true; readonly identity: CitizenIdentity } | { readonly ok: false; readonly rejection: Rejection };

/** What a card reader port reports for each frame it read. */
export type ScanResult =
  | { readonly kind: 'identity'; readonly identity: CitizenIdentity }
  | { readonly kind: 'rejected'; readonly rejection: Rejection; readonly summary: ScanSummary };

/** Safe facts about a rejected payload: enough to diagnose a scanner, nothing personal. */
export interface ScanSummary {
  readonly bytes: number;
  readonly fields: number;
  /** Last 4 digits of a 12-digit first field, if there is one. */
  readonly idLast4: string | null;
}
