import test, { type ExecutionContext } from 'ava';

/**
 * A test that needs data outside the repository (../shared/faces, ../shared/models): in CI a
 * missing piece is a failure that says what is missing; elsewhere a skip that says why in its title.
 */
export function testNeeding(missing: string | null, title: string, fn: (t: ExecutionContext) => Promise<void> | void): void {
  if (missing === null) test(title, fn);
  else if (process.env['CI']) test(title, (t) => t.fail(`CI needs ${missing}`));
  else test.skip(`${title} [skipped: ${missing}]`, fn);
}
