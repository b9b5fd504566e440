/** `kioskd calibrate`: its arguments; the fitting itself is in calibrate.ts (loaded only when asked for). */
import { EX_CONFIG } from '../config/load.js';
import { configSchema } from '../config/schema.js';
import { faceEngineOptions } from '../faceid/options.js';
import { createLogger } from '../log/logger.js';
import { resolve } from 'node:path';
import { loadOrExplain } from './config-commands.js';
import { EX_USAGE, type CommandLine } from './usage.js';

/** Recognisers named rather than given by path. */
const BUNDLED_NAMES = new Set(['fr_feature', 'faceapi']);

export async function calibrateCommand(values: CommandLine): Promise<number> {
  const far = Number(values.far ?? '1e-3');
  if (!values.data?.length || !values.out || !(far > 0 && far < 0.5)) {
    process.stderr.write(
      'usage: kioskd calibrate --data DIR [--data DIR…] [--groups CSV] --far 1e-3 --out FILE [--recognizer MODEL] [--config FILE]\n',
    );
    return EX_USAGE;
  }
  // The recogniser: --recognizer, else the one the config names (when --config is given), else the bundled one.
  const loaded = values.config ? loadOrExplain(values.config) : null;
  if (values.config && !loaded) return EX_CONFIG;
  const faceid = loaded?.config.faceid ?? configSchema.shape.faceid.parse(undefined);
  const recognizer = values.recognizer
    ? {
        recognizer: {
          ...faceEngineOptions(faceid).recognizer,
          model: BUNDLED_NAMES.has(values.recognizer) ? values.recognizer : resolve(values.recognizer),
        },
      }
    : {};
  const engine = faceEngineOptions(faceid, recognizer);
  const { calibrate } = await import('./calibrate.js');
  const log = createLogger({ level: 'warn', pretty: 'auto' });
  return calibrate({ data: values.data, groups: values.groups, far, out: values.out, engine }, log, (l) => process.stdout.write(l + '\n'));
}

/** `kioskd card decode`: scanner bytes on stdin, as the daemon would understand them; `kioskd card read-chip`: the card's chip. */
export async function cardCommand(rest: string[], values: CommandLine): Promise<number> {
  if (rest[0] === 'read-chip') return (await import('./read-chip.js')).readChipMain(values);
  if (rest[0] !== 'decode') {
    process.stderr.write(
      'usage: kioskd card decode [--reveal] < scanner-bytes\n       kioskd card read-chip (--can N | --from-qr) [--reveal] [--portrait FILE] [--config FILE]\n',
    );
    return EX_USAGE;
  }
  const { decodeScans } = await import('./card-decode.js');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const now = new Date();
  const today = { year: now.getFullYear(), month: now.getMonth() + 1, day: now.getDate() };
  const out = decodeScans(Buffer.concat(chunks), { reveal: values.reveal === true, today });
  for (const l of out.stdout) process.stdout.write(l + '\n');
  for (const l of out.stderr) process.stderr.write(l + '\n');
  return out.exitCode;
}
