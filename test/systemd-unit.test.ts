import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';

const UNIT = 'systemd/kioskd.service';

test('systemd-analyze verify finds nothing wrong with the unit beyond paths and users this machine lacks', (t) => {
  const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
  if (r.error) throw new Error('systemd-analyze is not installed: run `sudo apt-get install -y systemd`');
  const complaints = `${r.stdout}${r.stderr}`
    .split('\n')
    .filter((l) => l.trim() !== '')
    .filter((l) => !/No such file or directory|is not executable|Failed to resolve user|Failed to resolve group|user .* not found|group .* not found/i.test(l));
  t.deepEqual(complaints, []);
});

test('the unit runs node directly as a notify service with a watchdog and never restart-loops on bad config', (t) => {
  const unit = readFileSync(UNIT, 'utf8');
  const directive = (k: string) => unit.match(new RegExp(`^${k}=(.*)$`, 'm'))?.[1];
  t.is(directive('Type'), 'notify');
  t.regex(directive('ExecStart') ?? '', /^\/usr\/bin\/node .*\/dist\/src\/main\.js --config \/etc\/kioskd\/config\.yaml$/);
  t.notRegex(directive('ExecStart') ?? '', /\bnpm\b/);
  t.true(existsSync('src/main.ts'), 'ExecStart points at the build of src/main.ts');
  t.truthy(directive('WatchdogSec'));
  t.is(directive('Restart'), 'on-failure');
  t.is(directive('RestartPreventExitStatus'), '78');
  t.is(directive('User'), 'kioskd');
  t.regex(unit, /^#LoadCredential=mqtt-password:\/etc\/kioskd\/secrets\/mqtt-password$/m, 'documented, enabled only where a password exists');
});
