import { printable } from './text.js';
import type { Ticket, TicketBlock, TicketStyle, TicketTemplate } from './ticket.js';
import { TEST_TICKET_BAR, TICKET_LABELS as L } from './wording.js';

/** Print width in dots at 203 dpi: 72 mm of an 80 mm roll, 48 mm of a 58 mm roll. */
export function paperDots(paperMm: 80 | 58): number {
  return paperMm === 80 ? 576 : 384;
}

/** What goes on the paper, in order and how prominent (pure). */
export function layoutTicket(t: Ticket, tpl: TicketTemplate): TicketBlock[] {
  const text = (s: string, style: TicketStyle, align: 'left' | 'center' = 'center'): TicketBlock => ({ kind: 'text', text: s, style, align });
  const blocks: TicketBlock[] = t.test ? [text(TEST_TICKET_BAR, 'bar'), { kind: 'space' }] : [];
  blocks.push(text(printable(tpl.hospital), 'title'));
  const subtitle = printable(tpl.subtitle);
  if (subtitle) blocks.push(text(subtitle, 'subtitle'));
  // A test ticket does not say "queue number", and says what it is in plain print too (the bars are inverse).
  blocks.push({ kind: 'rule' }, text(t.test ? TEST_TICKET_BAR : L.queueNumber, 'small'), text(printable(t.number, 12), 'number'));
  const priority = t.test ? '' : printable(t.priority, 60);
  if (priority) blocks.push(text(`${L.priority} – ${priority}`, 'priority'));
  blocks.push(text(printable(t.department, 80), 'heading'));
  const room = printable(t.room, 80);
  if (room) blocks.push(text(room, 'heading'));
  blocks.push({ kind: 'rule' });
  const name = tpl.showName ? printable(t.patientName, 80) : '';
  if (name) blocks.push(text(`${L.name}: ${name}`, 'body', 'left'));
  // Whatever the caller hands in, only the last 4 digits are ever printed.
  const last4 = printable(t.idLast4).replace(/\D/g, '').slice(-4);
  if (last4.length === 4) blocks.push(text(`${L.idNumber}: ********${last4}`, 'body', 'left'));
  blocks.push(text(`${L.insurance}: ${printable(t.insurance, 80)}`, 'body', 'left'));
  for (const note of (t.notes ?? []).slice(0, 3)) {
    const line = printable(note, 80);
    if (line) blocks.push(text(line, 'body', 'left'));
  }
  blocks.push(text(`${L.time}: ${formatTime(t.issuedAt, tpl.timeZone)}${t.reprint ? ` (${L.reprint})` : ''}`, 'body', 'left'));
  if (!t.test) blocks.push({ kind: 'space' }, { kind: 'qr', data: printable(t.ticketId, 64) });
  // The footer asks the patient to wait for the number to be called: not on a test ticket.
  const footer = t.test ? '' : printable(tpl.footer, 200);
  if (footer) blocks.push(text(footer, 'small'));
  if (t.test) blocks.push({ kind: 'space' }, text(TEST_TICKET_BAR, 'bar'));
  return blocks;
}

/** "23/11/2026 08:05" in the hospital's time zone. */
export function formatTime(at: Date, timeZone: string): string {
  const p = localClock(at, timeZone);
  return `${p['day']}/${p['month']}/${p['year']} ${p['hour']}:${p['minute']}`;
}

/** What the clocks in `timeZone` read at `at`, field by field (year, month, day, hour, minute, second when asked), zero-padded, 24-hour. */
export function localClock(at: Date, timeZone: string, seconds = false): Readonly<Record<string, string>> {
  return Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: seconds ? '2-digit' : undefined,
      hourCycle: 'h23',
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
}
