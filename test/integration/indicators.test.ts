import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { SimulatedClock } from 'xstate';
import { VirtualPanel } from '../../hw-sim/devices/panel.js';
import { indicatorsConfigSchema, type GpioIndicatorsConfig, type SimIndicatorsConfig } from '../../src/hal/indicators/config.js';
import { findGpioChip } from '../../src/hal/indicators/gpio-base.js';
import { createGpioIndicators, type GpioLine, type GpioModule } from '../../src/hal/indicators/gpio.js';
import { absentIndicators } from '../../src/hal/absent.js';
import { createSimIndicators, lineSplitter } from '../../src/hal/indicators/sim.js';
import type { ButtonId, Indicators, Leds, PortState } from '../../src/hal/ports.js';
import { systemClock } from '../../src/util/clock.js';
import { until } from '../helpers/wait.js';

const silent = pino({ level: 'silent' });
const open = (p: Indicators): Promise<void> => p.open(new AbortController().signal);
const reasonOf = (s: PortState): string => ('reason' in s ? s.reason : '');

/** A logger whose JSON lines a test can read. */
function capturingLog(): { log: pino.Logger; lines: () => string[] } {
  const out: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => (out.push(chunk.toString('utf8')), cb()) });
  return { log: pino({ level: 'debug' }, sink), lines: () => out };
}

/** A fake sysfs tree: each chip as [dir, label, base, ngpio]. */
function fakeSysfs(t: import('ava').ExecutionContext, chips: [string, string, number, number][]): string {
  const root = mkdtempSync(join(tmpdir(), 'kioskd-gpio-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const [dir, label, base, ngpio] of chips) {
    mkdirSync(join(root, dir));
    writeFileSync(join(root, dir, 'label'), `${label}\n`);
    writeFileSync(join(root, dir, 'base'), `${base}\n`);
    writeFileSync(join(root, dir, 'ngpio'), `${ngpio}\n`);
  }
  writeFileSync(join(root, 'export'), '');
  return root;
}

const PI4: [string, string, number, number][] = [
  ['gpiochip512', 'pinctrl-bcm2711', 512, 58],
  ['gpiochip570', 'raspberrypi-exp-gpio', 570, 8],
];

// ---- config ----

test('config: absent section → none; gpio and sim get their defaults; bad input is refused', (t) => {
  t.deepEqual(indicatorsConfigSchema.parse(undefined), { driver: 'none' });
  t.deepEqual(indicatorsConfigSchema.parse({ driver: 'gpio', leds: { ready: 17 } }), {
    driver: 'gpio',
    chip: 'auto',
    leds: { ready: 17 },
    buttons: {},
    activeLow: false,
    buttonsActiveLow: true,
    debounceMs: 50,
    blinkMs: 500,
  });
  t.deepEqual(indicatorsConfigSchema.parse({ driver: 'sim', url: 'tcp://127.0.0.1:4000' }), {
    driver: 'sim',
    url: 'tcp://127.0.0.1:4000',
    reconnectBaseMs: 250,
    reconnectMaxMs: 2000,
  });
  t.false(indicatorsConfigSchema.safeParse({ driver: 'sim', url: 'http://127.0.0.1:4000' }).success);
  t.false(indicatorsConfigSchema.safeParse({ driver: 'gpio', leds: { ready: 64 } }).success);
  t.false(indicatorsConfigSchema.safeParse({ driver: 'gpio', leds: { green: 17 } }).success, 'unknown lamp');
  t.false(indicatorsConfigSchema.safeParse({ driver: 'none', chip: 'auto' }).success, 'strict branches');
  const shared = indicatorsConfigSchema.safeParse({ driver: 'gpio', leds: { ready: 17 }, buttons: { help: 17 } });
  t.false(shared.success);
  t.regex(shared.error?.issues[0]?.message ?? '', /GPIO 17 is already used by leds\.ready/);
  t.deepEqual(shared.error?.issues[0]?.path, ['buttons', 'help']);
});

// ---- gpio-base ----

test('gpio-base: "auto" finds the pinctrl chip and its base; a label picks that chip', async (t) => {
  const root = fakeSysfs(t, PI4);
  t.like(await findGpioChip('auto', root), { name: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 });
  t.like(await findGpioChip('raspberrypi-exp-gpio', root), { base: 570, ngpio: 8 });
  const pi5 = fakeSysfs(t, [
    ['gpiochip512', 'gpio-brcmstb@107d508500', 512, 32],
    ['gpiochip571', 'pinctrl-rp1', 571, 54],
  ]);
  t.like(await findGpioChip('auto', pi5), { label: 'pinctrl-rp1', base: 571 });
});

test('gpio-base: no match, several matches, no chips, no sysfs → errors that say what was found', async (t) => {
  const root = fakeSysfs(t, PI4);
  const none = await t.throwsAsync(findGpioChip('pinctrl-rp1', root));
  t.regex(none.message, /no GPIO chip labelled "pinctrl-rp1"/);
  t.regex(none.message, /gpiochip512 "pinctrl-bcm2711" \(base 512\), gpiochip570 "raspberrypi-exp-gpio" \(base 570\)/);
  const two = fakeSysfs(t, [
    ['gpiochip0', 'pinctrl-a', 0, 8],
    ['gpiochip8', 'pinctrl-b', 8, 8],
  ]);
  t.regex((await t.throwsAsync(findGpioChip('auto', two))).message, /several GPIO chips labelled "pinctrl-…".*pinctrl-a.*pinctrl-b/);
  const empty = fakeSysfs(t, []);
  t.regex((await t.throwsAsync(findGpioChip('auto', empty))).message, /found: none/);
  t.regex((await t.throwsAsync(findGpioChip('auto', join(empty, 'missing')))).message, /cannot read .*missing/);
  // A chip whose base cannot be read is skipped rather than taken as base 0.
  const broken = fakeSysfs(t, [['gpiochip512', 'pinctrl-bcm2711', 512, 58]]);
  rmSync(join(broken, 'gpiochip512', 'base'));
  t.regex((await t.throwsAsync(findGpioChip('auto', broken))).message, /found: none/);
});

// ---- gpio driver ----

interface FakePin {
  readonly n: number;
  readonly direction: string;
  readonly edge: string;
  readonly activeLow: boolean | undefined;
  readonly writes: number[];
  value: 0 | 1;
  watcher: ((err: Error | null | undefined, v: 0 | 1) => void) | null;
  unexported: boolean;
}

/** onoff's Gpio as the driver sees it, recording what happens to each pin. */
function fakeOnoff(o: { accessible?: boolean; failOn?: number } = {}): { module: GpioModule; pins: Map<number, FakePin> } {
  const pins = new Map<number, FakePin>();
  class Gpio implements GpioLine {
    static readonly accessible = o.accessible ?? true;
    private readonly pin: FakePin;
    constructor(n: number, direction: string, edge: string, options: { activeLow?: boolean }) {
      if (n === o.failOn) throw Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' });
      this.pin = { n, direction, edge, activeLow: options.activeLow, writes: [], value: 0, watcher: null, unexported: false };
      pins.set(n, this.pin);
    }
    readSync(): 0 | 1 {
      return this.pin.value;
    }
    writeSync(v: 0 | 1): void {
      this.pin.writes.push(v);
      this.pin.value = v;
    }
    watch(cb: (err: Error | null | undefined, v: 0 | 1) => void): void {
      this.pin.watcher = cb;
    }
    unwatchAll(): void {
      this.pin.watcher = null;
    }
    unexport(): void {
      this.pin.unexported = true;
    }
  }
  return { module: { Gpio }, pins };
}

const gpioCfg = (over: Partial<GpioIndicatorsConfig> = {}): GpioIndicatorsConfig =>
  ({
    ...indicatorsConfigSchema.parse({ driver: 'gpio', leds: { ready: 17, busy: 27 }, buttons: { 'consent-yes': 22, help: 23 } }),
    ...over,
  }) as GpioIndicatorsConfig;

test('gpio: with the real onoff (or without it) on a machine with no GPIO → faulted with the reason, no throw', async (t) => {
  const onoff = await import('onoff').then(
    (m) => m,
    () => null,
  );
  // A chip label no board has, so this never claims real pins even if run on a Pi.
  const port = createGpioIndicators(gpioCfg({ chip: 'no-such-chip' }), { clock: systemClock(), log: silent, random: Math.random });
  t.teardown(() => port.close());
  await t.notThrowsAsync(open(port));
  t.is(port.state().kind, 'faulted');
  const expected =
    onoff === null
      ? /cannot load the optional "onoff" module/
      : !onoff.Gpio.accessible
        ? /no access to \/sys\/class\/gpio\/export/
        : /no GPIO chip labelled "no-such-chip"/;
  t.regex(reasonOf(port.state()), expected);
  port.setLeds({ ready: 'on', busy: 'blink', error: 'off' }); // still remembered, no throw
  t.is(port.leds().busy, 'blink');
});

test('gpio: onoff missing, GPIO not accessible, chip not found → faulted with a clear reason', async (t) => {
  const deps = { clock: systemClock(), log: silent, random: Math.random };
  const missing = createGpioIndicators(gpioCfg(), {
    ...deps,
    loadOnoff: () => Promise.reject(Object.assign(new Error("Cannot find package 'onoff' imported from gpio.ts"), { code: 'ERR_MODULE_NOT_FOUND' })),
  });
  await t.notThrowsAsync(open(missing));
  t.regex(reasonOf(missing.state()), /cannot load the optional "onoff" module \(Cannot find package 'onoff'/);

  const { module, pins } = fakeOnoff({ accessible: false });
  const denied = createGpioIndicators(gpioCfg(), { ...deps, loadOnoff: async () => module, sysfsRoot: fakeSysfs(t, PI4) });
  await open(denied);
  t.regex(reasonOf(denied.state()), /no access to \/sys\/class\/gpio\/export/);
  t.is(pins.size, 0);

  const fake = fakeOnoff();
  const noChip = createGpioIndicators(gpioCfg({ chip: 'pinctrl-rp1' }), {
    ...deps,
    loadOnoff: async () => fake.module,
    sysfsRoot: fakeSysfs(t, PI4),
  });
  await open(noChip);
  t.regex(reasonOf(noChip.state()), /no GPIO chip labelled "pinctrl-rp1".*pinctrl-bcm2711/);
  t.is(fake.pins.size, 0);
});

test('gpio: a pin the kernel refuses → faulted naming the role and number; pins already claimed are released', async (t) => {
  const { module, pins } = fakeOnoff({ failOn: 512 + 22 });
  const port = createGpioIndicators(gpioCfg(), {
    clock: systemClock(),
    log: silent,
    random: Math.random,
    loadOnoff: async () => module,
    sysfsRoot: fakeSysfs(t, PI4),
  });
  await open(port);
  t.is(port.state().kind, 'faulted');
  t.regex(reasonOf(port.state()), /buttons\.consent-yes \(BCM 22 = GPIO 534 on pinctrl-bcm2711\): the kernel refused the GPIO number/);
  t.deepEqual([...pins.keys()].sort(), [529, 539]);
  t.true([...pins.values()].every((p) => p.unexported));

  const beyond = createGpioIndicators(gpioCfg({ chip: 'raspberrypi-exp-gpio' }), {
    clock: systemClock(),
    log: silent,
    random: Math.random,
    loadOnoff: async () => fakeOnoff().module,
    sysfsRoot: fakeSysfs(t, PI4),
  });
  await open(beyond);
  t.regex(reasonOf(beyond.state()), /leds\.ready: BCM 17 is beyond raspberrypi-exp-gpio's 8 lines/);
});

test('gpio: BCM numbers become base + n; lamps light, blink on the clock, and go off and unexported on close', async (t) => {
  const clock = new SimulatedClock();
  const { module, pins } = fakeOnoff();
  const port = createGpioIndicators(gpioCfg({ activeLow: true }), {
    clock,
    log: silent,
    random: Math.random,
    loadOnoff: async () => module,
    sysfsRoot: fakeSysfs(t, PI4),
  });
  await open(port);
  t.deepEqual(port.state(), { kind: 'ready' });
  const ready = pins.get(529)!;
  const busy = pins.get(539)!;
  t.like(ready, { direction: 'high', edge: 'none', activeLow: true }); // raw high = an active-low lamp starts off
  t.like(pins.get(534), { direction: 'in', edge: 'both', activeLow: true });
  t.like(pins.get(535), { direction: 'in', edge: 'both', activeLow: true });
  t.is(pins.size, 4, 'the error lamp and consent-no are not fitted');

  port.setLeds({ ready: 'on', busy: 'blink', error: 'on' });
  t.deepEqual(ready.writes, [1]);
  t.deepEqual(busy.writes, [1], 'a blink starts lit');
  port.setLeds({ ready: 'on', busy: 'blink', error: 'on' });
  t.deepEqual(ready.writes, [1], 'an unchanged lamp is not rewritten');
  clock.increment(499);
  t.deepEqual(busy.writes, [1]);
  clock.increment(1);
  t.deepEqual(busy.writes, [1, 0]);
  clock.increment(500);
  clock.increment(500);
  t.deepEqual(busy.writes, [1, 0, 1, 0]);
  t.deepEqual(ready.writes, [1], 'steady lamps do not flicker with the blink');
  port.setLeds({ ready: 'off', busy: 'on', error: 'off' });
  clock.increment(2000);
  t.deepEqual(busy.writes, [1, 0, 1, 0, 1], 'blinking stops when no lamp blinks');
  t.deepEqual(ready.writes, [1, 0]);

  port.setLeds({ ready: 'blink', busy: 'on', error: 'off' });
  await port.close();
  t.true([...pins.values()].every((p) => p.unexported));
  t.true([pins.get(534)!, pins.get(535)!].every((p) => p.watcher === null));
  t.is(ready.value, 0, 'lamps are switched off on close');
  t.is(busy.value, 0);
  const writes = ready.writes.length;
  clock.increment(5000);
  t.is(ready.writes.length, writes, 'no blink after close');
});

test('gpio: a button press counts once after debouncing; bounces and short blips do not', async (t) => {
  const clock = new SimulatedClock();
  const { module, pins } = fakeOnoff();
  const port = createGpioIndicators(gpioCfg({ debounceMs: 50 }), {
    clock,
    log: silent,
    random: Math.random,
    loadOnoff: async () => module,
    sysfsRoot: fakeSysfs(t, PI4),
  });
  const pressed: ButtonId[] = [];
  port.onButton((b) => pressed.push(b));
  await open(port);
  const yes = pins.get(534)!;
  const help = pins.get(535)!;
  const edge = (p: FakePin, v: 0 | 1, afterMs: number): void => {
    clock.increment(afterMs);
    p.watcher!(null, v);
  };
  // Contact bounce on the way down, then held.
  edge(yes, 1, 0);
  edge(yes, 0, 3);
  edge(yes, 1, 4);
  clock.increment(49);
  t.deepEqual(pressed, [], 'not before the contact has been still for debounceMs');
  clock.increment(1);
  t.deepEqual(pressed, ['consent-yes']);
  clock.increment(1000);
  t.deepEqual(pressed, ['consent-yes'], 'held: still one press');
  // Released with bounce, then pressed again.
  edge(yes, 0, 0);
  edge(yes, 1, 2);
  edge(yes, 0, 2);
  clock.increment(60);
  edge(yes, 1, 0);
  clock.increment(60);
  t.deepEqual(pressed, ['consent-yes', 'consent-yes']);
  // A 10 ms blip (noise on a long wire) is not a press.
  edge(help, 1, 0);
  edge(help, 0, 10);
  clock.increment(100);
  t.deepEqual(pressed, ['consent-yes', 'consent-yes']);
  // An interrupt error is ignored.
  help.watcher!(new Error('EPOLL'), 1);
  clock.increment(100);
  t.deepEqual(pressed, ['consent-yes', 'consent-yes']);
  edge(help, 1, 0);
  clock.increment(50);
  t.deepEqual(pressed, ['consent-yes', 'consent-yes', 'help']);
  await port.close();
});

// ---- null ----

test('null indicators: absent with the reason, remembers the lamps, no buttons', async (t) => {
  const port = absentIndicators('no lamps fitted');
  await open(port);
  t.deepEqual(port.state(), { kind: 'absent', reason: 'no lamps fitted' });
  t.is(port.driver, 'none');
  t.is(port.id, 'indicators');
  t.deepEqual(port.leds(), { ready: 'off', busy: 'off', error: 'off' });
  port.setLeds({ ready: 'on', busy: 'off', error: 'blink' });
  t.deepEqual(port.leds(), { ready: 'on', busy: 'off', error: 'blink' });
  t.notThrows(() => port.onButton(() => t.fail())());
  await port.close();
  t.is(port.state().kind, 'absent');
});

// ---- sim driver ↔ hw-sim panel, over real TCP ----

test('line splitter: lines split across chunks, CRLF, and over-long lines dropped whole', (t) => {
  const lines: string[] = [];
  const dropped: number[] = [];
  const s = lineSplitter(
    8,
    (l) => lines.push(l),
    (n) => dropped.push(n),
  );
  for (const b of Buffer.from('ab\r\ncdefghij-too-long\n12345678\nxy')) s.push(Buffer.from([b]));
  s.push(Buffer.from('z\n123456789\nok\n'));
  t.deepEqual(lines, ['ab', '12345678', 'xyz', 'ok']);
  t.deepEqual(dropped, [17, 9]);
});

async function simRig(t: import('ava').ExecutionContext, log = silent): Promise<{ panel: VirtualPanel; port: Indicators; states: PortState[] }> {
  const panel = await VirtualPanel.start();
  const cfg = indicatorsConfigSchema.parse({ driver: 'sim', url: panel.url, reconnectBaseMs: 50, reconnectMaxMs: 200 }) as SimIndicatorsConfig;
  const port = createSimIndicators(cfg, { clock: systemClock(), log, random: Math.random });
  const states: PortState[] = [];
  port.onStateChange((s) => states.push(s));
  t.teardown(async () => {
    await port.close();
    await panel.stop();
  });
  t.deepEqual(port.state(), { kind: 'connecting', attempt: 1 });
  await open(port);
  await until(() => port.state().kind === 'ready' && panel.connected(), 15_000, 'panel connected');
  return { panel, port, states };
}

const is = (want: Leds) => (l: Leds) => l.ready === want.ready && l.busy === want.busy && l.error === want.error;

test('sim: lamps set by the daemon show on the panel; a press reaches onButton', async (t) => {
  const { panel, port } = await simRig(t);
  t.is(port.driver, 'sim');
  const seen: Leds[] = [];
  panel.onLeds((l) => seen.push(l));
  port.setLeds({ ready: 'on', busy: 'off', error: 'off' });
  await panel.waitForLeds(is({ ready: 'on', busy: 'off', error: 'off' }), 15_000);
  port.setLeds({ ready: 'off', busy: 'blink', error: 'on' });
  t.deepEqual(await panel.waitForLeds(is({ ready: 'off', busy: 'blink', error: 'on' }), 15_000), { ready: 'off', busy: 'blink', error: 'on' });
  port.setLeds({ ready: 'off', busy: 'blink', error: 'on' }); // unchanged: nothing sent
  port.setLeds({ ready: 'on', busy: 'on', error: 'on' });
  await panel.waitForLeds(is({ ready: 'on', busy: 'on', error: 'on' }), 15_000);
  t.is(seen.length, 3, 'one line per change');

  const pressed: ButtonId[] = [];
  port.onButton((b) => pressed.push(b));
  t.true(panel.press('consent-yes'));
  t.true(panel.press('help'));
  await until(() => pressed.length === 2, 15_000, 'two presses');
  t.deepEqual(pressed, ['consent-yes', 'help']);
});

test('sim: garbage and over-long lines are ignored (with a debug log) and the link keeps working', async (t) => {
  const { log, lines } = capturingLog();
  const { panel, port } = await simRig(t, log);
  const pressed: ButtonId[] = [];
  port.onButton((b) => pressed.push(b));
  panel.sendRaw('hello\nbutton nope\nbutton\nbutton help extra\nBUTTON help\n\n');
  panel.sendRaw(Buffer.from([0xff, 0xfe, 0x00, 0x0a]));
  panel.sendRaw(`${'x'.repeat(5000)}\n`);
  panel.sendRaw(`button consent-no${' '.repeat(240)}\n`); // 257 bytes: dropped, though it would parse
  panel.sendRaw(`button consent-yes${' '.repeat(238)}\n`); // 256 bytes: taken
  panel.sendRaw('butt');
  await new Promise((r) => setTimeout(r, 30));
  panel.sendRaw('on help\r\n');
  await until(() => pressed.length >= 2, 15_000, 'the valid presses');
  await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(pressed, ['consent-yes', 'help']);
  t.is(port.state().kind, 'ready');
  const log_ = lines().join('');
  t.is(log_.match(/ignored a line from the panel/g)?.length, 6);
  t.is(log_.match(/dropped an over-long line from the panel/g)?.length, 2);
  port.setLeds({ ready: 'blink', busy: 'off', error: 'off' });
  await panel.waitForLeds(is({ ready: 'blink', busy: 'off', error: 'off' }), 15_000);
});

test('sim: unplugged panel → faulted and retrying; plugged back → ready, and the lamps are sent again', async (t) => {
  const { panel, port, states } = await simRig(t);
  port.setLeds({ ready: 'on', busy: 'off', error: 'blink' });
  await panel.waitForLeds(is({ ready: 'on', busy: 'off', error: 'blink' }), 15_000);

  await panel.unplug();
  t.deepEqual(panel.leds(), { ready: 'off', busy: 'off', error: 'off' }, 'the panel forgot');
  await until(() => port.state().kind === 'faulted', 15_000, 'faulted');
  t.false(panel.press('help'), 'nobody to hear a press while unplugged');
  await until(() => reasonOf(port.state()) === 'connection refused', 15_000, 'retrying against a refusing panel');
  await panel.plug();
  await until(() => port.state().kind === 'ready', 15_000, 'ready again');
  await panel.waitForLeds(is({ ready: 'on', busy: 'off', error: 'blink' }), 15_000);
  t.deepEqual(
    states.map((s) => s.kind),
    ['ready', 'faulted', 'faulted', 'ready'],
  );

  // Changed while unplugged: the panel gets the latest state on reconnect.
  await panel.unplug();
  await until(() => port.state().kind === 'faulted', 15_000, 'faulted');
  port.setLeds({ ready: 'off', busy: 'on', error: 'off' });
  t.deepEqual(port.leds(), { ready: 'off', busy: 'on', error: 'off' });
  await panel.plug();
  await panel.waitForLeds(is({ ready: 'off', busy: 'on', error: 'off' }), 15_000);
  t.is(port.state().kind, 'ready');
  const pressed: ButtonId[] = [];
  port.onButton((b) => pressed.push(b));
  t.true(panel.press('consent-no'));
  await until(() => pressed.length === 1, 15_000, 'press after reconnect');
});

test('sim: close() drops the panel and stops reconnecting', async (t) => {
  const { panel, port } = await simRig(t);
  await port.close();
  await until(() => !panel.connected(), 15_000, 'disconnected');
  await new Promise((r) => setTimeout(r, 300));
  t.false(panel.connected(), 'no reconnect after close');
  t.false(panel.press('help'));
});

test('sim: no panel at the address → faulted with the reason; open does not wait or throw', async (t) => {
  const panel = await VirtualPanel.start();
  const url = panel.url;
  await panel.stop();
  const port = createSimIndicators(indicatorsConfigSchema.parse({ driver: 'sim', url, reconnectBaseMs: 50 }) as SimIndicatorsConfig, {
    clock: systemClock(),
    log: silent,
    random: Math.random,
  });
  t.teardown(() => port.close());
  await t.notThrowsAsync(open(port));
  await until(() => port.state().kind === 'faulted', 15_000, 'faulted');
  t.is(reasonOf(port.state()), 'connection refused');
});
