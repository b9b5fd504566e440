import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { VirtualScanner } from './devices/scanner.js';
import { SAMPLE_IDENTITIES, cccdPayload } from './identities.js';

export const CONSOLE_HELP = `hw-sim commands (type and press Enter):
  scan [N]       scan sample identity N (1-${SAMPLE_IDENTITIES.length}), 7-field chip-card form
  scan6 [N]      the same in the 6-field form
  raw TEXT       send TEXT plus CR LF, as a scanner would
  garbage        send random bytes and a CR LF
  twice [N]      scan the same card twice in a row
  trickle [N]    send a scan a few bytes at a time
  noterm [N]     send a scan with no terminator
  long           send an 8 KB line
  unplug|replug  pull out / put back the scanner
  help`;

/** The technician's keyboard in hw-sim: one line, one action on the virtual devices. */
export function runConsole(input: Readable, scanner: VirtualScanner, say: (line: string) => void): () => void {
  const rl = createInterface({ input, terminal: false });
  rl.on('line', (line) => {
    void handle(line.trim(), scanner).then(say, (err: unknown) => say(`hw-sim: ${err instanceof Error ? err.message : String(err)}`));
  });
  return () => rl.close();
}

async function handle(line: string, scanner: VirtualScanner): Promise<string> {
  const [cmd = '', ...rest] = line.split(/\s+/);
  const arg = rest.join(' ');
  const pick = (): (typeof SAMPLE_IDENTITIES)[number] => {
    const n = arg === '' ? 1 : Number(arg);
    const p = SAMPLE_IDENTITIES[n - 1];
    if (!p) throw new Error(`no sample identity ${arg}; there are ${SAMPLE_IDENTITIES.length}`);
    return p;
  };
  switch (cmd) {
    case '':
      return '';
    case 'scan':
      await scanner.scan(pick());
      return `hw-sim: scanned sample ${arg || 1}`;
    case 'scan6':
      await scanner.scan(pick(), { form: '6-field' });
      return `hw-sim: scanned sample ${arg || 1} (6-field form)`;
    case 'raw':
      await scanner.send(arg + '\r\n');
      return `hw-sim: sent ${Buffer.byteLength(arg)} bytes`;
    case 'garbage':
      await scanner.send(Buffer.concat([Buffer.from(Array.from({ length: 40 }, () => Math.floor(Math.random() * 256))), Buffer.from('\r\n')]));
      return 'hw-sim: sent 40 random bytes';
    case 'twice':
      await scanner.scan(pick());
      await scanner.scan(pick());
      return 'hw-sim: scanned the same card twice';
    case 'trickle':
      await scanner.trickle(cccdPayload(pick()) + '\r\n');
      return 'hw-sim: trickled a scan';
    case 'noterm':
      await scanner.send(cccdPayload(pick()));
      return 'hw-sim: sent a scan with no terminator';
    case 'long':
      await scanner.send('9'.repeat(8192) + '\r\n');
      return 'hw-sim: sent an 8 KB line';
    case 'unplug':
      await scanner.unplug();
      return 'hw-sim: scanner unplugged';
    case 'replug':
      await scanner.plug();
      return 'hw-sim: scanner plugged back in';
    case 'help':
      return CONSOLE_HELP;
    default:
      return `hw-sim: unknown command "${cmd}"; type help`;
  }
}
