// Import boundaries are the point of this config: hardware libraries and process/socket
// access live in src/hal/** (and the simulator), and the pipeline does no I/O at all.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const HARDWARE = ['serialport', '@serialport/*', 'node-hid', 'onoff', 'usb', 'escpos', 'escpos-usb', '@node-escpos/*', 'node-libcamera', 'sd-notify'];
const PROCESS_AND_SOCKETS = ['child_process', 'node:child_process', 'net', 'node:net', 'dgram', 'node:dgram'];

const hardwareRule = {
  patterns: [
    {
      group: [...HARDWARE, ...PROCESS_AND_SOCKETS],
      message: 'Only src/hal/** and hw-sim/** may touch hardware, processes or sockets: put it behind a port in src/hal/.',
    },
  ],
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', performance: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/hal/**'],
    rules: { 'no-restricted-imports': ['error', hardwareRule] },
  },
  {
    files: ['src/pipeline/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', 'fs', 'fs/*', 'os', 'path', 'http', 'https', 'worker_threads', 'perf_hooks', 'stream', ...PROCESS_AND_SOCKETS, ...HARDWARE], message: 'src/pipeline/** is pure: no Node I/O. Take what you need as an injected dependency.' },
            { group: ['mqtt', 'pino', 'pino-*', 'yaml', '**/mqtt/**', '**/log/**', '**/config/load*'], message: 'src/pipeline/** is pure: it reaches I/O only through injected ports.' },
            { group: ['**/hal/*', '!**/hal/ports.js'], message: 'src/pipeline/** may import only the port types from src/hal/ports.ts.' },
          ],
        },
      ],
      // Time comes through the injected Clock so tests can drive it with SimulatedClock.
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'Date', 'performance', 'process'],
    },
  },
);
