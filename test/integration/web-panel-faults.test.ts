/**
 * The web panel shows the gateway's and the identity service's faults as the simulator has
 * them, whoever set them: a change made on hw-sim's console (or by a script) after the panel's
 * own must show, not what the panel last sent. No browser and no kioskd: the virtual kiosk's
 * devices and the panel's snapshot.
 */
import test from 'ava';
import type { Browser } from 'playwright-core';
import { runLine, type ConsoleDevices } from '../../hw-sim/console.js';
import { startSim, type Sim } from '../../hw-sim/sim.js';
import { startWebPanel, type WebPanel } from '../../hw-sim/web/server.js';
import { launchChromium } from '../helpers/browser.js';

let sim: Sim | undefined;
let panel: WebPanel | undefined;
let browser: Browser | undefined;

test.before(async () => {
  sim = await startSim({ brokerPort: 0, scanner: 'tcp', deviceId: 'faults-sim' });
  panel = await startWebPanel({ sim, port: 0 });
});

test.after.always(async () => {
  await browser?.close();
  await panel?.close();
  await sim?.stop();
});

async function post(action: string, body: unknown): Promise<{ status: number; answer: { ok: boolean; message?: string; error?: string } }> {
  const r = await fetch(new URL(`/api/${action}`, panel!.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: new URL(panel!.url).origin },
    body: JSON.stringify(body),
  });
  return { status: r.status, answer: (await r.json()) as { ok: boolean; message?: string; error?: string } };
}

async function snapshot(): Promise<Record<string, unknown>> {
  return (await (await fetch(new URL('/api/snapshot', panel!.url))).json()) as Record<string, unknown>;
}

const console_ = (): ConsoleDevices => ({ sim: sim!, ask: () => Promise.reject(new Error('no kioskd in this test')) });

test.serial('a fault changed on the devices after the panel set one shows in the panel, not the one the panel sent', async (t) => {
  t.is((await post('bhyt', { fault: 'slow' })).status, 200);
  t.is((await post('identity', { fault: 'down' })).status, 200);
  t.like(await snapshot(), { gateway: 'slow', identity: 'down' });
  // What hw-sim's console does for "bhyt down" and "portrait up".
  await sim!.gateway.setFault('down');
  sim!.identity.setFault('none');
  t.like(await snapshot(), { gateway: 'down', identity: 'none' });
});

test.serial("the same through the console's old and canonical spellings, and the panel's canonical actions", async (t) => {
  t.is((await post('bhyt.fault', { fault: 'http-500' })).status, 200);
  t.like(await snapshot(), { gateway: 'http-500' });
  t.is(await runLine('bhyt up', console_()), 'hw-sim: BHYT gateway: working');
  t.regex(await runLine('portrait slow', console_()), /^hw-sim: identity service: slow$/);
  t.like(await snapshot(), { gateway: 'none', identity: 'slow' });
  t.regex(await runLine('portrait up', console_()), /^hw-sim: identity service: working; the portrait of sample 1 is back/);
  t.regex(await runLine('bhyt.fault down', console_()), /^hw-sim: BHYT gateway: down$/);
  t.like(await snapshot(), { gateway: 'down', identity: 'none' });
  t.is(await runLine('bhyt.fault none', console_()), 'hw-sim: BHYT gateway: working');
});

test.serial(
  'in the page: "paper runs out after N bytes" sets the printer fault, and a console change of the gateway shows in its select',
  async (t) => {
    browser = await launchChromium();
    const page = await browser.newPage();
    t.teardown(() => page.close());
    await page.goto(panel!.url);
    await page.locator('[data-testid="link"][data-link="live"]').waitFor({ timeout: 10_000 });
    await page.getByTestId('printer-paper-out-after').fill('2500');
    await page.getByTestId('printer-paper-out-after-set').click();
    await page.locator('[data-testid="action-result"][data-ok="true"]').waitFor({ timeout: 10_000 });
    t.is(await page.getByTestId('action-result').textContent(), 'printer: the paper runs out after 2500 more bytes');
    t.is(sim!.printer.faults.paperOutAfterBytes, 2500);
    sim!.printer.faults = {};

    await page.getByTestId('bhyt-fault').selectOption('slow');
    await page.locator('[data-testid="action-result"]', { hasText: 'BHYT gateway: slow' }).waitFor({ timeout: 10_000 });
    t.is(await runLine('bhyt down', console_()), 'hw-sim: BHYT gateway: down');
    // The page blurs nothing by itself: move the focus away so the select may follow the snapshot.
    await page.getByTestId('device-id').click();
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { document: { getElementById(id: string): { value: string } } }).document.getElementById('bhyt-fault').value ===
        'down',
      undefined,
      { timeout: 10_000 },
    );
    t.pass();
    await runLine('bhyt up', console_());
  },
);
