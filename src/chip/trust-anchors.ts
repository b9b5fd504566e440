// The trust anchors of passive authentication (chip.md §7): CSCA certificates from a directory,
// DER (.cer, .der) or PEM (.pem, .crt, several certificates per file allowed). The directory is
// the hospital's: every problem is listed (a file that does not parse, one that is not a CA, too
// many or too big) and the rest still used; nothing here throws.
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

export interface TrustAnchors {
  /** Each anchor's DER, as passiveAuth takes them. */
  readonly anchors: readonly Uint8Array[];
  /** Each anchor's subject, in the same order, for the log. */
  readonly subjects: readonly string[];
  /** One line per problem, naming the file; never fatal. */
  readonly errors: readonly string[];
}

export interface TrustAnchorLimits {
  /** Files read at most (sorted by name); 200 by default. */
  readonly maxFiles?: number;
  /** Bytes per file at most; 64 KiB by default (a certificate is 1-2 KB). */
  readonly maxFileBytes?: number;
  /** Certificates kept at most, over all files; 500 by default. */
  readonly maxAnchors?: number;
}

const DER_EXTENSIONS = new Set(['.cer', '.der']);
const PEM_EXTENSIONS = new Set(['.pem', '.crt']);
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The certificates of one file's bytes: DER as is, PEM's CERTIFICATE blocks; an error for anything else. */
export function certificatesOf(name: string, bytes: Uint8Array): { ders: Uint8Array[]; errors: string[] } {
  const ext = extname(name).toLowerCase();
  const text = Buffer.from(bytes).toString('latin1');
  // A .cer or .crt is DER or PEM depending on who made it: the content decides.
  const pem = PEM_EXTENSIONS.has(ext) || text.includes('-----BEGIN');
  const blocks = pem ? [...text.matchAll(PEM_BLOCK)].map((m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'))) : [bytes];
  if (blocks.length === 0) return { ders: [], errors: [`${name}: no PEM CERTIFICATE block`] };
  const ders: Uint8Array[] = [];
  const errors: string[] = [];
  blocks.forEach((der, i) => {
    const which = blocks.length > 1 ? `${name} (certificate ${i + 1})` : name;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch (e) {
      errors.push(`${which}: not an X.509 certificate (${message(e)})`);
      return;
    }
    if (!cert.ca) errors.push(`${which}: not a CA certificate (a CSCA is one), skipped: ${oneLine(cert.subject)}`);
    else ders.push(der);
  });
  return { ders, errors };
}

/** Loads every certificate file of `dir`; an empty `dir` means no anchors (and no error). */
export function loadTrustAnchors(dir: string, limits: TrustAnchorLimits = {}): TrustAnchors {
  const maxFiles = limits.maxFiles ?? 200;
  const maxFileBytes = limits.maxFileBytes ?? 64 * 1024;
  const maxAnchors = limits.maxAnchors ?? 500;
  const anchors: Uint8Array[] = [];
  const subjects: string[] = [];
  const errors: string[] = [];
  if (dir === '') return { anchors, subjects, errors };
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => DER_EXTENSIONS.has(extname(n).toLowerCase()) || PEM_EXTENSIONS.has(extname(n).toLowerCase()))
      .sort();
  } catch (e) {
    return { anchors, subjects, errors: [`${dir}: cannot list the trust anchors directory (${message(e)})`] };
  }
  if (names.length > maxFiles) {
    errors.push(`${dir}: ${names.length} certificate files, only the first ${maxFiles} (by name) are read`);
    names = names.slice(0, maxFiles);
  }
  for (const name of names) {
    const path = join(dir, name);
    let bytes: Uint8Array;
    try {
      const size = statSync(path).size;
      if (size > maxFileBytes) {
        errors.push(`${name}: ${size} bytes, over the ${maxFileBytes}-byte limit for a certificate file`);
        continue;
      }
      bytes = new Uint8Array(readFileSync(path));
    } catch (e) {
      errors.push(`${name}: cannot be read (${message(e)})`);
      continue;
    }
    const found = certificatesOf(name, bytes);
    errors.push(...found.errors);
    for (const der of found.ders) {
      if (anchors.length >= maxAnchors) {
        errors.push(`${name}: over ${maxAnchors} trust anchors in all, the rest skipped`);
        break;
      }
      anchors.push(der);
      subjects.push(oneLine(new X509Certificate(der).subject));
    }
  }
  return { anchors, subjects, errors };
}

function oneLine(subject: string): string {
  return subject.replace(/\n/g, ', ');
}
