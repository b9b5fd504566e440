import { printable } from './text.js';

/**
 * A queue ticket as data, and its layout (pure). The layout says what goes on the paper and how
 * prominent it is; `encode.ts` turns it into ESC/POS bytes (raster or code-page text).
 */
export interface Ticket {
  /** Printed as a QR code so staff (or the patient's phone) can look the ticket up. */
  readonly ticketId: string;
  /** The queue number as called: "A-0123", "123". */
  readonly number: string;
  readonly department: string;
  /** "Phòng 105 – Tầng 1". */
  readonly room: string | null;
  /** Why the patient has priority, in words ("Người cao tuổi"), or null. */
  readonly priority: string | null;
  readonly issuedAt: Date;
  /** BHYT status in words: "Có BHYT – đúng tuyến", "Không có BHYT" … */
  readonly insurance: string;
  readonly patientName: string | null;
  readonly idLast4: string | null;
  /** A reprint after a printer fault says so, so staff know why a patient holds an older time. */
  readonly reprint?: boolean;
  /** Short lines for staff and patient ("Chưa xác thực khuôn mặt", why the counter …). */
  readonly notes?: readonly string[];
  /**
   * A technician's test print. It must never pass for a queue ticket: a "not valid" bar top and
   * bottom, no priority bar, no QR code a caller might scan.
   */
  readonly test?: boolean;
}

/** The bar across the top and the bottom of every test ticket. */
export const TEST_TICKET_BAR = 'PHIẾU IN THỬ — KHÔNG CÓ GIÁ TRỊ';

export interface TicketTemplate {
  readonly hospital: string;
  readonly subtitle: string | null;
  readonly footer: string;
  readonly showName: boolean;
  /** IANA zone for the printed time; the kiosk's clock may run in UTC. */
  readonly timeZone: string;
  readonly paperMm: 80 | 58;
}

export type TicketStyle = 'title' | 'subtitle' | 'number' | 'heading' | 'priority' | 'bar' | 'body' | 'small';

export type TicketBlock =
  | { readonly kind: 'text'; readonly text: string; readonly style: TicketStyle; readonly align: 'left' | 'center' }
  | { readonly kind: 'rule' }
  | { readonly kind: 'qr'; readonly data: string }
  | { readonly kind: 'space' };

/** Print width in dots at 203 dpi: 72 mm of an 80 mm roll, 48 mm of a 58 mm roll. */
export function paperDots(paperMm: 80 | 58): number {
  return paperMm === 80 ? 576 : 384;
}

export function layoutTicket(t: Ticket, tpl: TicketTemplate): TicketBlock[] {
  const text = (s: string, style: TicketStyle, align: 'left' | 'center' = 'center'): TicketBlock => ({ kind: 'text', text: s, style, align });
  const blocks: TicketBlock[] = t.test ? [text(TEST_TICKET_BAR, 'bar'), { kind: 'space' }] : [];
  blocks.push(text(printable(tpl.hospital), 'title'));
  const subtitle = printable(tpl.subtitle);
  if (subtitle) blocks.push(text(subtitle, 'subtitle'));
  // A test ticket does not say "queue number", and says what it is in plain print too (the bars are inverse).
  blocks.push({ kind: 'rule' }, text(t.test ? TEST_TICKET_BAR : 'SỐ THỨ TỰ', 'small'), text(printable(t.number, 12), 'number'));
  const priority = t.test ? '' : printable(t.priority, 60);
  if (priority) blocks.push(text(`ƯU TIÊN – ${priority}`, 'priority'));
  blocks.push(text(printable(t.department, 80), 'heading'));
  const room = printable(t.room, 80);
  if (room) blocks.push(text(room, 'heading'));
  blocks.push({ kind: 'rule' });
  const name = tpl.showName ? printable(t.patientName, 80) : '';
  if (name) blocks.push(text(`Họ tên: ${name}`, 'body', 'left'));
  // Whatever the caller hands in, only the last 4 digits are ever printed.
  const last4 = printable(t.idLast4).replace(/\D/g, '').slice(-4);
  if (last4.length === 4) blocks.push(text(`CCCD: ********${last4}`, 'body', 'left'));
  blocks.push(text(`BHYT: ${printable(t.insurance, 80)}`, 'body', 'left'));
  for (const note of (t.notes ?? []).slice(0, 3)) {
    const line = printable(note, 80);
    if (line) blocks.push(text(line, 'body', 'left'));
  }
  blocks.push(text(`Thời gian: ${formatTime(t.issuedAt, tpl.timeZone)}${t.reprint ? ' (in lại)' : ''}`, 'body', 'left'));
  if (!t.test) blocks.push({ kind: 'space' }, { kind: 'qr', data: printable(t.ticketId, 64) });
  // The footer asks the patient to wait for the number to be called: not on a test ticket.
  const footer = t.test ? '' : printable(tpl.footer, 200);
  if (footer) blocks.push(text(footer, 'small'));
  if (t.test) blocks.push({ kind: 'space' }, text(TEST_TICKET_BAR, 'bar'));
  return blocks;
}

/** "23/11/2026 08:05" in the hospital's time zone. */
export function formatTime(at: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return `${parts['day']}/${parts['month']}/${parts['year']} ${parts['hour']}:${parts['minute']}`;
}
