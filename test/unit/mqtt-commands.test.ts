// serveCommands parses each command's arguments with the contract (src/mqtt/contract/commands.ts):
// handlers get typed arguments, and a bad request gets the same answer, word for word, as when
// each handler checked its own.
import test from 'ava';
import type { IPublishPacket } from 'mqtt';
import { pino } from 'pino';
import { serveCommands, type CommandHandlers } from '../../src/mqtt/commands.js';
import type { MqttLink, MessageHandler } from '../../src/mqtt/link.js';
import { kioskTopics } from '../../src/mqtt/topics.js';
import { systemClock } from '../../src/util/clock.js';

const topics = kioskTopics('kiosk', 'unit-1');

function server(t: import('ava').ExecutionContext, handlers: CommandHandlers) {
  let deliver: MessageHandler = () => {};
  const answers: Array<Record<string, unknown>> = [];
  const link = {
    onMessage: (h: MessageHandler) => void (deliver = h),
    publishTransient: (_topic: string, payload: string) => answers.push(JSON.parse(payload) as Record<string, unknown>) > 0,
  } as unknown as MqttLink;
  t.teardown(
    serveCommands({
      link,
      topics,
      handlers,
      refusals: { consent: 'not accepted over MQTT' },
      limits: { maxPayloadBytes: 16_384, ratePerMinute: 1000 },
      clock: systemClock(),
      log: pino({ level: 'silent' }),
      overflow: () => {},
    }),
  );
  return async (name: string, payload: unknown): Promise<Record<string, unknown>> => {
    const n = answers.length;
    deliver(topics.command(name), Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), { retain: false } as IPublishPacket);
    for (let i = 0; i < 100 && answers.length === n; i++) await new Promise((r) => setImmediate(r));
    return answers[n]!;
  };
}

test('bad arguments get the answers the handlers used to give, word for word; the handler never runs', async (t) => {
  let ran = 0;
  const ask = server(t, {
    cancel: () => ++ran,
    maintenance: () => ++ran,
    'print-test': () => ++ran,
  });
  const needsSession = 'cancel needs {"session_id": …}: the check-in it ends (state answers with it)';
  for (const args of [{}, { session_id: '' }, { session_id: 5 }, { session_id: null }]) {
    t.deepEqual(await ask('cancel', { transaction: 't', ...args }), { transaction: 't', status: 'error', error: needsSession }, JSON.stringify(args));
  }
  t.deepEqual(await ask('cancel', ''), { transaction: null, status: 'error', error: needsSession }, 'an empty payload is {}');
  for (const enabled of [undefined, 'yes', 1, null]) {
    t.like(await ask('maintenance', { enabled }), { status: 'error', error: 'maintenance needs {"enabled": true|false}' });
  }
  t.like(await ask('print-test', { number: 'A001' }), {
    status: 'error',
    error: 'print-test takes no number: a test ticket always carries its own TEST-… number, so no queue number can be printed from a command',
  });
  t.is(ran, 0);
});

test('handlers get their arguments as the contract parsed them: typed, without the transaction or unknown fields', async (t) => {
  const seen: unknown[] = [];
  const ask = server(t, {
    maintenance: (args) => {
      seen.push(args);
      return { mode: args.enabled ? 'maintenance' : 'idle' };
    },
    cancel: ({ session_id }) => session_id,
  });
  t.deepEqual(await ask('maintenance', { transaction: 7, enabled: true, extra: 'x' }), {
    transaction: 7,
    status: 'ok',
    data: { mode: 'maintenance' },
  });
  t.deepEqual(seen, [{ enabled: true }]);
  t.like(await ask('cancel', { session_id: 's-1' }), { status: 'ok', data: 's-1' });
});

test('refusals, unknown names and bad JSON are answered before any argument is looked at', async (t) => {
  const ask = server(t, { ping: () => ({ pong: true }) });
  t.like(await ask('consent', { answer: 'yes' }), { status: 'error', error: 'not accepted over MQTT' });
  t.like(await ask('reboot', {}), { status: 'error', error: 'unknown command; known: ping' });
  t.like(await ask('ping', 'not json'), { status: 'error', error: 'payload is not valid JSON' });
  t.like(await ask('ping', '[1]'), { status: 'error', error: 'payload must be a JSON object' });
  t.like(await ask('ping', { transaction: 'p' }), { transaction: 'p', status: 'ok', data: { pong: true } });
});
