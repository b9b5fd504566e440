import type { VerifyResult } from './step-ports.js';

/** What the machine writes: the counter ticket's Vietnamese words, and reasons in English for technicians. */
/** Ticket wording for the counter, by cause. */
export const COUNTER_WORDS = {
  declined: 'Không đồng ý xác thực khuôn mặt',
  mismatch: 'Khuôn mặt không khớp với ảnh trên thẻ',
  noFace: 'Không chụp được khuôn mặt rõ',
  noPortrait: 'Không có ảnh đối chiếu',
  device: 'Thiết bị gặp sự cố',
  unnumbered: 'Máy không ghi được số thứ tự',
  /** The chip refused the access number from the QR: another card on the reader, or a damaged QR. */
  chipWrongCard: 'Thẻ đặt lên đầu đọc không khớp với mã QR đã quét',
  chipNumberMismatch: 'Số định danh trong chip không khớp với mã QR',
  chipNotAuthentic: 'Dữ liệu trong chip của thẻ không xác thực được',
  chipRemoved: 'Thẻ bị nhấc khỏi đầu đọc khi đang đọc chip',
} as const;

export function scoreOf(v: VerifyResult): number | null {
  return v.kind === 'match' || v.kind === 'mismatch' ? v.score : null;
}

export function verifyReason(v: VerifyResult): string {
  switch (v.kind) {
    case 'match':
      return 'face matched';
    case 'mismatch':
      return `face did not match the portrait (score ${v.score.toFixed(3)})`;
    case 'refused':
    case 'unavailable':
      return v.reason;
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
