// EF.COM (ICAO 9303-10 §4.6.1): tag 60 → 5F01 LDS version "aabb", 5F36 Unicode version "aabbcc",
// 5C the tags of the data groups present. It is not covered by EF.SOD, so it only says what to try
// to read; what was read is checked against the SOD instead.
import { childrenOf, malformed, need, readFile, type Tlv } from './tlv.js';

export interface Com {
  /** "0107" = LDS 1.7. */
  readonly ldsVersion: string;
  /** "040000" = Unicode 4.0.0. */
  readonly unicodeVersion: string;
  /** The tags listed, in order (61 = DG1, 75 = DG2, 6D = DG13 …). */
  readonly tags: readonly number[];
  /** The data-group numbers those tags stand for; unknown tags are left out. */
  readonly groups: readonly number[];
}

/** Data-group number → its file's tag (ICAO 9303-10 Table 34). */
export const DG_TAGS: ReadonlyMap<number, number> = new Map([
  [1, 0x61],
  [2, 0x75],
  [3, 0x63],
  [4, 0x76],
  [5, 0x65],
  [6, 0x66],
  [7, 0x67],
  [8, 0x68],
  [9, 0x69],
  [10, 0x6a],
  [11, 0x6b],
  [12, 0x6c],
  [13, 0x6d],
  [14, 0x6e],
  [15, 0x6f],
  [16, 0x70],
]);
const GROUP_OF_TAG = new Map([...DG_TAGS].map(([dg, tag]) => [tag, dg]));

export function parseCom(bytes: Uint8Array): Com {
  const children = childrenOf(readFile(bytes, 0x60, 'EF.COM'));
  const ldsVersion = digits(need(children, 0x5f01, 'EF.COM'), 4, 'LDS version');
  const unicodeVersion = digits(need(children, 0x5f36, 'EF.COM'), 6, 'Unicode version');
  const list = need(children, 0x5c, 'EF.COM');
  if (list.constructed) throw malformed('EF.COM: tag list is constructed');
  const tags = [...list.value];
  if (new Set(tags).size !== tags.length) throw malformed('EF.COM: a tag is listed twice');
  const groups = tags.flatMap((t) => GROUP_OF_TAG.get(t) ?? []);
  return { ldsVersion, unicodeVersion, tags, groups };
}

function digits(tlv: Tlv, length: number, what: string): string {
  const v = tlv.value;
  if (v.length !== length || v.some((b) => b < 0x30 || b > 0x39)) throw malformed(`EF.COM: ${what} is not ${length} digits`);
  return String.fromCharCode(...v);
}
