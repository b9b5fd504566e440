import { ConfigError, parseConfig } from '../../src/config/load.js';

/** Every problem the loader lists for this YAML (none: it loads). */
export function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): { path: string; message: string }[] {
  try {
    parseConfig(text, 'test.yaml', { env, hostname: () => 'h' });
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}
