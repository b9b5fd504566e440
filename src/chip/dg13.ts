// DG13, Vietnam's own data group: 6D → SEQUENCE { INTEGER version, OID 1.0.10646.1.0.8,
// SET OF SEQUENCE { INTEGER field, value } } with UTF8String or PrintableString values
// (NghiaLio/NFC_CCCD_Reader:lib/src/data/parser/nfc_dg13_parser.dart; docs chip.md §6).
// Only the fields the kiosk may use are decoded: 1 number, 2 name, 3 birth date, 4 sex,
// 5 nationality, 11 issue date, 12 expiry. The rest (6 ethnicity, 7 religion, addresses, parents,
// spouse …) is sensitive or not needed (domain.md §5.3): skipped without being decoded.
import { childrenOf, malformed, readFile, readSmallInteger, type Tlv } from './tlv.js';

export interface Dg13 {
  /** The 12-digit personal number. */
  readonly idNumber: string;
  readonly fullName: string;
  /** As the card writes it (e.g. "dd/MM/yyyy"); not reinterpreted. */
  readonly birthDate: string;
  /** As the card writes it ("Nam" / "Nữ"). */
  readonly sex: string;
  readonly nationality: string;
  readonly issueDate?: string;
  readonly expiryDate?: string;
}

const KEPT = { 1: 'idNumber', 2: 'fullName', 3: 'birthDate', 4: 'sex', 5: 'nationality', 11: 'issueDate', 12: 'expiryDate' } as const;
type KeptField = keyof typeof KEPT;
const REQUIRED: readonly KeptField[] = [1, 2, 3, 4, 5];
const STRING_TAGS = [0x0c, 0x13, 0x16]; // UTF8String, PrintableString, IA5String
const MAX_CHARS = 200;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseDg13(bytes: Uint8Array): Dg13 {
  const root = childrenOf(readFile(bytes, 0x6d, 'DG13'));
  const content = root[0];
  if (!content || content.tag !== 0x30) throw malformed('DG13: no SEQUENCE');
  const fieldSet = childrenOf(content).find((c) => c.tag === 0x31);
  if (!fieldSet) throw malformed('DG13: no SET of fields');
  const values = new Map<KeptField, string>();
  for (const entry of childrenOf(fieldSet)) {
    if (entry.tag !== 0x30) continue; // not a field: nothing the kiosk reads
    const [numberTlv, valueTlv] = childrenOf(entry);
    if (!numberTlv) throw malformed('DG13: empty field');
    const field = readSmallInteger(numberTlv, 'DG13 field number');
    if (!(field in KEPT)) continue;
    const kept = field as KeptField;
    if (values.has(kept)) throw malformed(`DG13: field ${field} appears twice`);
    values.set(kept, readString(valueTlv, field));
  }
  for (const field of REQUIRED) if (!values.get(field)) throw malformed(`DG13: field ${field} missing`);
  const idNumber = values.get(1)!;
  if (!/^\d{12}$/.test(idNumber)) throw malformed('DG13: field 1 is not a 12-digit number');
  const issueDate = values.get(11);
  const expiryDate = values.get(12);
  return {
    idNumber,
    fullName: values.get(2)!,
    birthDate: values.get(3)!,
    sex: values.get(4)!,
    nationality: values.get(5)!,
    ...(issueDate ? { issueDate } : {}),
    ...(expiryDate ? { expiryDate } : {}),
  };
}

function readString(tlv: Tlv | undefined, field: number): string {
  if (!tlv || !STRING_TAGS.includes(tlv.tag)) throw malformed(`DG13: field ${field} is not a string`);
  let text: string;
  try {
    text = utf8.decode(tlv.value);
  } catch {
    throw malformed(`DG13: field ${field} is not UTF-8`);
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f-\u009f]/.test(text)) throw malformed(`DG13: field ${field} holds control characters`);
  text = text.normalize('NFC').trim();
  if (text.length > MAX_CHARS) throw malformed(`DG13: field ${field} over ${MAX_CHARS} characters`);
  return text;
}
