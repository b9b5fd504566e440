/**
 * What the kiosk does with each `maKetQua` of the VSS gateway (KQNhanLichSuKCB2024).
 * Meanings from the gateway documentation (QĐ 4750 guide) and the tracnn/qlbv_public error
 * table, which agree. `words` is printed on the ticket for the patient and the counter staff;
 * `reason` is for technicians and logs. Neither ever holds personal data.
 */

/** Whose fault a result is when it is nobody's problem with the card: the caller raises an alert. */
export type BhytFault = 'kiosk' | 'gateway';

export interface BhytRoute {
  readonly route: 'proceed' | 'counter';
  readonly words: string;
  readonly reason: string;
  readonly fault?: BhytFault;
}

// The patient did nothing wrong in these: the ticket says only that the card was not checked.
export const NOT_CHECKED_WORDS = 'Chưa kiểm tra được thẻ BHYT – mời đến quầy tiếp đón';

const proceed = (words: string, reason: string): BhytRoute => ({ route: 'proceed', words, reason });
const counter = (words: string, reason: string): BhytRoute => ({ route: 'counter', words, reason });
const fault = (f: BhytFault, reason: string): BhytRoute => ({ route: 'counter', words: NOT_CHECKED_WORDS, reason, fault: f });
const reduced = (sub: string): BhytRoute => counter('Thẻ BHYT đã bị báo giảm', `card reported reduced (code ${sub})`);

const TABLE: Readonly<Record<string, BhytRoute>> = {
  '000': proceed('Có BHYT – thông tin thẻ đúng', 'card information correct'),
  '001': counter(
    'Thẻ do BHXH Bộ Quốc phòng quản lý – kiểm tra thẻ và giấy tờ tùy thân',
    'card managed by Ministry of Defence social insurance: check the card and ID papers',
  ),
  '002': counter(
    'Thẻ do BHXH Bộ Công an quản lý – kiểm tra thẻ và giấy tờ tùy thân',
    'card managed by Ministry of Public Security social insurance: check the card and ID papers',
  ),
  '003': proceed('Có BHYT – thẻ cũ hết hạn, đã được cấp thẻ mới', 'old card expired, a new card was issued'),
  '004': proceed('Có BHYT – đã được cấp thẻ mới (thẻ cũ còn giá trị)', 'old card still valid, a new card was issued'),
  '010': counter('Thẻ BHYT hết hạn', 'card expired'),
  '050': counter('Không có thông tin thẻ BHYT', 'no card information'),
  '051': counter('Mã thẻ BHYT không đúng', 'wrong card code'),
  '052': counter('Mã tỉnh trên thẻ BHYT không đúng', 'wrong province code (card characters 4-5)'),
  '053': counter('Mã quyền lợi trên thẻ BHYT không đúng', 'wrong benefit code (card character 3)'),
  '054': fault('kiosk', "the kiosk's officer CCCD (cccdCb) is not on the facility's registered user list"),
  '055': fault('kiosk', "the kiosk's officer name (hoTenCb) does not match the officer CCCD (cccdCb)"),
  '060': counter('Họ tên không đúng với thẻ BHYT', 'wrong name'),
  '061': counter('Họ tên không đúng với thẻ BHYT', 'wrong name (first character correct)'),
  '070': counter('Ngày sinh không đúng với thẻ BHYT', 'wrong date of birth'),
  '100': fault('gateway', 'gateway error reading the card ledger'),
  '101': fault('gateway', 'gateway server error (101)'),
  '110': counter('Thẻ BHYT đã bị thu hồi', 'card revoked'),
  '120': reduced('120'),
  '121': reduced('121'),
  '122': reduced('122'),
  '123': reduced('123'),
  '124': reduced('124'),
  '130': counter('Trẻ em không xuất trình thẻ BHYT', 'child did not present the card'),
  '205': fault('kiosk', 'gateway says the request parameters are malformed (205): a kiosk software fault'),
  '401': fault('kiosk', 'gateway authentication failed (401): check the BHYT username and password'),
  '500': fault('gateway', 'gateway server error (500)'),
  // Token errors: the client already took a fresh token and retried once.
  '501': fault('gateway', 'gateway rejected a fresh token (501)'),
  '999': fault('gateway', 'gateway rejected a fresh token (999)'),
};

/** The route for a gateway result code. Unknown codes go to the counter, never through. */
export function routeOf(code: string): BhytRoute {
  const known = Object.hasOwn(TABLE, code) ? TABLE[code] : undefined;
  if (known) return known;
  // The code is printed: keep whatever the gateway sent short and plain.
  const shown = code.replace(/[^0-9A-Za-z_-]/g, '').slice(0, 8) || '?';
  return counter(`Mã kết quả lạ ${shown}`, `unknown maKetQua ${shown}`);
}
