/**
 * hw-sim's one control vocabulary: the console's old words, the scenario file's spellings and
 * the canonical action names all become the same actions (hw-sim/control/table.ts).
 */
import test from 'ava';
import { CONSOLE_HELP, parseConsoleLine } from '../../hw-sim/console.js';
import { CONTROL, describeControl, parseControl, type ControlCall } from '../../hw-sim/control/table.js';
import { ScenarioSchema } from '../../hw-sim/scenario/schema.js';

const consoleCalls = (line: string): readonly ControlCall[] => {
  const c = parseConsoleLine(line);
  if (c.kind !== 'control') throw new Error(`"${line}" is not a control action`);
  return c.calls;
};
const scenarioCalls = (step: Record<string, unknown>): readonly ControlCall[] => {
  const s = ScenarioSchema.parse({ steps: [step] }).steps[0]!;
  if (!('calls' in s)) throw new Error(`${JSON.stringify(step)} is not a device step`);
  return s.calls;
};

test('one fault, one spelling: the console, the scenario file and the canonical name agree', (t) => {
  const same = (canonical: string, ...others: Array<readonly ControlCall[]>): void => {
    const want = consoleCalls(canonical);
    for (const o of others) t.deepEqual(o, want, canonical);
  };
  same('printer.paper near-end', consoleCalls('paper near'), scenarioCalls({ paper: 'low' }), scenarioCalls({ paper: 'near-end' }));
  same('printer.paper out', consoleCalls('paper out'), scenarioCalls({ paper: 'out' }));
  same(
    'bhyt.fault http-500',
    consoleCalls('bhyt 500'),
    scenarioCalls({ bhyt: 500 }),
    scenarioCalls({ bhyt: '500' }),
    scenarioCalls({ bhyt: 'http-500' }),
  );
  same('bhyt.fault none', consoleCalls('bhyt up'), scenarioCalls({ bhyt: 'up' }), scenarioCalls({ bhyt: 'none' }));
  same('identity.fault http-500', scenarioCalls({ portrait: { fault: 500 } }));
  same('bhyt.result sample=2 code=010', consoleCalls('bhyt 2 010'), scenarioCalls({ bhyt: { identity: 2, result: 10 } }));
  same('camera.mode garbage', consoleCalls('camera garbage'), scenarioCalls({ camera: 'garbage' }));
  same('panel.press consent-yes', consoleCalls('yes'), scenarioCalls({ press: 'yes' }), scenarioCalls({ press: 'consent-yes' }));
  same('scanner.plug false', consoleCalls('unplug'), scenarioCalls({ scanner: 'unplug' }));
  same('printer.faults paperOutAfterBytes=3000', consoleCalls('paperout-after 3000'), scenarioCalls({ printer: { paper_out_after_bytes: 3000 } }));
  same('camera.face stranger', consoleCalls('face stranger'), scenarioCalls({ face: 'stranger' }));
  same('identity.portrait sample=1 available=false', consoleCalls('portrait none 1'), scenarioCalls({ portrait: { withhold: 1 } }));
});

test('a printer step with several changes is several actions, in order; printer: ok is the reset', (t) => {
  t.deepEqual(
    scenarioCalls({ printer: { ok: true, paper_out_after_bytes: 10, cover: 'open', power: 'off' } }).map((c) => c.action),
    ['printer.reset', 'printer.faults', 'printer.status', 'printer.power'],
  );
  t.deepEqual(scenarioCalls({ printer: 'ok' }), [{ action: 'printer.reset', params: {} }]);
});

test('help lists every canonical action; a wrong parameter says what is allowed; each action says what it did', (t) => {
  for (const name of Object.keys(CONTROL)) t.true(CONSOLE_HELP.includes(name), name);
  t.throws(() => parseConsoleLine('printer.paper low'), { message: /printer\.paper: level: .*"ok"\|"near-end"\|"out"/ });
  t.throws(() => parseControl('bhyt.fault', { fault: 'up' }), { message: /bhyt\.fault: fault/ });
  t.throws(() => parseConsoleLine('paper sideways'), { message: 'paper out|near|ok' });
  t.is(describeControl(parseControl('printer.paper', { level: 'out' })), 'printer: paper out');
  t.is(describeControl(parseControl('printer.faults', { paperOutAfterBytes: 500 })), 'printer: the paper runs out after 500 more bytes');
  t.deepEqual(parseConsoleLine('advance to 07:00'), { kind: 'advance', move: { toLocal: '07:00' } });
  t.like(parseConsoleLine('frobnicate'), { kind: 'say', text: 'hw-sim: unknown command "frobnicate"; type help' });
});
