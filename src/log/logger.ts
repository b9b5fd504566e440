import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
import { censorDeep, maskIdNumbers } from './mask.js';

export type { Logger };

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
    // The law forbids names, ID numbers, dates of birth and images in logs. Code logs masked
    // values; these two nets catch what slips through: sensitive keys at any depth, and any
    // 12-digit run (a CCCD number) anywhere in the line, messages and errors included.
    formatters: { level: (label) => ({ level: label }), log: (obj) => censorDeep(obj) as Record<string, unknown> },
    hooks: { streamWrite: maskIdNumbers },
  };
  const usePretty = opts.pretty === 'always' || (opts.pretty === 'auto' && (opts.isTTY ?? process.stdout.isTTY === true));
  if (opts.destination) return pino(options, opts.destination);
  if (usePretty) {
    // In-process and synchronous: no transport worker thread, and nothing is lost on exit.
    return pino(options, pretty({ colorize: true, sync: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino(options, pino.destination({ fd: 1, sync: true }));
}
