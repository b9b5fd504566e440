/**
 * Text from a card or a backend on its way to the printer. In the ESC/POS stream, bytes below
 * 0x20 and 0x7F are commands (ESC, GS, DLE …): a name such as "An\x1dV\x00" must print as
 * letters, never cut the paper or open a cash drawer. Everything a ticket prints goes through
 * `printable` first; the encoder then maps only letters to code-page bytes.
 */
export function printable(input: unknown, maxLength = 120): string {
  const s = typeof input === 'string' ? input : input == null ? '' : String(input);
  return (
    s
      .normalize('NFC')
      // C0/C1 controls and DEL; Unicode format characters (bidi overrides, zero-width …) that
      // would reorder or hide what the patient reads; line and paragraph separators.
      .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cs}\p{Cn}]/gu, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, maxLength)
  );
}
