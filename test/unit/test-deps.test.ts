/**
 * `npm test` on a fresh machine: scripts/test.mjs checks for what the tests need and, when
 * something is missing, installs the Debian packages (root or passwordless sudo, printing the
 * command first) or stops at once with the one command to run. The decision is tested here;
 * nothing is installed.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { decide, findMissing, parsePackageList, readPackageList, type Probe } from '../../scripts/test-deps.mjs';

const PACKAGES = readPackageList();
const LIST = PACKAGES.join(' ');

function probe(o: { commands?: string[]; files?: string[]; langs?: string[]; env?: NodeJS.ProcessEnv } = {}): Probe {
  return {
    env: o.env ?? {},
    command: (name) => (o.commands ?? ['mosquitto', 'socat', 'systemd-analyze']).includes(name),
    file: (path) => (o.files ?? ['/usr/bin/chromium', '/usr/sbin/pcscd', '/usr/lib/pcsc/drivers/serial/libifdvpcd.so']).includes(path),
    tesseractLangs: () => o.langs ?? ['eng', 'osd', 'vie'],
    uid: 1000,
    sudo: () => false,
    apt: () => true,
  };
}

test('one package list: .ci/run and npm test both read scripts/deb-packages.txt', (t) => {
  t.deepEqual(PACKAGES, [
    'mosquitto',
    'socat',
    'systemd',
    'libsystemd-dev',
    'libusb-1.0-0',
    'g++',
    'make',
    'python3',
    'ca-certificates',
    'tesseract-ocr',
    'tesseract-ocr-vie',
    'chromium',
    'pcscd',
    'vsmartcard-vpcd',
    'libpcsclite-dev',
  ]);
  t.deepEqual(parsePackageList('# why\nmosquitto  # the broker\n\n  socat\n'), ['mosquitto', 'socat']);
  const ci = readFileSync('.ci/run', 'utf8');
  t.regex(ci, /scripts\/deb-packages\.txt/);
  t.notRegex(ci, /tesseract-ocr-vie/, '.ci/run keeps no list of its own');
  t.regex(readFileSync('scripts/test.mjs', 'utf8'), /ensureTestDependencies\(\);\n/);
});

test('what is missing: each program the tests use, mosquitto also in /usr/sbin, tesseract only with Vietnamese', (t) => {
  t.deepEqual(findMissing(probe()), []);
  t.deepEqual(
    findMissing(
      probe({
        commands: ['socat', 'systemd-analyze', 'pcscd'],
        files: ['/usr/sbin/mosquitto', '/usr/bin/chromium', '/usr/lib/pcsc/drivers/serial/libifdvpcd.so'],
      }),
    ),
    [],
  );
  t.deepEqual(
    findMissing(probe({ commands: [], files: [], langs: ['eng'] })).map((m) => m.pkg),
    ['mosquitto', 'socat', 'systemd', 'tesseract-ocr-vie', 'chromium', 'pcscd', 'vsmartcard-vpcd'],
  );
  t.deepEqual(
    findMissing(probe({ langs: [] })).map((m) => m.what),
    ['tesseract with the Vietnamese language (vie)'],
  );
  // The web panel test's own override of the browser's path.
  const chip = ['/usr/sbin/pcscd', '/usr/lib/pcsc/drivers/serial/libifdvpcd.so'];
  t.deepEqual(findMissing(probe({ env: { KIOSKD_CHROMIUM: '/opt/chromium' }, files: ['/opt/chromium', ...chip] })), []);
  t.deepEqual(
    findMissing(probe({ env: { KIOSKD_CHROMIUM: '/opt/chromium' }, files: chip })).map((m) => m.what),
    ['chromium'],
  );
});

test('nothing missing: the tests just run', (t) => {
  t.deepEqual(decide({ missing: [], root: false, sudo: false, apt: true, packages: PACKAGES }), { action: 'ok' });
});

test('as root: prints, then runs, apt-get update and apt-get install of the whole list (as .ci/run)', (t) => {
  const d = decide({ missing: [{ what: 'chromium', pkg: 'chromium' }], root: true, sudo: false, apt: true, packages: PACKAGES });
  t.is(d.action, 'install');
  if (d.action !== 'install') return;
  t.deepEqual(d.commands, [
    ['apt-get', 'update'],
    ['apt-get', 'install', '-y', '--no-install-recommends', ...PACKAGES],
  ]);
  t.is(d.shown, `apt-get update && apt-get install -y --no-install-recommends ${LIST}`);
  t.is(
    d.message,
    `npm test: missing chromium; installing the test dependencies:\n  apt-get update && apt-get install -y --no-install-recommends ${LIST}`,
  );
});

test('with passwordless sudo: the same, through sudo', (t) => {
  const d = decide({ missing: [{ what: 'socat', pkg: 'socat' }], root: false, sudo: true, apt: true, packages: PACKAGES });
  t.is(d.action, 'install');
  if (d.action !== 'install') return;
  t.deepEqual(d.commands, [
    ['sudo', 'apt-get', 'update'],
    ['sudo', 'apt-get', 'install', '-y', '--no-install-recommends', ...PACKAGES],
  ]);
  t.regex(
    d.message,
    /^npm test: missing socat; installing the test dependencies:\n {2}sudo apt-get update && sudo apt-get install -y --no-install-recommends mosquitto .* chromium pcscd vsmartcard-vpcd libpcsclite-dev$/,
  );
});

test('neither root nor passwordless sudo: stops at once, naming what is missing and the one command to run', (t) => {
  const d = decide({
    missing: [
      { what: 'mosquitto', pkg: 'mosquitto' },
      { what: 'chromium', pkg: 'chromium' },
    ],
    root: false,
    sudo: false,
    apt: true,
    packages: PACKAGES,
  });
  t.deepEqual(d, {
    action: 'stop',
    message: `npm test: missing mosquitto, chromium. Install the test dependencies (as root, or with sudo), then run npm test again:\n  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${LIST}`,
  });
});

test('no apt-get (not Debian): stops, listing the packages to find equivalents of', (t) => {
  const d = decide({ missing: [{ what: 'socat', pkg: 'socat' }], root: true, sudo: false, apt: false, packages: ['socat', 'chromium'] });
  t.deepEqual(d, {
    action: 'stop',
    message: 'npm test: missing socat. This is not a Debian-like system (no apt-get): install the equivalents of socat chromium',
  });
});
