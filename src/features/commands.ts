/**
 * Operators' commands over MQTT (src/mqtt/operator-commands.ts says which, and why the
 * patient's answers are not among them), served within the configured size and rate limits.
 */
import type { Logger } from '../log/logger.js';
import { serveCommands } from '../mqtt/commands.js';
import type { MqttLink } from '../mqtt/link.js';
import { operatorCommands, PATIENT_ONLY_COMMANDS, type OperatorCommandDeps } from '../mqtt/operator-commands.js';
import type { KioskPublisher } from '../mqtt/publisher.js';
import type { KioskTopicNames } from '../mqtt/topics.js';
import type { Clock } from '../util/clock.js';
import type { Feature } from '../daemon/feature.js';

export interface CommandsDeps extends OperatorCommandDeps {
  readonly link: MqttLink;
  readonly topics: KioskTopicNames;
  readonly limits: { readonly maxPayloadBytes: number; readonly ratePerMinute: number };
  readonly publish: Pick<KioskPublisher, 'event'>;
  readonly realClock: Clock;
  readonly log: Logger;
}

export function commands(d: CommandsDeps): Feature {
  let stop = () => {};
  const overflow = (counts: Record<string, number>): void =>
    d.publish.event('alert', {
      level: 'warning',
      code: 'mqtt.commands_limited',
      message: `commands over the rate limit were dropped: ${Object.entries(counts)
        .map(([k, n]) => `${k} ×${n}`)
        .join(', ')}`,
      count: Object.values(counts).reduce((a, b) => a + b, 0),
    });
  return {
    name: 'commands',
    start() {
      stop = serveCommands({
        link: d.link,
        topics: d.topics,
        handlers: operatorCommands(d),
        refusals: PATIENT_ONLY_COMMANDS,
        limits: d.limits,
        clock: d.realClock,
        log: d.log,
        overflow,
      });
    },
    stop: () => stop(),
  };
}
