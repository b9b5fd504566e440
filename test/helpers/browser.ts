import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium driven by playwright-core (Playwright's own browser download needs the
 * network). $KIOSKD_CHROMIUM points elsewhere. A missing browser fails the test, never skips it.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env['KIOSKD_CHROMIUM'] ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: apt-get install chromium (or set KIOSKD_CHROMIUM to a Chromium binary)`);
  }
  // --no-sandbox: containers and CI runners usually forbid the user namespaces the sandbox needs.
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
}
