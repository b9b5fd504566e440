/**
 * What the technician types in the panel's raw-bytes box, turned into the bytes the virtual
 * scanner sends: text with C-style escapes (\r \n \t \0 \\ \xNN) encoded as UTF-8, or hex.
 */
export type RawMode = 'text' | 'hex';

export function parseRawBytes(input: string, mode: RawMode): Buffer {
  return mode === 'hex' ? parseHex(input) : parseEscaped(input);
}

function parseHex(input: string): Buffer {
  // Accepts "0d 0a", "0x0d,0x0a", "0D0A": separators and 0x prefixes are decoration.
  const digits = input.replace(/0x/gi, '').replace(/[\s,:;-]+/g, '');
  if (!/^[0-9a-f]*$/i.test(digits)) throw new Error('hex bytes may contain only 0-9, a-f, spaces, commas and 0x prefixes');
  if (digits.length % 2 !== 0) throw new Error(`hex bytes need an even number of digits, got ${digits.length}`);
  return Buffer.from(digits, 'hex');
}

const SIMPLE: Readonly<Record<string, number>> = { r: 0x0d, n: 0x0a, t: 0x09, '0': 0x00, '\\': 0x5c, e: 0x1b };

function parseEscaped(input: string): Buffer {
  const parts: Buffer[] = [];
  let text = '';
  const flush = (): void => {
    if (text !== '') parts.push(Buffer.from(text, 'utf8'));
    text = '';
  };
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    if (c !== '\\') {
      text += c;
      continue;
    }
    const next = input[i + 1];
    if (next === undefined) throw new Error('a lone \\ at the end: write \\\\ for a backslash');
    if (next === 'x') {
      const hex = input.slice(i + 2, i + 4);
      if (!/^[0-9a-f]{2}$/i.test(hex)) throw new Error(`\\x needs two hex digits at position ${i + 1}`);
      flush();
      parts.push(Buffer.of(Number.parseInt(hex, 16)));
      i += 3;
      continue;
    }
    const byte = SIMPLE[next];
    if (byte === undefined) throw new Error(`unknown escape \\${next} at position ${i + 1} (use \\r \\n \\t \\0 \\e \\\\ \\xNN)`);
    flush();
    parts.push(Buffer.of(byte));
    i += 1;
  }
  flush();
  return Buffer.concat(parts);
}
