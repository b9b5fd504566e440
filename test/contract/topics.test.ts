import test from 'ava';
import { kioskTopics } from '../../src/mqtt/topics.js';

test('topic names follow the contract', (t) => {
  const topics = kioskTopics('kiosk', 'k1');
  t.is(topics.retained('status'), 'kiosk/k1/status');
  t.is(topics.event('alert'), 'kiosk/k1/event/alert');
  t.is(topics.commandFilter, 'kiosk/k1/cmd/+');
  t.is(topics.commandName('kiosk/k1/cmd/ping'), 'ping');
  t.is(topics.commandName('kiosk/k1/cmd/ping/response'), null);
  t.is(topics.commandName('kiosk/k2/cmd/ping'), null);
  t.is(topics.response('ping'), 'kiosk/k1/cmd/ping/response');
});

test('wildcards and separators cannot sneak into a device id', (t) => {
  for (const bad of ['a+b', 'a#', 'a/b', '']) t.throws(() => kioskTopics('kiosk', bad), { message: /must be one non-empty topic level/ });
});
