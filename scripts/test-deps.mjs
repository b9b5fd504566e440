// What `npm test` needs from the machine (Debian packages), and what to do when some of it is
// missing: install it when this user may (root, or passwordless sudo), else stop at once with
// the one command to run. The package list is scripts/deb-packages.txt, shared with .ci/run.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PACKAGES_FILE = fileURLToPath(new URL('./deb-packages.txt', import.meta.url));

/** The package names of a deb-packages.txt text: one a line, `#` comments and blank lines ignored. */
export function parsePackageList(text) {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
}

export function readPackageList(file = PACKAGES_FILE) {
  return parsePackageList(readFileSync(file, 'utf8'));
}

/** What the tests use, how to find it, and the package that brings it. */
export const REQUIREMENTS = [
  { what: 'mosquitto', pkg: 'mosquitto', found: (p) => p.command('mosquitto') || p.file('/usr/sbin/mosquitto') },
  { what: 'socat', pkg: 'socat', found: (p) => p.command('socat') },
  { what: 'systemd-analyze', pkg: 'systemd', found: (p) => p.command('systemd-analyze') },
  { what: 'tesseract with the Vietnamese language (vie)', pkg: 'tesseract-ocr-vie', found: (p) => p.tesseractLangs().includes('vie') },
  { what: 'chromium', pkg: 'chromium', found: (p) => p.file(p.env['KIOSKD_CHROMIUM'] ?? '/usr/bin/chromium') },
  // The chip tests serve a virtual card through a real pcscd and Debian's vpcd driver.
  { what: 'pcscd', pkg: 'pcscd', found: (p) => p.command('pcscd') || p.file('/usr/sbin/pcscd') },
  { what: 'the vpcd driver', pkg: 'vsmartcard-vpcd', found: (p) => p.file('/usr/lib/pcsc/drivers/serial/libifdvpcd.so') },
];

/** Looks at this machine. */
export function systemProbe(env = process.env) {
  const ok = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore', env }).status === 0;
  return {
    env,
    command: (name) => ok('sh', ['-c', `command -v ${name}`]),
    file: (path) => existsSync(path),
    tesseractLangs: () => {
      const r = spawnSync('tesseract', ['--list-langs'], { encoding: 'utf8', env });
      return r.status === 0 ? r.stdout.split('\n').map((l) => l.trim()) : [];
    },
    uid: typeof process.getuid === 'function' ? process.getuid() : -1,
    sudo: () => ok('sudo', ['-n', 'true']),
    apt: () => ok('sh', ['-c', 'command -v apt-get']),
  };
}

/** The requirements not met, in REQUIREMENTS order. */
export function findMissing(probe) {
  return REQUIREMENTS.filter((r) => !r.found(probe)).map(({ what, pkg }) => ({ what, pkg }));
}

/**
 * What to do, given what is missing and who runs the tests:
 * - nothing missing: { action: 'ok' }
 * - root, or passwordless sudo, on a machine with apt-get: { action: 'install', commands, shown }:
 *   apt-get update, then apt-get install of the whole list (the same as .ci/run installs)
 * - otherwise: { action: 'stop', message } naming what is missing and the one command to run.
 */
export function decide({ missing, root, sudo, apt, packages }) {
  if (missing.length === 0) return { action: 'ok' };
  const what = missing.map((m) => m.what).join(', ');
  const install = ['apt-get', 'install', '-y', '--no-install-recommends', ...packages];
  if (!apt) {
    return {
      action: 'stop',
      message: `npm test: missing ${what}. This is not a Debian-like system (no apt-get): install the equivalents of ${packages.join(' ')}`,
    };
  }
  const prefix = root ? [] : ['sudo'];
  const commands = [
    [...prefix, 'apt-get', 'update'],
    [...prefix, ...install],
  ];
  const shown = commands.map((c) => c.join(' ')).join(' && ');
  if (root || sudo)
    return { action: 'install', commands, shown, message: `npm test: missing ${what}; installing the test dependencies:\n  ${shown}` };
  return {
    action: 'stop',
    message: `npm test: missing ${what}. Install the test dependencies (as root, or with sudo), then run npm test again:\n  ${shown}`,
  };
}
