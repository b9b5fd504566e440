// The consumer side's pure parts: the one TLS-error classifier, topic parsing and typed reading.
import test from 'ava';
import { classifyTlsError } from '../../src/mqtt/tls-error.js';
import { readKioskMessage, type Received } from '../../src/mqtt/kiosk-messages.js';
import { kioskFilter, kioskTopics, parseKioskTopic } from '../../src/mqtt/topics.js';

test('TLS errors are classified by code into the kinds each tool words its own way', (t) => {
  const kind = (code: string | number | undefined, cert = false) => classifyTlsError(code === undefined ? {} : { code }, cert);
  t.is(kind('SELF_SIGNED_CERT_IN_CHAIN'), 'untrusted');
  t.is(kind('UNABLE_TO_GET_ISSUER_CERT_LOCALLY'), 'untrusted');
  t.is(kind('ERR_TLS_CERT_ALTNAME_INVALID'), 'wrong-host');
  t.is(kind('CERT_HAS_EXPIRED'), 'expired');
  t.is(kind('CERT_NOT_YET_VALID'), 'not-yet-valid');
  t.is(kind('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), 'client-cert-required');
  t.is(kind('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE'), 'client-cert-required', 'no certificate offered');
  t.is(kind('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', true), 'failed', 'a certificate was offered');
  t.is(kind('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', true), 'client-cert-refused');
  t.is(kind('ERR_SSL_WRONG_VERSION_NUMBER'), 'failed');
  t.is(kind('ECONNREFUSED'), null);
  t.is(kind(5), null, 'a CONNACK refusal is not TLS');
  t.is(kind(undefined), null);
});

test('topics: a kiosk topic parses back into what the builders made', (t) => {
  const k = kioskTopics('kiosk', 'lobby-1');
  t.deepEqual(parseKioskTopic('kiosk', k.retained('state')), { kiosk: 'lobby-1', kind: 'state' });
  t.deepEqual(parseKioskTopic('kiosk', k.event('checkin.completed')), { kiosk: 'lobby-1', kind: 'event', event: 'checkin.completed' });
  t.deepEqual(parseKioskTopic('kiosk', k.command('ping')), { kiosk: 'lobby-1', kind: 'command', command: 'ping' });
  t.deepEqual(parseKioskTopic('kiosk', k.response('ping')), { kiosk: 'lobby-1', kind: 'response', command: 'ping' });
  for (const bad of ['other/lobby-1/state', 'kiosk//state', 'kiosk/lobby-1/frobnicate', 'kiosk/lobby-1/event/a/b', 'kiosk']) {
    t.is(parseKioskTopic('kiosk', bad), null, bad);
  }
  t.is(kioskFilter('kiosk'), 'kiosk/+/#');
  t.is(kioskFilter('kiosk', 'lobby-1'), 'kiosk/lobby-1/#');
});

test('messages are read with the contract: typed when they match it, null when they do not', (t) => {
  const msg = (topic: string, payload: string): Received => ({ topic, payload, bytes: payload.length, retain: false, expirySec: undefined, at: 0 });
  t.like(readKioskMessage('kiosk', msg('kiosk/k/status', 'online'), 'status'), { kiosk: 'k', kind: 'status', payload: 'online' });
  t.is(readKioskMessage('kiosk', msg('kiosk/k/status', 'sleepy')), null);
  const alert = {
    id: '9b2f4a8e-0c1d-4e5f-8a7b-6c5d4e3f2a1b',
    ts: '2025-03-10T03:00:00.000Z',
    data: { level: 'error', code: 'printer.paper-out', message: 'x' },
  };
  const read = readKioskMessage('kiosk', msg('kiosk/k/event/alert', JSON.stringify(alert)), 'alert');
  t.is(read?.payload.data.level, 'error');
  t.is(readKioskMessage('kiosk', msg('kiosk/k/event/alert', JSON.stringify(alert)), 'lifecycle'), null, 'another kind');
  t.is(readKioskMessage('kiosk', msg('kiosk/k/event/alert', JSON.stringify({ ...alert, data: { level: 'loud' } }))), null);
  t.is(readKioskMessage('kiosk', msg('kiosk/k/state', '{not json')), null);
});
