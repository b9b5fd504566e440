import type { ChipReading } from '../chip/card-reading.js';
import { wipeFrames, type CameraFrame } from '../faceid/frames.js';
import type { CitizenIdentity } from '../hal/card/types.js';
import type { PriorityReason } from '../pipeline/priority.js';

/**
 * The personal data of the check-ins in progress, in memory only: the card's identity, the
 * reference portrait and the last camera burst. The state machine sees session ids; the steps
 * look the data up here. Dropping a session zero-fills its images, so nothing outlives it.
 */
export interface SessionData {
  readonly identity: CitizenIdentity;
  readonly startedAt: Date;
  readonly priority: PriorityReason | null;
  portrait: Uint8Array | null;
  frames: readonly CameraFrame[] | null;
  /** Aborted when the check-in ends: what runs for it (the camera stream, the chip read) stops then. */
  readonly ended: AbortSignal;
  /** The chip read started for this check-in (src/checkin/chip-reads.ts), if any; it wipes itself when the check-in ends. */
  chip: ChipSession | null;
}

/** A check-in's chip read: the reading once it ends, and the facts the audit records (no personal data). */
export interface ChipSession {
  readonly reading: Promise<ChipReading>;
  audit: Readonly<Record<string, unknown>> | null;
}

/** The check-ins in progress, by session id. */
export interface Sessions {
  open(id: string, identity: CitizenIdentity, startedAt: Date, priority: PriorityReason | null): SessionData;
  /** Throws when the check-in is not in progress (it ended). */
  get(id: string): SessionData;
  /** Replaces the camera burst, wiping the previous one. */
  setFrames(id: string, frames: readonly CameraFrame[] | null): void;
  /** Ends a check-in: its images are zero-filled. */
  drop(id: string): void;
}

export function createSessions(): Sessions {
  const live = new Map<string, { data: SessionData; end: AbortController }>();
  return {
    open(id: string, identity: CitizenIdentity, startedAt: Date, priority: PriorityReason | null): SessionData {
      const end = new AbortController();
      const data: SessionData = { identity, startedAt, priority, portrait: null, frames: null, ended: end.signal, chip: null };
      live.set(id, { data, end });
      return data;
    },
    get(id: string): SessionData {
      const s = live.get(id);
      if (!s) throw new Error(`no check-in ${id} in progress`);
      return s.data;
    },
    setFrames(id: string, frames: readonly CameraFrame[] | null): void {
      const s = live.get(id)?.data;
      if (!s) {
        wipeFrames(frames); // the check-in ended while the camera was busy
        return;
      }
      if (s.frames !== frames) wipeFrames(s.frames);
      s.frames = frames;
    },
    drop(id: string): void {
      const s = live.get(id);
      if (!s) return;
      wipeFrames(s.data.frames);
      s.data.portrait?.fill(0);
      s.data.identity.portrait?.fill(0);
      s.data.frames = null;
      s.data.portrait = null;
      live.delete(id);
      // The chip read (waiting or done) ends with the check-in and wipes what it still holds.
      s.end.abort();
    },
  };
}
