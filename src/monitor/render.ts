/**
 * How `kioskd monitor` shows the fleet: a fixed-column table for a person at a terminal, or one
 * JSON object per line for scripts. Pure: the caller supplies the time and the terminal's traits.
 */
import type { KioskLimit, KioskRow } from './fleet.js';

export interface TableHeader {
  /** Already redacted (no password). */
  readonly broker: string;
  /** "connected", "connecting", "unreachable: …" */
  readonly connection: string;
  readonly prefix: string;
  /** What the kiosk cap has turned away (`kioskLimit`): shown under the summary, never scrolled off. */
  readonly limit?: KioskLimit | null;
}

export interface TableOptions {
  readonly colour: boolean;
  /** Terminal size; lines are cut to `width`, rows that do not fit in `height` are summarised. */
  readonly width?: number;
  readonly height?: number;
}

type Colour = 'green' | 'yellow' | 'red' | 'dim' | 'bold';
const SGR: Record<Colour, string> = { green: '32', yellow: '33', red: '31', dim: '2', bold: '1' };

interface Cell {
  readonly text: string;
  readonly colour?: Colour | undefined;
}

interface Column {
  readonly title: string;
  readonly width: number;
  readonly right?: boolean;
  readonly cell: (r: KioskRow, now: number) => Cell;
}

/** 99 columns with the separators: fits a 100-column terminal. */
const COLUMNS: readonly Column[] = [
  { title: 'KIOSK', width: 14, cell: (r) => ({ text: r.kiosk }) },
  { title: 'STATUS', width: 7, cell: (r) => ({ text: r.status, colour: STATUS_COLOUR[r.status] }) },
  {
    title: 'MODE',
    width: 20,
    cell: (r) => ({
      text: r.mode === null ? '-' : r.step ? `${r.mode}/${r.step}` : r.mode,
      colour: r.mode === 'out-of-service' ? 'red' : r.mode === 'maintenance' ? 'yellow' : undefined,
    }),
  },
  { title: 'SEEN', width: 6, right: true, cell: (r, now) => ({ text: r.lastSeen === null ? '-' : age(now - r.lastSeen) }) },
  {
    title: 'PAPER',
    width: 7,
    cell: (r) => ({ text: r.paper, colour: r.paper === 'out' ? 'red' : r.paper === 'low' ? 'yellow' : r.paper === 'unknown' ? 'dim' : undefined }),
  },
  { title: 'PRINTER', width: 16, cell: (r) => printerCell(r.printer) },
  { title: 'ERR/1H', width: 6, right: true, cell: (r) => ({ text: String(r.errors1h), colour: r.errors1h > 0 ? 'red' : undefined }) },
  { title: 'TODAY', width: 5, right: true, cell: (r) => ({ text: String(r.checkinsToday) }) },
  { title: 'VERSION', width: 10, cell: (r) => ({ text: r.version ?? '-' }) },
];

/** "faulted(cover-open)" shows as "cover-open" in red: the reason is what a technician acts on. */
function printerCell(p: string | null): Cell {
  const m = p === null ? null : /^(faulted|degraded)\((.*)\)$/.exec(p);
  if (!m) return { text: p ?? '-' };
  return { text: m[2]!, colour: m[1] === 'faulted' ? 'red' : 'yellow' };
}

const STATUS_COLOUR: Record<KioskRow['status'], Colour | undefined> = {
  online: 'green',
  stale: 'yellow',
  offline: 'red',
  stopped: 'dim',
  unknown: 'dim',
};

/** The whole screen as lines (no cursor control: the caller positions them). */
export function renderTable(rows: readonly KioskRow[], header: TableHeader, now: number, o: TableOptions): string[] {
  const width = o.width ?? 100;
  const online = rows.filter((r) => r.status === 'online').length;
  const conn: Cell = { text: header.connection, colour: header.connection === 'connected' ? 'green' : 'red' };
  const lines: Cell[][] = [
    // The time first: a long broker error may be cut at the right edge, the clock must not be.
    [{ text: 'kioskd monitor', colour: 'bold' }, { text: `  ${clockText(now)}  ${header.broker}  ` }, conn],
    [{ text: `${rows.length} kiosk(s) under ${header.prefix}/+, ${online} online`, colour: 'dim' }],
    ...(header.limit ? [[{ text: limitText(header.limit), colour: 'red' as const }]] : []),
    [],
    joinCells(COLUMNS.map((c) => ({ text: pad(c.title, c.width, c.right), colour: 'bold' as const }))),
  ];
  const room = o.height === undefined ? rows.length : Math.max(1, o.height - lines.length - 1);
  const shown = rows.length > room ? rows.slice(0, room - 1) : rows;
  for (const r of shown) {
    lines.push(
      joinCells(
        COLUMNS.map((c) => {
          const cell = c.cell(r, now);
          return { text: pad(cell.text, c.width, c.right), colour: cell.colour };
        }),
      ),
    );
  }
  if (shown.length < rows.length) lines.push([{ text: `… ${rows.length - shown.length} more (enlarge the terminal)`, colour: 'dim' }]);
  if (rows.length === 0) lines.push([{ text: `(no kiosk seen yet under ${header.prefix}/+)`, colour: 'dim' }]);
  return lines.map((cells) => paint(cut(cells, width), o.colour));
}

/**
 * The cap in words, the counts first (a narrow terminal cuts the end). Ids past the cap are
 * usually made-up ones a client without the kioskd ACL retained on the broker.
 */
export function limitText(l: KioskLimit): string {
  return `kiosk limit ${l.max} reached: ${l.ignored}${l.ignoredExact ? '' : '+'} new id(s) ignored, ${l.evicted} evicted (retained-only, never heard live)`;
}

/**
 * The cap as a JSON line of its own (no `kiosk` field: it is not a row). Written when it first
 * turns something away and whenever the counts change.
 */
export function limitJson(l: KioskLimit): Record<string, unknown> {
  return { notice: 'kiosk-limit', max_kiosks: l.max, kiosks: l.kiosks, ignored: l.ignored, ignored_exact: l.ignoredExact, evicted: l.evicted };
}

/** The JSON-lines form of a row (no age: it changes every second; last_seen carries it). */
export function rowJson(r: KioskRow): Record<string, unknown> {
  return {
    kiosk: r.kiosk,
    status: r.status,
    mode: r.mode,
    step: r.step,
    last_seen: r.lastSeen === null ? null : new Date(r.lastSeen).toISOString(),
    paper: r.paper,
    printer: r.printer,
    errors_1h: r.errors1h,
    checkins_today: r.checkinsToday,
    version: r.version,
  };
}

/** What makes a row "changed" for JSON lines: everything but last_seen, which every heartbeat moves. */
export function changeKey(r: KioskRow): string {
  return JSON.stringify({ ...rowJson(r), last_seen: undefined });
}

/** "7s", "4m05s", "2h10m", "3d" */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d`;
}

function clockText(now: number): string {
  const d = new Date(now);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function pad(text: string, width: number, right = false): string {
  const t = text.length > width ? text.slice(0, width - 1) + '…' : text;
  return right ? t.padStart(width) : t.padEnd(width);
}

function joinCells(cells: Cell[]): Cell[] {
  return cells.flatMap((c, i) => (i === 0 ? [c] : [{ text: ' ' }, c]));
}

/** Cuts a line to `width` visible columns before colouring, so escape codes never count. */
function cut(cells: readonly Cell[], width: number): Cell[] {
  const out: Cell[] = [];
  let left = width;
  for (const c of cells) {
    if (left <= 0) break;
    out.push(c.text.length <= left ? c : { ...c, text: c.text.slice(0, left) });
    left -= c.text.length;
  }
  return out;
}

function paint(cells: readonly Cell[], colour: boolean): string {
  return cells
    .map((c) => (colour && c.colour ? `\x1b[${SGR[c.colour]}m${c.text}\x1b[0m` : c.text))
    .join('')
    .trimEnd();
}
