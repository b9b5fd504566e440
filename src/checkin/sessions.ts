import type { CitizenIdentity } from '../hal/card/types.js';
import type { PriorityReason } from '../pipeline/priority.js';

/**
 * The personal data of the check-ins in progress, in memory only: the card's identity, the
 * reference portrait and the last camera frame. The state machine sees session ids; the steps
 * look the data up here. Dropping a session zero-fills its images, so nothing outlives it.
 */
export interface SessionData {
  readonly identity: CitizenIdentity;
  readonly startedAt: Date;
  readonly priority: PriorityReason | null;
  portrait: Uint8Array | null;
  frame: Uint8Array | null;
}

/** The check-ins in progress, by session id. */
export interface Sessions {
  open(id: string, identity: CitizenIdentity, startedAt: Date, priority: PriorityReason | null): SessionData;
  /** Throws when the check-in is not in progress (it ended). */
  get(id: string): SessionData;
  /** Replaces the camera frame, wiping the previous one. */
  setFrame(id: string, jpeg: Uint8Array | null): void;
  /** Ends a check-in: its images are zero-filled. */
  drop(id: string): void;
}

export function createSessions(): Sessions {
  const live = new Map<string, SessionData>();
  return {
    open(id: string, identity: CitizenIdentity, startedAt: Date, priority: PriorityReason | null): SessionData {
      const s: SessionData = { identity, startedAt, priority, portrait: null, frame: null };
      live.set(id, s);
      return s;
    },
    get(id: string): SessionData {
      const s = live.get(id);
      if (!s) throw new Error(`no check-in ${id} in progress`);
      return s;
    },
    /** Replaces the camera frame, wiping the previous one. */
    setFrame(id: string, jpeg: Uint8Array | null): void {
      const s = live.get(id);
      if (!s) {
        jpeg?.fill(0); // the check-in ended while the camera was busy
        return;
      }
      s.frame?.fill(0);
      s.frame = jpeg;
    },
    drop(id: string): void {
      const s = live.get(id);
      if (!s) return;
      s.frame?.fill(0);
      s.portrait?.fill(0);
      s.identity.portrait?.fill(0);
      s.frame = null;
      s.portrait = null;
      live.delete(id);
    },
  };
}
