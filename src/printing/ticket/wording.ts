import type { InsuranceResult } from '../../pipeline/step-ports.js';

/**
 * The Vietnamese a ticket prints that code chooses (the hospital's own lines are config): in one
 * file, so a change of wording is one edit and a reader of Vietnamese checks one place. The
 * priority reasons (pipeline/priority.ts) and the counter reasons (pipeline/machine.ts) stay
 * beside the rules that pick them.
 */

/** The labels of a ticket's lines (layout.ts). */
export const TICKET_LABELS = {
  queueNumber: 'SỐ THỨ TỰ',
  priority: 'ƯU TIÊN',
  name: 'Họ tên',
  idNumber: 'CCCD',
  insurance: 'BHYT',
  time: 'Thời gian',
  /** After the time on a ticket printed again after a printer fault. */
  reprint: 'in lại',
} as const;

/** The bar across the top and the bottom of every test ticket. */
export const TEST_TICKET_BAR = 'PHIẾU IN THỬ — KHÔNG CÓ GIÁ TRỊ';

/** What the ticket says when the gateway was not asked or did not answer (domain.md §2). */
export const UNCHECKED_WORDS = 'BHYT chưa kiểm tra';

/** The BHYT line of a check-in's ticket: the gateway's words, or that it was not checked. */
export function insuranceWords(i: InsuranceResult | null): string {
  if (!i || i.kind === 'unchecked' || i.kind === 'skipped') return UNCHECKED_WORDS;
  return i.words;
}

/** Notes under the patient's lines. */
export const NOTES = {
  /** A counter ticket says why the patient goes to the counter. */
  counterReason: (reason: string): string => `Lý do: ${reason}`,
  /** A queue ticket given without a face match (no portrait, verification off …). */
  faceNotVerified: 'Chưa xác thực khuôn mặt',
} as const;

/** The technician's sample ticket (`print-test`, hw-sim print-sample): every letter shape a real ticket needs, no real patient. */
export const SAMPLE_TICKET_WORDS = {
  department: 'Khoa Khám bệnh',
  room: 'Phòng 105 – Tầng 1',
  insurance: 'Có BHYT – đúng tuyến (phiếu in thử)',
  patientName: 'Nguyễn Thị Ánh Tuyết',
} as const;

/** `kioskd selftest`'s printer ticket: says what it is and which kiosk. */
export const SELFTEST_TICKET_WORDS = {
  department: 'KIỂM TRA MÁY IN',
  insurance: 'không tra cứu (phiếu kiểm tra)',
  kiosk: (deviceId: string): string => `Ki-ốt: ${deviceId}`,
  notANumber: 'Phiếu kiểm tra, không phải số thứ tự',
} as const;
