import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * Paths pino censors wherever they appear (top level or one level down). They cover secrets
 * and everything read from a citizen ID card: the law forbids names, ID numbers, dates of
 * birth and images in logs. Code should log masked values (last 4 digits); this is the net
 * under that rule, not the rule itself.
 */
const SENSITIVE = [
  'password', 'passwordFile', 'token', 'accessToken', 'apiKey', 'authorization', 'secret',
  'idNumber', 'oldIdNumber', 'cccd', 'fullName', 'name', 'dateOfBirth', 'dob', 'address',
  'portrait', 'image', 'frame', 'jpeg', 'embedding', 'identity', 'raw',
];
export const REDACT_PATHS = SENSITIVE.flatMap((k) => [k, `*.${k}`]);

export interface LogOptions {
  readonly level: string;
  /** auto: human-readable when stdout is a terminal, JSON lines (for journald) otherwise. */
  readonly pretty: 'auto' | 'always' | 'never';
  readonly isTTY?: boolean;
  /** For tests: where JSON lines go. */
  readonly destination?: DestinationStream;
}

export function createLogger(opts: LogOptions): Logger {
  const options: LoggerOptions = {
    level: opts.level,
    base: null, // journald already records pid and host
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  };
  const usePretty = opts.pretty === 'always' || (opts.pretty === 'auto' && (opts.isTTY ?? process.stdout.isTTY === true));
  if (opts.destination) return pino(options, opts.destination);
  if (usePretty) {
    // In-process and synchronous: no transport worker thread, and nothing is lost on exit.
    return pino(options, pretty({ colorize: true, sync: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino(options, pino.destination({ fd: 1, sync: true }));
}
