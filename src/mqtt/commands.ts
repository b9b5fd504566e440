import type { MqttLink } from './link.js';
import type { CommandResponse, KioskTopicNames } from './topics.js';
import type { Logger } from '../log/logger.js';

export type CommandHandler = (args: Record<string, unknown>) => unknown;

/**
 * kiosk/<id>/cmd/<name> with a JSON object payload (empty means {}); the answer goes to
 * kiosk/<id>/cmd/<name>/response and echoes the request's `transaction`. Bad requests get an
 * error answer, never an exception. Retained commands are ignored.
 */
export function serveCommands(link: MqttLink, topics: KioskTopicNames, handlers: Readonly<Record<string, CommandHandler>>, log: Logger): void {
  link.onMessage((topic, payload, packet) => {
    const name = topics.commandName(topic);
    if (name === null) return;
    if (packet.retain) {
      // A command left retained on the broker would run again on every reconnect (and undo
      // what a technician did since). Commands are acts, not state: refuse and say so once.
      log.warn({ cmd: name }, 'ignoring a retained command; publish commands without the retain flag');
      return;
    }
    let transaction: CommandResponse['transaction'] = null;
    const reply = (r: Omit<CommandResponse, 'transaction'>): void => {
      link.publishTransient(topics.response(name), JSON.stringify({ transaction, ...r }));
    };
    let args: Record<string, unknown> = {};
    const text = payload.toString('utf8').trim();
    if (text !== '') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        reply({ status: 'error', error: 'payload is not valid JSON' });
        return;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        reply({ status: 'error', error: 'payload must be a JSON object' });
        return;
      }
      args = parsed as Record<string, unknown>;
      const t = args['transaction'];
      if (typeof t === 'string' || typeof t === 'number') transaction = t;
    }
    const handler = Object.hasOwn(handlers, name) ? handlers[name] : undefined;
    if (!handler) {
      reply({ status: 'error', error: `unknown command "${name}"; known: ${Object.keys(handlers).join(', ')}` });
      return;
    }
    // A handler may answer at once or with a promise (a test print takes a moment).
    Promise.resolve()
      .then(() => handler(args))
      .then(
        (data) => {
          reply({ status: 'ok', data });
          log.info({ cmd: name }, 'command handled');
        },
        (err: unknown) => reply({ status: 'error', error: err instanceof Error ? err.message : String(err) }),
      );
  });
}
