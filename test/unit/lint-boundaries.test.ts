import test from 'ava';
import { ESLint } from 'eslint';

// The boundaries are checked on snippets that are not files of the project: without type
// information (the project's floating-promise rule needs it and is not what is tested here).
const eslint = new ESLint({
  overrideConfig: [
    {
      files: ['**/*.ts'],
      languageOptions: { parserOptions: { projectService: false } },
      rules: { '@typescript-eslint/no-floating-promises': 'off' },
    },
  ],
});

async function restrictedIn(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: file });
  return (result?.messages ?? [])
    .filter((m) => ['no-restricted-imports', 'no-restricted-globals', 'no-restricted-syntax'].includes(m.ruleId ?? ''))
    .map((m) => m.message);
}

test('hardware, process and socket modules are refused outside src/hal and hw-sim', async (t) => {
  for (const mod of ['serialport', 'node-hid', 'onoff', 'usb', 'smartcard', 'socket.io-client', 'node:child_process', 'net']) {
    const msgs = await restrictedIn('src/mqtt/x.ts', `import m from '${mod}';\nexport default m;\n`);
    t.is(msgs.length, 1, `${mod} should be refused in src/mqtt`);
    t.regex(msgs[0]!, /Only src\/hal/);
    t.deepEqual(await restrictedIn('src/hal/x.ts', `import m from '${mod}';\nexport default m;\n`), [], `${mod} is allowed in src/hal`);
    t.deepEqual(await restrictedIn('hw-sim/x.ts', `import m from '${mod}';\nexport default m;\n`), [], `${mod} is allowed in hw-sim`);
  }
});

test('loading those modules dynamically is refused too', async (t) => {
  t.is((await restrictedIn('src/mqtt/x.ts', "export const m = await import('node:child_process');\n")).length, 1);
  t.is((await restrictedIn('src/config/x.ts', "export const m = await import('@serialport/parser-readline');\n")).length, 1);
  t.deepEqual(await restrictedIn('src/hal/x.ts', "export const m = await import('node-hid');\n"), []);
  t.is((await restrictedIn('src/chip/x.ts', "export const m = await import('socket.io-client');\n")).length, 1);
  t.deepEqual(await restrictedIn('src/hal/chip/x.ts', "export const m = await import('socket.io-client');\n"), []);
  t.deepEqual(await restrictedIn('src/mqtt/x.ts', "export const m = await import('mqtt');\n"), []);
});

test('src/pipeline imports no Node I/O, no drivers, and takes time only from the injected clock', async (t) => {
  for (const mod of ['node:fs', 'fs', 'tls', 'mqtt', 'pino', '../hal/factory.js', 'node:worker_threads']) {
    t.is(
      (await restrictedIn('src/pipeline/x.ts', `import m from '${mod}';\nexport default m;\n`)).length,
      1,
      `${mod} should be refused in src/pipeline`,
    );
  }
  t.deepEqual(await restrictedIn('src/pipeline/x.ts', `import type { PortState } from '../../hal/ports.js';\nexport type P = PortState;\n`), []);
  t.is((await restrictedIn('src/pipeline/x.ts', 'export const t = setTimeout(() => {}, 1);\n')).length, 1);
  t.is((await restrictedIn('src/pipeline/x.ts', 'export const n = Date.now();\n')).length, 1);
  t.is((await restrictedIn('src/pipeline/x.ts', 'export const s = globalThis.setTimeout;\n')).length, 1);
  t.is((await restrictedIn('src/pipeline/x.ts', "export const m = await import('./x.js');\n")).length, 1);
});

test('src/platform (OS services) may spawn and open sockets, but loads no device library', async (t) => {
  for (const mod of ['node:child_process', 'net', 'node:dgram']) {
    t.deepEqual(await restrictedIn('src/platform/x.ts', `import m from '${mod}';\nexport default m;\n`), [], `${mod} is allowed in src/platform`);
  }
  t.deepEqual(await restrictedIn('src/platform/x.ts', "export const m = await import('sd-notify');\n"), []);
  for (const mod of ['serialport', 'node-hid', 'onoff', 'usb', 'socket.io-client']) {
    const msgs = await restrictedIn('src/platform/x.ts', `import m from '${mod}';\nexport default m;\n`);
    t.is(msgs.length, 1, `${mod} should be refused in src/platform`);
    t.regex(msgs[0]!, /src\/platform\/\*\* is for OS services/);
  }
  t.is((await restrictedIn('src/platform/x.ts', "export const m = await import('node-hid');\n")).length, 1);
  // and the OS-service binding stays out of everything else
  t.is((await restrictedIn('src/mqtt/x.ts', "export const m = await import('sd-notify');\n")).length, 1);
});
