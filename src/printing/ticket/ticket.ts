/**
 * A queue ticket as data, and the blocks it is laid out in (layout.ts, pure). The layout says what
 * goes on the paper and how prominent it is; src/hal/printer/encode.ts turns it into ESC/POS bytes
 * (raster or code-page text).
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
