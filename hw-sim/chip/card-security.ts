// The virtual CCCD's access control: PACE-GM with the CAN (or the MRZ), BAC with the MRZ, and the secure channel
// either opens. Written apart from the reader's src/chip/ on purpose (node:crypto and @noble/curves only): if the two
// shared code, a shared bug would pass every end-to-end test.
import { randomBytes as systemRandomBytes } from 'node:crypto';
import { parseCommand, sw } from './card-apdu.js';
import { externalAuthenticate, getChallenge, type RandomBytes } from './card-bac.js';
import type { MrzKey } from './card-mrz.js';
import { generalAuthenticate, mseSetAt, type PaceState } from './card-pace.js';
import { openSmChannel, type SmChannel, type SmKeys } from './card-sm.js';

export interface CardSecrets {
  /** The 6-digit card access number (the last 6 digits of the 12-digit ID number on a CCCD). */
  can: string;
  /** For BAC, and for PACE with password reference 01 (MRZ). */
  mrzKey?: { documentNumber: string; birthDate: string; expiryDate: string };
}

export interface CardSecurity {
  /** MSE:Set AT, GENERAL AUTHENTICATE, GET CHALLENGE, EXTERNAL AUTHENTICATE: the response (data ‖ SW), else null (not ours). */
  authenticate(apdu: Uint8Array): Uint8Array | null;
  /** A secure channel is open. */
  readonly secured: boolean;
  /** A protected command (CLA 0C) → the plain command, or the error response (6987/6988) that also closes the channel. */
  unwrap(apdu: Uint8Array): { ok: true; plain: Uint8Array } | { ok: false; response: Uint8Array };
  /** A plain response (data ‖ SW) → the protected one. */
  wrap(response: Uint8Array): Uint8Array;
  /** Power off / card removed. */
  reset(): void;
}

const INS_MSE = 0x22;
const INS_GENERAL_AUTHENTICATE = 0x86;
const INS_GET_CHALLENGE = 0x84;
const INS_EXTERNAL_AUTHENTICATE = 0x82;
const OURS = new Set([INS_MSE, INS_GENERAL_AUTHENTICATE, INS_GET_CHALLENGE, INS_EXTERNAL_AUTHENTICATE]);

export function createCardSecurity(secrets: CardSecrets, opts?: { randomBytes?: (n: number) => Uint8Array }): CardSecurity {
  // Copies, so that a caller reusing its buffers cannot change a challenge or a key under the card.
  const draw: RandomBytes = (n) => Uint8Array.from(opts?.randomBytes ? opts.randomBytes(n) : systemRandomBytes(n));
  const mrzKey: MrzKey | undefined = secrets.mrzKey ? { ...secrets.mrzKey } : undefined;
  const paceSecrets = { can: secrets.can, mrzKey };

  let channel: SmChannel | null = null;
  let pace: PaceState | null = null;
  let challenge: Uint8Array | null = null;

  const open = (keys: SmKeys | null) => {
    channel = keys ? openSmChannel(keys) : null;
  };

  function authenticate(apdu: Uint8Array): Uint8Array | null {
    if (apdu.length < 4 || !OURS.has(apdu[1]!)) return null;
    // A protected command (CLA 0C) is for unwrap() first; its plain form may come back here.
    if ((apdu[0]! & 0x0c) === 0x0c) return null;
    // MSE:Set AT for anything but PACE (Chip or Terminal Authentication) is not this module's business.
    if (apdu[1] === INS_MSE && !(apdu[2] === 0xc1 && apdu[3] === 0xa4)) return null;
    const command = parseCommand(apdu);
    if (!command) return sw(0x6700);
    switch (command.ins) {
      case INS_MSE: {
        // A terminal (re)starting PACE ends whatever came before, as a plain command ends secure messaging.
        [channel, challenge] = [null, null];
        const result = mseSetAt(command, paceSecrets);
        pace = result.state;
        return result.response;
      }
      case INS_GENERAL_AUTHENTICATE: {
        const result = generalAuthenticate(command, pace, draw);
        pace = result.state;
        if (result.keys) open(result.keys);
        return result.response;
      }
      case INS_GET_CHALLENGE: {
        [channel, pace] = [null, null];
        const result = getChallenge(command, draw);
        challenge = result.challenge;
        return result.response;
      }
      default: {
        const result = externalAuthenticate(command, mrzKey, challenge, draw);
        challenge = null; // one attempt per challenge
        open(result.keys);
        return result.response;
      }
    }
  }

  return {
    authenticate,
    get secured() {
      return channel !== null;
    },
    unwrap(apdu) {
      if (!channel) return { ok: false, response: sw(0x6988) };
      const result = channel.unwrap(apdu);
      if (!result.ok) channel = null; // the chip forgets the session keys: the terminal must authenticate again
      return result;
    },
    wrap(response) {
      return channel ? channel.wrap(response) : response;
    },
    reset() {
      [channel, pace, challenge] = [null, null, null];
    },
  };
}
