/**
 * The MQTT contract as data, and its single source: a zod schema for every payload (the types
 * in topics.ts are inferred from them), the commands' arguments (which the daemon parses
 * requests with) and the channels docs/mqtt.asyncapi.yaml is generated from. The pieces live in
 * contract/: shared schemas, retained topics, events, commands and the channel list.
 */
import type { z } from 'zod';
import { commandError, kioskStatus } from './contract/commands.js';
import { checkinEnd } from './contract/events.js';
import { faceIdInfo } from './contract/retained.js';
import { kioskMode, leds, outcome, portId, portState, ports, transaction } from './contract/shared.js';

export { CONTRACT_SCHEMA, retainedPayloads } from './contract/retained.js';
export { eventData, eventPayloads, type EventKind } from './contract/events.js';
export {
  commandSpecs,
  commandPayloads,
  commandResponse,
  type CommandArgs,
  type CommandData,
  type CommandName,
  type CommandSpec,
} from './contract/commands.js';
export { CHANNELS, COMMAND_NAMES, EVENT_KINDS, RETAINED_KINDS, channelOf, type ChannelSpec, type MessageSpec } from './contract/channels.js';
export { portState } from './contract/shared.js';

/**
 * Schemas worth a name of their own in the document (shared by several payloads). Payloads
 * themselves are named after their message.
 */
export const SHARED_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  KioskMode: kioskMode,
  PortId: portId,
  PortState: portState,
  Ports: ports,
  Leds: leds,
  Outcome: outcome,
  FaceIdInfo: faceIdInfo,
  CheckinEnd: checkinEnd,
  KioskStatus: kioskStatus,
  Transaction: transaction,
  CommandError: commandError,
};
