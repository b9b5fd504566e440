// Import boundaries are the point of this config: hardware libraries live in src/hal/**,
// process/socket access in src/hal/** and src/platform/** (OS services that are not hardware:
// sd_notify, TCP connect, running a program), both in the simulator, and the pipeline does no
// I/O at all.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// socket.io-client talks to a device's own service (the HN-212 chip reader): a device library like the rest.
const HARDWARE = [
  'serialport',
  '@serialport/*',
  'node-hid',
  'onoff',
  'usb',
  'escpos',
  'escpos-usb',
  '@node-escpos/*',
  'node-libcamera',
  'smartcard',
  'socket.io-client',
];
/** Native bindings to OS services (not devices): src/platform/** may load them. */
const OS_SERVICES = ['sd-notify'];
const PROCESS_AND_SOCKETS = ['child_process', 'node:child_process', 'net', 'node:net', 'dgram', 'node:dgram'];

// no-restricted-imports does not see `await import('net')`; this selector does.
const dynamicImportOf = (names) => ({
  selector: `ImportExpression[source.value=/^(${names.map((n) => n.replace(/[/*@.-]/g, (c) => (c === '*' ? '.*' : `\\${c}`))).join('|')})$/]`,
  message: 'Only src/hal/**, src/platform/** and hw-sim/** may load hardware, process or socket modules, dynamically or not.',
});

const hardwareRule = {
  patterns: [
    {
      group: [...HARDWARE, ...OS_SERVICES, ...PROCESS_AND_SOCKETS],
      message:
        'Only src/hal/**, src/platform/** and hw-sim/** may touch hardware, processes or sockets: put a device behind a port in src/hal/, an OS service in src/platform/.',
    },
  ],
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'artifacts/'] },
  // hw-sim's fake rpicam-vid is a Node script without an extension.
  { files: ['hw-sim/bin/rpicam-vid'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // A promise nobody awaits loses its rejection: the daemon must say `void` where it means it.
    files: ['src/**/*.ts', 'hw-sim/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/no-floating-promises': 'error' },
  },
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        performance: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/hal/**', 'src/platform/**'],
    rules: {
      'no-restricted-imports': ['error', hardwareRule],
      'no-restricted-syntax': ['error', dynamicImportOf([...HARDWARE, ...OS_SERVICES, ...PROCESS_AND_SOCKETS])],
    },
  },
  {
    // OS services may spawn and open sockets, but a device library belongs behind a port in src/hal/.
    files: ['src/platform/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: HARDWARE, message: 'src/platform/** is for OS services, not devices: put a device behind a port in src/hal/.' }] },
      ],
      'no-restricted-syntax': [
        'error',
        { ...dynamicImportOf(HARDWARE), message: 'src/platform/** is for OS services, not devices: put a device behind a port in src/hal/.' },
      ],
    },
  },
  {
    files: ['src/pipeline/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                'fs',
                'fs/*',
                'os',
                'path',
                'http',
                'https',
                'http2',
                'tls',
                'dns',
                'worker_threads',
                'perf_hooks',
                'stream',
                'timers',
                'timers/*',
                ...PROCESS_AND_SOCKETS,
                ...HARDWARE,
              ],
              message: 'src/pipeline/** is pure: no Node I/O. Take what you need as an injected dependency.',
            },
            {
              group: ['mqtt', 'pino', 'pino-*', 'yaml', '**/mqtt/**', '**/log/**', '**/config/load*'],
              message: 'src/pipeline/** is pure: it reaches I/O only through injected ports.',
            },
            { group: ['**/hal/*', '!**/hal/ports.js'], message: 'src/pipeline/** may import only the port types from src/hal/ports.ts.' },
          ],
        },
      ],
      // Time comes through the injected Clock so tests can drive it with SimulatedClock.
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate', 'Date', 'performance', 'process', 'globalThis', 'fetch'],
      'no-restricted-syntax': ['error', { selector: 'ImportExpression', message: 'src/pipeline/** is pure: no dynamic imports.' }],
    },
  },
);
