/**
 * Synthetic citizens for the simulator and tests: invented numbers (structurally valid, with
 * the century/sex and year digits that match the birth date), names that use every kind of
 * Vietnamese diacritic. None is a real person.
 */
export interface SampleIdentity {
  readonly idNumber: string;
  readonly oldIdNumber: string;
  readonly fullName: string;
  /** ddMMyyyy */
  readonly dob: string;
  readonly sex: 'Nam' | 'Nữ';
  readonly address: string;
  /** ddMMyyyy */
  readonly issued: string;
}

export const SAMPLE_IDENTITIES: readonly SampleIdentity[] = [
  {
    idNumber: '001190900001',
    oldIdNumber: '013900001',
    fullName: 'Nguyễn Thị Ánh Tuyết',
    dob: '01011990',
    sex: 'Nữ',
    address: 'Số 1 Phố Huế, Phường Hai Bà Trưng, Hà Nội',
    issued: '15042021',
  },
  {
    idNumber: '079045900002',
    oldIdNumber: '',
    fullName: 'Trần Văn Đức',
    dob: '07031945',
    sex: 'Nam',
    address: '12/3 Lê Lợi, Phường Bến Thành, TP Hồ Chí Minh',
    issued: '20062022',
  },
  {
    idNumber: '048158900003',
    oldIdNumber: '201589003',
    fullName: 'Lê Hoàng Phượng Ỷ',
    dob: '28021958',
    sex: 'Nữ',
    address: 'Tổ 5, Phường Hải Châu, Đà Nẵng',
    issued: '03012023',
  },
  {
    idNumber: '031201900004',
    oldIdNumber: '',
    fullName: 'Phạm Quốc Ưng Hữu',
    dob: '31122001',
    sex: 'Nam',
    address: 'Thôn Yên Thế, Xã Ngũ Lão, Hải Phòng',
    issued: '10102021',
  },
  {
    idNumber: '046315900005',
    oldIdNumber: '',
    fullName: 'Võ Ngọc Diệp Ỹ Khuê',
    dob: '05052015',
    sex: 'Nữ',
    address: 'Kiệt 8 Đặng Huy Trứ, Huế',
    issued: '01072024',
  },
];

const slashed = (d: string): string => `${d.slice(0, 2)}/${d.slice(2, 4)}/${d.slice(4)}`;

/** The QR payload a scanner sends for this identity: the chip-card 7-field form, or the 6-field form. */
export function cccdPayload(p: SampleIdentity, form: '7-field' | '6-field' = '7-field'): string {
  return form === '7-field'
    ? [p.idNumber, p.oldIdNumber, p.fullName, p.dob, p.sex, p.address, p.issued].join('|')
    : [p.idNumber, p.fullName, slashed(p.dob), p.sex, p.address, slashed(p.issued)].join('|');
}
