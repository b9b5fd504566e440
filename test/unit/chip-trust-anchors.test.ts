// chip.trustAnchorsDir: CSCA certificates in DER or PEM; every problem listed, none fatal.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTrustAnchors } from '../../src/chip/trust-anchors.js';
import { PKI } from '../helpers/chip-rig.js';

const pem = (der: Uint8Array): string =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;

function dir(t: import('ava').ExecutionContext, files: Record<string, string | Uint8Array>): string {
  const d = mkdtempSync(join(tmpdir(), 'kioskd-anchors-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  for (const [name, body] of Object.entries(files)) writeFileSync(join(d, name), body);
  return d;
}

test('DER and PEM certificates are loaded (several in one PEM); other files are ignored', (t) => {
  const d = dir(t, {
    'a-csca.cer': PKI.cscaDer,
    'b-both.pem': pem(PKI.cscaDer) + pem(PKI.rogueCscaDer),
    'c-pem-named.crt': pem(PKI.rogueCscaDer),
    'README.txt': 'not a certificate',
  });
  const r = loadTrustAnchors(d);
  t.deepEqual(r.errors, []);
  t.is(r.anchors.length, 4);
  t.deepEqual(r.anchors[0], PKI.cscaDer);
  t.deepEqual(r.anchors[2], PKI.rogueCscaDer);
  t.deepEqual(
    r.subjects.map((s) => /CN=(Test|Unknown) CSCA/.exec(s)?.[1]),
    ['Test', 'Test', 'Unknown', 'Unknown'],
  );
});

test('a document signer (not a CA), a broken file, an empty PEM and a huge file are listed, and the good anchor still loads', (t) => {
  const d = dir(t, {
    'csca.der': PKI.cscaDer,
    'dsc.cer': PKI.dsc.certDer,
    'broken.der': Uint8Array.of(0x30, 0x82, 0xff, 0xff, 1, 2, 3),
    'empty.pem': '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n',
    'huge.cer': new Uint8Array(70 * 1024),
  });
  const r = loadTrustAnchors(d);
  t.deepEqual(r.anchors, [PKI.cscaDer]);
  const byFile = Object.fromEntries(r.errors.map((e) => [e.split(':')[0], e]));
  t.deepEqual(Object.keys(byFile).sort(), ['broken.der', 'dsc.cer', 'empty.pem', 'huge.cer']);
  t.regex(byFile['dsc.cer']!, /not a CA certificate/);
  t.regex(byFile['broken.der']!, /not an X\.509 certificate/);
  t.regex(byFile['empty.pem']!, /no PEM CERTIFICATE block/);
  t.regex(byFile['huge.cer']!, /71680 bytes, over the 65536-byte limit/);
});

test('a missing directory is one error, no anchors; an empty setting is no anchors and no error', (t) => {
  const missing = join(tmpdir(), `kioskd-no-such-dir-${process.pid}`);
  const r = loadTrustAnchors(missing);
  t.deepEqual(r.anchors, []);
  t.is(r.errors.length, 1);
  t.regex(r.errors[0]!, /cannot list the trust anchors directory/);
  t.deepEqual(loadTrustAnchors(''), { anchors: [], subjects: [], errors: [] });
});

test('the number of files and of anchors is bounded', (t) => {
  const d = dir(t, {});
  mkdirSync(join(d, 'sub.pem')); // a directory with a certificate's name: listed, not fatal
  for (let i = 0; i < 5; i++) writeFileSync(join(d, `c${i}.cer`), PKI.cscaDer);
  const r = loadTrustAnchors(d, { maxFiles: 3, maxAnchors: 2 });
  t.is(r.anchors.length, 2);
  t.true(r.errors.some((e) => /6 certificate files, only the first 3/.test(e)));
  t.true(r.errors.some((e) => /over 2 trust anchors in all/.test(e)));
});
