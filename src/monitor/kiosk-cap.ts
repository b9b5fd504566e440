/**
 * The monitor's kiosk cap (see the top of fleet.ts): at most `max` kiosk ids are tracked; an id
 * first heard live evicts the oldest kiosk known only from retained replay ("ghosts"); what the
 * cap turned away is counted. Mutable bookkeeping, written by the fleet reducer only.
 */

/** What the cap needs of a tracked kiosk. */
export interface CapEntry {
  /** Heard live (a message not replayed from the broker's retained store): the cap never evicts it. */
  readonly live: boolean;
  /** Which of the ghost queue's entries is this kiosk's. */
  readonly seq: number;
}

/**
 * Kiosks known only from retained replay wait in `ghosts`, oldest first, to be evicted for a
 * live newcomer. Finding one must not scan the fleet, nor a JS Set (taking a Set's first entry
 * again and again walks the holes its deletes left: O(size) each), so this is an array with a
 * head: an entry whose kiosk was since heard live, removed or re-created (its `seq` differs) is
 * stale and skipped when reached. Each entry is pushed once and passed once: O(1) amortised.
 */
export interface CapBook {
  readonly max: number;
  readonly maxIgnored: number;
  ghosts: Array<{ readonly id: string; readonly seq: number }>;
  head: number;
  nextSeq: number;
  /** Distinct ids the cap turned away and not shown since, at most `maxIgnored` of them (then `ignoredExact` is false). */
  readonly ignored: Set<string>;
  ignoredExact: boolean;
  /** Ghosts evicted for live newcomers, ever. */
  evicted: number;
}

/** What the kiosk cap has cost, for the screen and the JSON lines. */
export interface KioskLimit {
  readonly max: number;
  /** Kiosks tracked now. */
  readonly kiosks: number;
  /** Distinct kiosk ids turned away at the cap and not shown since (a lower bound when `ignoredExact` is false). */
  readonly ignored: number;
  readonly ignoredExact: boolean;
  /** Kiosks known only from retained values that were dropped to make room for a live one. */
  readonly evicted: number;
}

export function newCapBook(max: number, maxIgnored: number): CapBook {
  return { max, maxIgnored, ghosts: [], head: 0, nextSeq: 0, ignored: new Set(), ignoredExact: true, evicted: 0 };
}

export function copyCapBook(c: CapBook): CapBook {
  return { ...c, ghosts: c.ghosts.slice(c.head), head: 0, ignored: new Set(c.ignored) };
}

/** What the cap has turned away, or null while it has turned nothing away. */
export function capLimit(c: CapBook, kiosks: number): KioskLimit | null {
  if (c.ignored.size === 0 && c.evicted === 0 && c.ignoredExact) return null;
  return { max: c.max, kiosks, ignored: c.ignored.size, ignoredExact: c.ignoredExact, evicted: c.evicted };
}

/**
 * A new kiosk for `id` (made by `make` with its seq), making room at the cap for one heard live
 * by evicting the oldest kiosk known only from retained values; null (and counted) when there is
 * no room for it.
 */
export function admit<K extends CapEntry>(c: CapBook, kiosks: Map<string, K>, id: string, retain: boolean, make: (seq: number) => K): K | null {
  if (kiosks.size >= c.max && (retain || !evictGhost(c, kiosks))) {
    if (c.ignored.size < c.maxIgnored) c.ignored.add(id);
    else if (!c.ignored.has(id)) c.ignoredExact = false;
    return null;
  }
  c.ignored.delete(id);
  const k = make(c.nextSeq++);
  if (retain) {
    c.ghosts.push({ id, seq: k.seq });
    // Stale entries pile up only as fast as ghosts are added; dropping them now and then keeps
    // the queue within a few times the cap, and costs O(1) per push amortised.
    if (c.ghosts.length - c.head > 2 * c.max + 64) {
      c.ghosts = c.ghosts.slice(c.head).filter((g) => isGhost(kiosks, g));
      c.head = 0;
    }
  }
  return k;
}

/** Drops the oldest kiosk never heard live; false when every kiosk has been heard live. */
function evictGhost(c: CapBook, kiosks: Map<string, CapEntry>): boolean {
  while (c.head < c.ghosts.length) {
    const g = c.ghosts[c.head++]!;
    if (!isGhost(kiosks, g)) continue;
    kiosks.delete(g.id);
    c.evicted++;
    compactGhosts(c);
    return true;
  }
  compactGhosts(c);
  return false;
}

function isGhost(kiosks: Map<string, CapEntry>, g: { readonly id: string; readonly seq: number }): boolean {
  const k = kiosks.get(g.id);
  return k !== undefined && k.seq === g.seq && !k.live;
}

/** The passed entries go once they are half the array. */
function compactGhosts(c: CapBook): void {
  if (c.head > 1024 && c.head * 2 > c.ghosts.length) {
    c.ghosts = c.ghosts.slice(c.head);
    c.head = 0;
  } else if (c.head === c.ghosts.length) {
    c.ghosts = [];
    c.head = 0;
  }
}
