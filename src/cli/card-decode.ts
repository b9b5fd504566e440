import { Framer } from '../hal/card/framer.js';
import { MAX_PAYLOAD_BYTES, parseCccdBytes } from '../hal/card/parse.js';
import type { CitizenIdentity } from '../hal/card/types.js';
import { initials, maskId } from '../log/mask.js';

export const EX_DATAERR = 65;

export interface DecodeOutput {
  readonly stdout: string[];
  readonly stderr: string[];
  readonly exitCode: number;
}

/**
 * `kioskd card decode`: what a scanner sent, as the daemon understands it. One JSON line per
 * scan on stdout; a rejection's reason on stderr and exit 65. Personal data is masked unless
 * `reveal` (the technician is then looking at a card they hold).
 */
export function decodeScans(bytes: Uint8Array, o: { reveal: boolean; today: { year: number; month: number; day: number } }): DecodeOutput {
  const framer = new Framer('any', MAX_PAYLOAD_BYTES);
  const frames = [...framer.push(bytes), ...framer.idle()];
  const stdout: string[] = [];
  const stderr: string[] = [];
  if (frames.length === 0) stderr.push('rejected (empty): no scan on standard input');
  for (const f of frames) {
    if (f.kind === 'overflow') {
      stderr.push(`rejected (too-long): a line of ${f.bytes} bytes; a CCCD QR is at most ${MAX_PAYLOAD_BYTES}`);
      continue;
    }
    const r = parseCccdBytes(f.bytes, { today: o.today });
    if (r.ok) stdout.push(JSON.stringify(o.reveal ? r.identity : masked(r.identity)));
    else stderr.push(`rejected (${r.rejection.code}): ${r.rejection.message}`);
  }
  return { stdout, stderr, exitCode: stderr.length > 0 ? EX_DATAERR : 0 };
}

function masked(id: CitizenIdentity): Record<string, unknown> {
  return {
    idNumber: maskId(id.idNumber),
    oldIdNumber: id.oldIdNumber === null ? null : maskId(id.oldIdNumber),
    fullName: initials(id.fullName),
    dateOfBirth: id.dateOfBirth.slice(0, 4) + (id.dateOfBirth.length > 4 ? '-**-**' : ''),
    sex: id.sex,
    address: id.address === null ? null : `(${[...id.address].length} characters)`,
    issueDate: id.issueDate,
    form: id.form,
    repairs: id.repairs,
    masked: 'run with --reveal to see every field',
  };
}
