/**
 * hw-sim's technician web panel in a real browser (Debian's Chromium through playwright-core),
 * on a whole virtual kiosk with the real daemon and its face models: a check-in done only by
 * clicking, a printer fault seen in the page, and requests from other sites refused.
 * Screenshots of the key moments go to artifacts/web-panel/, with the face photos (real people)
 * and the ticket images (they print the patient's name) masked.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdirSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { startKioskSim, type KioskSim } from '../../hw-sim/kiosk.js';
import { until } from '../../hw-sim/wait.js';
import { aheadText, clockMoveOf, timeFromHealth } from '../../hw-sim/web/kiosk-clock.js';
import { parseRawBytes } from '../../hw-sim/web/raw-bytes.js';
import { startWebPanel, type WebPanel } from '../../hw-sim/web/server.js';
import { launchChromium } from '../helpers/browser.js';

/*
 * Page-side callbacks are typed by these few declarations (the project compiles without DOM
 * types). They must not define named functions: tsx wraps those in a helper the page lacks,
 * so longer page code is passed as a string to page.evaluate.
 */
declare const document: {
  querySelector(selector: string): { textContent: string | null; complete: boolean; naturalWidth: number; naturalHeight: number } | null;
};

const ARTIFACTS = fileURLToPath(new URL('../../artifacts/web-panel/', import.meta.url));

let k: KioskSim | undefined;
let panel: WebPanel | undefined;
let browser: Browser | undefined;

test.before(async () => {
  // The browser first: without it nothing here can run, and the message says how to install it.
  browser = await launchChromium();
  k = await startKioskSim({
    // A free port: another test file may start its broker at the same moment.
    brokerPort: 0,
    configOverrides: {
      // One health at start only: a check-in count on the page can come only from the ticket's event.
      mqtt: { healthIntervalSec: 3600 },
      kiosk: { resultHoldMs: 300 },
      hal: { card: { duplicateWindowSec: 1 } },
      checkin: { consentTimeoutSec: 30 },
    },
  });
  panel = await startWebPanel({ sim: k.sim, port: 0, advanceClock: (m) => k!.advanceClock(m) });
  mkdirSync(ARTIFACTS, { recursive: true });
});

test.after.always(async () => {
  await browser?.close();
  await panel?.close();
  await k?.stop();
});

/** A fresh tab on the panel, with the page's own errors collected so a broken script fails the test. */
async function openPanel(t: ExecutionContext, url = panel!.url): Promise<{ page: Page; errors: string[] }> {
  const page = await browser!.newPage({ viewport: { width: 1440, height: 1100 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    // A refused action is an HTTP error the browser logs; the page shows it, and tests check that.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });
  t.teardown(() => page.close());
  await page.goto(url);
  await page.locator('[data-testid="link"][data-link="live"]').waitFor({ timeout: 10_000 });
  return { page, errors };
}

async function waitText(page: Page, testid: string, re: RegExp, timeout = 20_000): Promise<string> {
  await page.waitForFunction(
    ([id, source, flags]) => new RegExp(source, flags).test(document.querySelector(`[data-testid="${id}"]`)?.textContent ?? ''),
    [testid, re.source, re.flags] as const,
    { timeout },
  );
  return (await page.getByTestId(testid).textContent()) ?? '';
}

/**
 * The face thumbnails are real people's photos, and a ticket prints the (sample) patient's name:
 * both are masked, since screenshots leave the machine as CI artifacts. The ticket's number
 * stays readable in the page's "Last check-in" box.
 */
async function shot(t: ExecutionContext, page: Page, name: string): Promise<void> {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true, mask: [page.locator('[data-testid^="face-"] img'), page.getByTestId('ticket-img')] });
  t.log(`screenshot: ${path}`);
}

test.serial('a full check-in done by clicking: face 1, sample 1, Scan, consent Yes; the printed ticket shows as an image', async (t) => {
  const { page, errors } = await openPanel(t);
  await waitText(page, 'kiosk-mode', /^idle$/);
  t.is(await page.getByTestId('kiosk-status').textContent(), 'online');
  t.is(await waitText(page, 'checkins-today', /^\d+$/), '0');
  t.regex((await page.getByTestId('port-printer').textContent()) ?? '', /^ready/);
  await shot(t, page, '1-idle');

  // Every mode/step the page shows from here on, in order, as a technician watching would see them.
  await page.evaluate(`
    window.seen = [];
    const mode = document.getElementById('kiosk-mode');
    const step = document.getElementById('kiosk-step');
    const note = () => {
      const s = mode.textContent + '/' + step.textContent;
      if (window.seen.at(-1) !== s) window.seen.push(s);
    };
    for (const el of [mode, step]) new MutationObserver(note).observe(el, { childList: true, characterData: true, subtree: true });
  `);

  await page.getByTestId('face-1').click();
  await waitText(page, 'camera-shows', /^sample-1$/);
  await page.getByTestId('sample-select').selectOption('1');
  t.regex((await page.getByTestId('sample-select').locator('option:checked').textContent()) ?? '', /^Mẫu 1 · \*{8}0001$/);
  const from = k!.watch.mark();
  await page.getByTestId('scan').click();
  await waitText(page, 'action-result', /scanned sample 1/);
  await waitText(page, 'kiosk-mode', /^in-session$/, 10_000);

  // The kiosk asks for consent by blinking the ready lamp.
  await page.locator('[data-testid="lamp-ready"][data-state="blink"]').waitFor({ timeout: 15_000 });
  t.is(await page.getByTestId('kiosk-step').textContent(), 'consent');
  await shot(t, page, '2-consent-asked');
  await page.getByTestId('btn-consent-yes').click();
  await waitText(page, 'action-result', /pressed consent-yes/);

  const ticket = page.getByTestId('ticket-img').first();
  await ticket.waitFor({ timeout: 30_000 });
  const loaded = await page.waitForFunction(
    () => {
      const img = document.querySelector('[data-testid="ticket-img"]');
      return img?.complete && img.naturalWidth ? { w: img.naturalWidth, h: img.naturalHeight } : null;
    },
    undefined,
    { timeout: 15_000 },
  );
  const size = (await loaded.jsonValue())!;
  t.is(size.w, 576, 'the picture is the 80 mm paper width the virtual printer rendered');
  t.true(size.h > 200, `a whole ticket is taller than a strip (${size.h} px)`);

  const outcome = await waitText(page, 'last-outcome', /\S/, 30_000);
  const number = await waitText(page, 'last-number', /^A\d{3}$/);
  t.is(outcome, 'printed');
  const end = await k!.waitEvent('checkin.completed', () => true, 5000, from);
  t.is(number, String(end['number']), 'the page shows the number the kiosk gave');
  t.is(await page.getByTestId('ticket-1').getAttribute('data-complete'), 'true');
  // The kiosk's next health is an hour away: the page counts the ticket itself, as kioskd monitor does.
  await waitText(page, 'checkins-today', /^1$/, 10_000);
  await waitText(page, 'kiosk-mode', /^idle$/);
  await shot(t, page, '3-ticket-printed');

  const seen = await page.evaluate<string[]>('window.seen');
  t.log(`mode/step as the page showed them: ${seen.join(' → ')}`);
  t.true(seen.includes('in-session/consent'), seen.join(' → '));
  t.true(
    seen.some((s) => s.startsWith('in-session/') && s !== 'in-session/consent'),
    'steps after consent were shown',
  );
  t.is(seen.at(-1), 'idle/—');

  // The traffic pane saw the check-in's events (only masked card numbers travel there).
  const topics = await page.evaluate<string[]>(`[...document.querySelectorAll('[data-testid="traffic-rows"] tr')].map((r) => r.dataset.topic)`);
  t.true(topics.includes(`${k!.base}/event/checkin.started`));
  t.true(topics.includes(`${k!.base}/event/checkin.completed`));

  // "Cancel session" ends the check-in in progress: the panel names its session, as kioskd requires.
  const cancelFrom = k!.watch.mark();
  await page.getByTestId('sample-select').selectOption('2');
  await page.getByTestId('scan').click();
  await page.locator('[data-testid="lamp-ready"][data-state="blink"]').waitFor({ timeout: 15_000 });
  await page.getByTestId('daemon-cancel').click();
  await waitText(page, 'action-result', /kioskd cancel: /);
  t.like(await k!.waitEvent('checkin.failed', () => true, 10_000, cancelFrom), { outcome: 'cancelled' });
  await waitText(page, 'kiosk-mode', /^idle$/, 10_000);
  t.deepEqual(errors, []);
});

test.serial('paper out from the printer toggle: the page shows the printer port faulted and the kiosk out of service, then back', async (t) => {
  const { page, errors } = await openPanel(t);
  await waitText(page, 'kiosk-mode', /^idle$/);
  await page.getByTestId('printer-paper-out').click();
  await waitText(page, 'action-result', /printer: paper out/);
  t.regex(await waitText(page, 'port-printer', /paper-out/, 10_000), /^faulted \(paper-out\)$/);
  await waitText(page, 'kiosk-mode', /^out-of-service$/, 10_000);
  await page.locator('[data-testid="lamp-error"]:not([data-state="off"])').waitFor({ timeout: 10_000 });
  t.regex((await page.getByTestId('printer-summary').textContent()) ?? '', /paper out/);
  await shot(t, page, '4-paper-out');

  await page.getByTestId('printer-paper-ok').click();
  await waitText(page, 'port-printer', /^ready$/, 10_000);
  await waitText(page, 'kiosk-mode', /^idle$/, 10_000);
  await shot(t, page, '5-paper-back');
  t.deepEqual(errors, []);
});

test.serial('the raw-bytes box reaches the daemon, and a refused action says why in the page', async (t) => {
  const { page, errors } = await openPanel(t);
  await waitText(page, 'kiosk-mode', /^idle$/);
  const from = k!.watch.mark();
  await page.getByTestId('raw-bytes').fill('KHONG PHAI CCCD|\\x41\\r\\n');
  await page.getByTestId('send-raw').click();
  await waitText(page, 'action-result', /sent 19 bytes/);
  const rejected = await k!.waitEvent('card.rejected', () => true, 10_000, from);
  t.is(rejected['bytes'], 17, 'the daemon got the text, the escaped byte, and a CR LF terminating the line');
  await page.locator(`[data-testid="traffic-rows"] tr[data-topic="${k!.base}/event/card.rejected"]`).first().waitFor({ timeout: 10_000 });

  // A bad escape is refused before anything is sent.
  await page.getByTestId('raw-bytes').fill('\\q');
  await page.getByTestId('send-raw').click();
  await waitText(page, 'action-result', /unknown escape \\q/);
  t.is(await page.getByTestId('action-result').getAttribute('data-ok'), 'false');

  await page.getByTestId('scanner-plug').click();
  await waitText(page, 'scanner-state', /^unplugged/);
  await page.getByTestId('scan').click();
  await waitText(page, 'action-result', /scanner is unplugged/);
  t.is(await page.getByTestId('action-result').getAttribute('data-ok'), 'false');
  await shot(t, page, '6-scanner-unplugged');
  await page.getByTestId('scanner-plug').click();
  await waitText(page, 'scanner-state', /^plugged in/);
  t.true(k!.sim.scanner.plugged);
  // The daemon finds the scanner again by itself, and the page shows the kiosk ready.
  await waitText(page, 'port-card', /^ready$/, 15_000);
  await waitText(page, 'kiosk-mode', /^idle$/);
  t.deepEqual(errors, []);
});

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A request as any client can make it, with the headers we choose (fetch will not let us set Host). */
function send(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  const u = new URL(path, panel!.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method, headers }, (res) => {
      // An event stream never ends: its first chunk is all we read.
      const stream = /^text\/event-stream/.test(res.headers['content-type'] ?? '');
      let text = '';
      res.setEncoding(stream ? 'utf8' : 'latin1');
      res.on('data', (c: string) => {
        text += c;
        if (stream) res.destroy();
      });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
const post = (path: string, headers: Record<string, string>, body: unknown): Promise<Answer> => send('POST', path, headers, body);

test.serial('POSTs from another web page (foreign Origin, cross-site fetch, or a rebinding Host) are refused and change nothing', async (t) => {
  const own = new URL(panel!.url).origin;
  const json = { 'content-type': 'application/json' };
  const foreign = await fetch(new URL('/api/scanner', panel!.url), {
    method: 'POST',
    headers: { ...json, origin: 'http://evil.example' },
    body: JSON.stringify({ plugged: false }),
  });
  t.is(foreign.status, 403);
  t.regex(await foreign.text(), /cross-origin/);
  t.true(k!.sim.scanner.plugged, 'the scanner was not unplugged');

  // A browser that leaves Origin out still says where the request comes from.
  const crossSite = await post('/api/scanner', { ...json, 'sec-fetch-site': 'cross-site' }, { plugged: false });
  t.is(crossSite.status, 403);
  t.regex(crossSite.body, /cross-site request refused/);
  t.true(k!.sim.scanner.plugged);

  // DNS rebinding: the page's own origin is the rebound name, so Origin matches Host and only the Host check can refuse.
  const evilHost = `evil.example:${panel!.port}`;
  for (const origin of [`http://${evilHost}`, own, undefined]) {
    const rebound = await post('/api/scanner', { ...json, host: evilHost, ...(origin ? { origin } : {}) }, { plugged: false });
    t.is(rebound.status, 403, `Origin ${origin ?? '(none)'}`);
    t.regex(rebound.body, /unknown Host/);
  }
  t.true(k!.sim.scanner.plugged);
  // A form post cannot send JSON; anything else is refused too.
  const form = await post('/api/scanner', { 'content-type': 'text/plain', origin: own }, { plugged: false });
  t.is(form.status, 415);
  t.true(k!.sim.scanner.plugged);

  // The panel's own origin is served (the control that the refusals above are about the origin).
  const ok = await fetch(new URL('/api/bhyt', panel!.url), {
    method: 'POST',
    headers: { ...json, origin: own },
    body: JSON.stringify({ fault: 'none' }),
  });
  t.is(ok.status, 200);
  t.like(await ok.json(), { ok: true });
});

test.serial('GETs through a rebinding Host are refused: no snapshot, event stream, ticket or face for another site', async (t) => {
  if (k!.sim.printer.tickets.length === 0) {
    // Run alone (--match): a test ticket from the daemon, asked for as the page would.
    const printed = await post('/api/daemon', { 'content-type': 'application/json', origin: new URL(panel!.url).origin }, { command: 'print-test' });
    t.is(printed.status, 200, printed.body);
    await until(() => k!.sim.printer.tickets.length > 0, 15_000, 'the test ticket');
  }
  const ticket = k!.sim.printer.tickets[0];
  const paths = ['/api/snapshot', '/events', `/tickets/${ticket!.index}.png`, '/faces/1.jpg', '/'];
  for (const path of paths) {
    const rebound = await send('GET', path, { host: `evil.example:${panel!.port}` });
    t.is(rebound.status, 403, path);
    t.regex(rebound.body, /unknown Host/, path);
    t.false(/image|event-stream/.test(rebound.headers['content-type'] ?? ''), path);
  }
  // The same requests with the panel's own Host are served, and only to pages of the panel's own origin.
  for (const path of paths) {
    const own = await send('GET', path, {});
    t.is(own.status, 200, path);
    t.is(own.headers['cross-origin-resource-policy'], 'same-origin', path);
  }
  const png = await send('GET', `/tickets/${ticket!.index}.png`, {});
  t.is(png.headers['content-type'], 'image/png');
  t.true(png.body.startsWith('\x89PNG'), 'a PNG');
});

/** "2026-11-25 07:00" on the hospital's clocks, as the page writes kioskd's time. */
function hospitalMinute(ms: number): string {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Asia/Ho_Chi_Minh',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(new Date(ms))
      .map((x) => [x.type, x.value]),
  );
  return `${p['year']}-${p['month']}-${p['day']} ${p['hour']}:${p['minute']}`;
}

/** The first health kioskd publishes from `from` on whose time is at least `aheadMs` ahead of this machine's; its ts. */
async function healthAhead(from: number, aheadMs: number): Promise<number> {
  const tsOf = (payload: string): number => Date.parse(String((JSON.parse(payload) as Record<string, unknown>)['ts']));
  const m = await k!.watch.waitFor((m) => m.topic === `${k!.base}/health` && tsOf(m.payload) - Date.now() >= aheadMs, 10_000, from);
  return tsOf(m.payload);
}

// Last of the serial tests: kioskd's day moves on, and the others count on today's tickets.
test.serial('the Clock group moves kioskd\'s time: "+1 h" shows an hour ahead, as kioskd itself then reports; "to 07:00" shows 07:00', async (t) => {
  const { page, errors } = await openPanel(t);
  await waitText(page, 'kiosk-mode', /^idle$/);
  t.regex(await waitText(page, 'clock-now', /^kioskd's clock/), /not heard yet|on time$/);
  t.false(await page.getByTestId('clock-1h').isDisabled());

  const from = k!.watch.mark();
  await page.getByTestId('clock-1h').click();
  await waitText(page, 'action-result', /kioskd's clock now reads/);
  const line = await waitText(page, 'clock-now', /— 1 h ahead$/);
  t.regex(line, /^kioskd's clock: \d{4}-\d\d-\d\d \d\d:\d\d \(Asia\/Ho_Chi_Minh\) — 1 h ahead$/);
  // kioskd says the same to central monitoring: its next health is stamped an hour ahead.
  const ts = await healthAhead(from, 59 * 60_000);
  t.true(ts - Date.now() < 61 * 60_000, `one hour, not more (${ts - Date.now()} ms ahead)`);
  const shown = /: (\S+ \S+) \(/.exec((await page.getByTestId('clock-now').textContent()) ?? '')?.[1];
  t.true([hospitalMinute(ts), hospitalMinute(ts + 60_000)].includes(shown ?? ''), `the page shows ${shown}, kioskd reported ${hospitalMinute(ts)}`);
  await shot(t, page, '7-clock-plus-1h');

  await page.getByTestId('clock-to').fill('07:00');
  t.is(await page.getByTestId('clock-to-go').textContent(), 'to 07:00');
  await page.getByTestId('clock-to-go').click();
  // Waits for this move's answer: the "+1 h" answer is still on the page until it comes.
  t.regex(await waitText(page, 'action-result', /kioskd's clock now reads .* 07:00:00 \(Asia\/Ho_Chi_Minh\), /), / 07:00:00 \(Asia\/Ho_Chi_Minh\), /);
  const at7 = await waitText(page, 'clock-now', / 07:00 \(Asia\/Ho_Chi_Minh\) — /);
  t.regex(at7, /ahead$/);
  // The answer above is kioskd's own reading of its clock. Its next health is not awaited here:
  // with a 1-hour health interval, a move to 07:00 fires it only when it is an hour or more,
  // which depends on the time of day the test runs (from 05:00 to 06:00 in Hà Nội it is not).

  // A request the page would never send is refused and moves nothing.
  const own = new URL(panel!.url).origin;
  const bad = await post('/api/clock', { 'content-type': 'application/json', origin: own }, { toLocal: '25:00' });
  t.is(bad.status, 400);
  t.regex(bad.body, /HH:MM/);
  await shot(t, page, '8-clock-to-0700');
  t.deepEqual(errors, []);
});

test.serial(
  'without a kioskd started by hw-sim (--no-daemon) the Clock group says so, its buttons are disabled, and the action refuses',
  async (t) => {
    const bare = await startWebPanel({ sim: k!.sim, port: 0 });
    t.teardown(() => bare.close());
    const { page, errors } = await openPanel(t, bare.url);
    await waitText(page, 'clock-note', /kioskd not running/);
    for (const id of ['clock-1min', 'clock-1h', 'clock-1d', 'clock-to-go']) t.true(await page.getByTestId(id).isDisabled(), id);
    const answer = await fetch(new URL('/api/clock', bare.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: new URL(bare.url).origin },
      body: JSON.stringify({ ms: 3_600_000 }),
    });
    t.is(answer.status, 409);
    t.regex(((await answer.json()) as { error: string }).error, /not running under hw-sim \(started with --no-daemon\)/);
    t.deepEqual(errors, []);
  },
);

test('raw bytes: escapes and hex become the bytes a scanner would send', (t) => {
  t.deepEqual(parseRawBytes('Ab\\r\\n', 'text'), Buffer.from('Ab\r\n'));
  t.deepEqual(parseRawBytes('\\x00\\xFF\\\\Đ', 'text'), Buffer.concat([Buffer.of(0, 0xff, 0x5c), Buffer.from('Đ', 'utf8')]));
  t.deepEqual(parseRawBytes('0d 0A,0x41', 'hex'), Buffer.of(0x0d, 0x0a, 0x41));
  t.throws(() => parseRawBytes('abc', 'hex'), { message: /even number/ });
  t.throws(() => parseRawBytes('zz', 'hex'), { message: /only 0-9/ });
  t.throws(() => parseRawBytes('\\x4', 'text'), { message: /two hex digits/ });
  t.throws(() => parseRawBytes('end\\', 'text'), { message: /lone/ });
});

test('clock: the offset as the page words it, the moves a request may ask for, and which health reports tell the time', (t) => {
  t.is(aheadText(0), 'on time');
  t.is(aheadText(3_600_000 - 12), '1 h ahead', 'a health report a few ms late is still an hour');
  t.is(aheadText(86_400_000 + 6 * 3_600_000), '1 d 6 h ahead');
  t.is(aheadText(14 * 3_600_000 + 23 * 60_000), '14 h 23 min ahead');
  t.is(aheadText(40_000), '40 s ahead');
  t.is(aheadText(-120_000), '2 min behind');
  t.deepEqual(clockMoveOf({ ms: 60_000 }), { ms: 60_000 });
  t.deepEqual(clockMoveOf({ toLocal: '07:00' }), { toLocal: '07:00' });
  for (const bad of [
    {},
    { ms: 0 },
    { ms: -5 },
    { ms: 1.5 },
    { ms: '60000' },
    { toLocal: '7:00' },
    { toLocal: '24:00' },
    { ms: 1000, toLocal: '07:00' },
  ]) {
    t.is(typeof clockMoveOf(bad), 'string', JSON.stringify(bad));
  }
  const heardAt = Date.parse('2026-11-24T00:00:00.000Z');
  t.like(timeFromHealth({ ts: '2026-11-24T01:00:00.040Z' }, heardAt), { offsetMs: 3_600_000, heardAt, via: 'health' });
  t.is(timeFromHealth({ uptime_s: 3 }, heardAt), null);
  t.is(timeFromHealth(null, heardAt), null);
});
