/** The virtual chip's faults, by name: what the console, the web panel and scenario files may ask for. */
export const CHIP_FAULTS = [
  'none',
  'wrong-can',
  'removed',
  'removed-always',
  'slow',
  'jpeg2000',
  'corrupt-hash',
  'unknown-signer',
  'no-chip',
] as const;
export type ChipFaultName = (typeof CHIP_FAULTS)[number];

/** What each fault does, for help, the panel and the action's answer. */
export const CHIP_FAULT_TEXT: Readonly<Record<ChipFaultName, string>> = {
  none: 'a good card',
  'wrong-can': "the chip's CAN is not the last 6 digits of the card number (PACE fails, 6300)",
  removed: 'the card is pulled away mid-read once, then put back',
  'removed-always': 'the card is pulled away mid-read every time it is put back',
  slow: 'the chip answers every command late',
  jpeg2000: 'the portrait (DG2) is JPEG 2000',
  'corrupt-hash': "EF.SOD holds a wrong hash of the portrait's group (DG2)",
  'unknown-signer': 'EF.SOD is signed by a document signer the trusted test CSCA did not issue',
  'no-chip': 'an older card without a chip: nothing reaches the reader',
};

export interface ChipFault {
  readonly fault: ChipFaultName;
  /** For `slow`: the delay before every answer; default 100 ms. */
  readonly delayMs?: number;
}

export const DEFAULT_SLOW_MS = 100;
