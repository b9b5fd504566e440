/**
 * The chip reader port: a contactless reader that talks to the chip of a citizen ID card
 * (ICAO 9303 over ISO 14443). The eMRTD protocol above it (src/chip/) sees only `transmit`;
 * the PC/SC driver (pcsc.ts) is one implementation, another binding or a vendor service can
 * replace it behind the same interface.
 */
import { z } from 'zod';

export interface CardLink {
  readonly atr: Uint8Array;
  /** One command APDU to the card; resolves to the response data followed by SW1 SW2. Rejects with a ChipLinkError. */
  transmit(apdu: Uint8Array, signal: AbortSignal): Promise<Uint8Array>;
  /** Resets the card (its secure channel ends with it) and frees the connection; never rejects. */
  release(): Promise<void>;
}

/**
 * ready: a reader matching the configured name is there; no-reader: the service runs but no
 * such reader is attached; no-service: pcscd is not running (retried); unavailable: the
 * binding cannot be loaded (not retried: install it).
 */
export type ChipReaderState = 'ready' | 'no-reader' | 'no-service' | 'unavailable';

export interface ChipReaderPort {
  state(): ChipReaderState;
  /** Why the port is in its state, for people: "pcscd is not running", "no reader matches /ACS/". No personal data. */
  reason(): string;
  onStateChange(listener: (state: ChipReaderState, reason: string) => void): () => void;
  /** Card placed / removed on the configured reader (also fired for a card already there at start). */
  onCard(listener: (ev: { present: boolean; reader: string }) => void): () => void;
  /** Waits (until signal aborts) for a card on the reader, then connects to it. */
  connect(signal: AbortSignal): Promise<CardLink>;
  close(): Promise<void>;
}

/**
 * Why a connect or a transmit failed. `card-removed`: the card left the field (ask the
 * patient to hold it still and retry); `aborted`: the caller's signal; `timeout`: the card
 * did not answer the connect in time; `no-service`, `no-reader`, `unavailable`: the port's
 * states; `io`: anything else the reader or service reported.
 */
export type ChipLinkErrorReason = 'card-removed' | 'aborted' | 'timeout' | 'no-service' | 'no-reader' | 'unavailable' | 'io';

/** The message names the reader and the PC/SC error only, never an APDU's content. */
export class ChipLinkError extends Error {
  constructor(
    readonly reason: ChipLinkErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'ChipLinkError';
  }
}

const validPattern = (s: string): boolean => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
};

export const chipReaderConfigSchema = z.strictObject({
  readerPattern: z
    .string()
    .max(200)
    .default('')
    .refine(validPattern, 'must be a valid regular expression')
    .describe(
      'regular expression a PC/SC reader name must match, e.g. "ACS ACR1252" or "PICC" for the contactless slot of a dual reader; empty: the first reader pcscd lists',
    ),
  connectTimeoutMs: z
    .number()
    .int()
    .min(200)
    .max(60_000)
    .default(5000)
    .describe('longest a card may take to answer the connection once it is on the reader, in milliseconds'),
});

export type ChipReaderConfig = z.infer<typeof chipReaderConfigSchema>;

export const DEFAULT_CHIP_READER_CONFIG: ChipReaderConfig = { readerPattern: '', connectTimeoutMs: 5000 };

/** The reader-name test for a configured pattern (case-insensitive: vendors vary "PICC"/"Picc"). */
export function readerMatcher(pattern: string): (name: string) => boolean {
  const re = new RegExp(pattern, 'i');
  return (name) => re.test(name);
}
