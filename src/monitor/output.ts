/**
 * Where `kioskd monitor` writes the fleet: a table redrawn in place on a terminal, or JSON lines
 * (one per kiosk row change, and the kiosk cap's line when its counts change). The fleet and
 * the connection are read through the getters at each write.
 */
import { fleetRows, kioskLimit, kioskRow, type Fleet } from './fleet.js';
import { changeKey, limitJson, renderTable, rowJson } from './render.js';

export interface MonitorOutputDeps {
  readonly out: NodeJS.WriteStream;
  /** A table on a terminal; JSON lines otherwise. */
  readonly tty: boolean;
  readonly colour: boolean;
  /** --once: nothing until the fleet has settled, then the whole fleet once. */
  readonly once: boolean;
  /** Already redacted. */
  readonly broker: string;
  readonly prefix: string;
  readonly fleet: () => Fleet;
  readonly connection: () => string;
}

export interface MonitorOutput {
  /** A message changed the fleet (about kiosk `id`, when it named one). */
  changed(id?: string): void;
  /** The retained burst is in: --once prints the fleet, JSON lines start. */
  settled(): void;
  /** Every second: ages tick, kiosks go stale. */
  tick(): void;
  /** The connection changed: the table's header says so at once. */
  redraw(): void;
  /** Hides the cursor and clears the screen (a live table). */
  begin(): void;
  /** Cancels a pending redraw; shows the cursor again. */
  end(): void;
}

export function monitorOutput(d: MonitorOutputDeps): MonitorOutput {
  const { out, tty, once } = d;
  let isSettled = false;
  const emitted = new Map<string, string>();
  /** One line per kiosk whose row changed; `ids` narrows the look to the kiosks a message named. */
  const writeJsonChanges = (ids: Iterable<string> = new Set([...d.fleet().kiosks.keys(), ...emitted.keys()])): void => {
    const now = Date.now();
    for (const id of [...ids].sort()) {
      const r = kioskRow(d.fleet(), id, now);
      if (!r) {
        if (emitted.delete(id)) out.write(JSON.stringify({ kiosk: id, removed: true }) + '\n');
        continue;
      }
      const key = changeKey(r);
      if (emitted.get(id) === key) continue;
      emitted.set(id, key);
      out.write(JSON.stringify(rowJson(r)) + '\n');
    }
  };
  /** The cap's line when its counts changed; checked each second, not per message (a flood would be a line per id). */
  let limitEmitted = '';
  const writeLimit = (): void => {
    const l = kioskLimit(d.fleet());
    const line = l ? JSON.stringify(limitJson(l)) : '';
    if (line === limitEmitted) return;
    limitEmitted = line;
    if (line) out.write(line + '\n');
  };
  const table = (size: boolean): string[] =>
    renderTable(
      fleetRows(d.fleet(), Date.now()),
      { broker: d.broker, connection: d.connection(), prefix: d.prefix, limit: kioskLimit(d.fleet()) },
      Date.now(),
      { colour: d.colour, ...(size && out.columns ? { width: out.columns } : {}), ...(size && out.rows ? { height: out.rows } : {}) },
    );
  // Home, each line cleared to its end, then the rest of the screen: no flicker, no scrolling.
  const redraw = (): void =>
    void out.write(
      '\x1b[H' +
        table(true)
          .map((l) => l + '\x1b[K')
          .join('\n') +
        '\x1b[J',
    );
  let redrawTimer: ReturnType<typeof setTimeout> | undefined;
  return {
    changed(id) {
      if (once) return;
      // JSON waits for the retained burst, so a kiosk's first line is whole; the screen need not.
      if (!tty) return void (isSettled && writeJsonChanges(id === undefined ? undefined : [id]));
      // Bursts (a reconnect replays every retained value) become one redraw.
      redrawTimer ??= setTimeout(() => {
        redrawTimer = undefined;
        redraw();
      }, 100);
    },
    settled() {
      isSettled = true;
      if (once && tty) out.write(table(false).join('\n') + '\n');
      else if (once) for (const r of fleetRows(d.fleet(), Date.now())) out.write(JSON.stringify(rowJson(r)) + '\n');
      if (!tty) {
        if (!once) writeJsonChanges();
        writeLimit();
      }
    },
    tick() {
      if (tty) return redraw();
      if (!isSettled) return;
      writeJsonChanges();
      writeLimit();
    },
    redraw() {
      if (tty && !once) redraw();
    },
    begin() {
      out.write('\x1b[?25l\x1b[2J'); // hide the cursor while redrawing; restored by end()
      redraw();
    },
    end() {
      clearTimeout(redrawTimer);
      if (tty && !once) out.write('\x1b[?25h\n');
    },
  };
}
