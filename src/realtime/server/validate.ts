/**
 * Turns a decoded protocol message (any object) into a typed `ClientMessage`,
 * or says what is wrong with it and whether it has an `id` to answer to
 * (docs/protocol.md §3, §4, §8): a malformed command with a usable id gets a
 * `bad_request` reply; a message without one closes the connection (4500).
 * Nesting is bounded (`MAX_MESSAGE_DEPTH`) so that whatever passes can be
 * encoded again for subscribers.
 */
import type { Codec } from '../wire/codec.js';
import type { ClientMessage, ErrorBody, StreamPosition, SubscribeCommand } from '../wire/messages.js';

/** A valid message, or why it is not one (with its id when the id itself is valid). */
export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; id: number | undefined; reason: string };

type Fields = Record<string, unknown>;
type Parser = (fields: Fields, id: number) => ClientMessage | string;

/**
 * How deeply objects and arrays may nest in a client message (the message
 * itself is level 1, its `data` level 2). Deeper data could not travel on:
 * MessagePack encodes at most 100 levels and JSON.stringify recurses, and a
 * publication is nested a few levels deeper in a history reply.
 */
export const MAX_MESSAGE_DEPTH = 64;

/** True when objects or arrays in `value` nest more than `max` levels deep (iterative: no recursion on hostile input). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: unknown[] = [value];
  const depths: number[] = [1];
  while (pending.length > 0) {
    const current = pending.pop();
    const depth = depths.pop()!;
    if (typeof current !== 'object' || current === null || ArrayBuffer.isView(current)) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) {
        pending.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

/**
 * True when an object in `value` has its own `"__proto__"` key (JSON.parse
 * makes one from `{"__proto__":…}`). Such data is refused at publish:
 * MessagePack decoders (the SDK's among them) refuse that key, so every
 * MessagePack subscriber of the channel would fail on it.
 */
export function hasProtoKey(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current !== 'object' || current === null || ArrayBuffer.isView(current)) continue;
    if (!Array.isArray(current) && Object.hasOwn(current, '__proto__')) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) pending.push(child);
    }
  }
  return false;
}

/** True for an integer in 1 … 2^53−1 (a command id). */
export function isCommandId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

function isOptionalString(value: unknown): value is string | undefined {
  return value === undefined || typeof value === 'string';
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** A `{offset, epoch}` object, or undefined when it is not one. */
export function parsePosition(value: unknown): StreamPosition | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { offset, epoch } = value as Fields;
  if (!isNonNegativeInteger(offset) || typeof epoch !== 'string') return undefined;
  return { offset, epoch };
}

function channelOf(fields: Fields): string | undefined {
  return typeof fields.channel === 'string' ? fields.channel : undefined;
}

const parseConnect: Parser = (fields, id) => {
  const { token, data, name, version } = fields;
  if (!isOptionalString(token)) return 'token must be a string';
  if (!isOptionalString(name) || !isOptionalString(version)) return 'name and version must be strings';
  return { type: 'connect', id, token, data, name, version };
};

const parseRefresh: Parser = (fields, id) => {
  if (typeof fields.token !== 'string') return 'token must be a string';
  return { type: 'refresh', id, token: fields.token };
};

const parseSubscribe: Parser = (fields, id) => {
  const channel = channelOf(fields);
  if (channel === undefined) return 'channel must be a string';
  if (fields.delta !== undefined && typeof fields.delta !== 'boolean') return 'delta must be a boolean';
  const command: SubscribeCommand = { type: 'subscribe', id, channel, data: fields.data };
  if (fields.delta === true) command.delta = true;
  if (fields.since === undefined) return command;
  const since = parsePosition(fields.since);
  if (since === undefined) return 'since must be {offset, epoch}';
  command.since = since;
  return command;
};

function channelCommand(type: 'unsubscribe' | 'presence' | 'presence_stats'): Parser {
  return (fields, id) => {
    const channel = channelOf(fields);
    if (channel === undefined) return 'channel must be a string';
    return { type, id, channel };
  };
}

const parsePublish: Parser = (fields, id) => {
  const channel = channelOf(fields);
  if (channel === undefined) return 'channel must be a string';
  if (!('data' in fields) || fields.data === undefined) return 'data is required';
  return { type: 'publish', id, channel, data: fields.data };
};

const parseCall: Parser = (fields, id) => {
  if (typeof fields.method !== 'string' || fields.method === '') return 'method must be a non-empty string';
  return { type: 'call', id, method: fields.method, data: fields.data };
};

const parseHistory: Parser = (fields, id) => {
  const channel = channelOf(fields);
  if (channel === undefined) return 'channel must be a string';
  const { limit } = fields;
  if (limit !== undefined && !isNonNegativeInteger(limit)) return 'limit must be an integer >= 0';
  let since: StreamPosition | undefined;
  if (fields.since !== undefined) {
    since = parsePosition(fields.since);
    if (since === undefined) return 'since must be {offset, epoch}';
  }
  return { type: 'history', id, channel, since, limit };
};

/** Commands that carry an id and expect a reply. */
const COMMANDS: Readonly<Record<string, Parser>> = {
  connect: parseConnect,
  refresh: parseRefresh,
  subscribe: parseSubscribe,
  unsubscribe: channelCommand('unsubscribe'),
  publish: parsePublish,
  call: parseCall,
  presence: channelCommand('presence'),
  presence_stats: channelCommand('presence_stats'),
  history: parseHistory,
};

function parseErrorBody(value: unknown): ErrorBody | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { code, message, data } = value as Fields;
  if (typeof code !== 'string' || typeof message !== 'string') return undefined;
  return data === undefined ? { code, message } : { code, message, data };
}

function parseReply(fields: Fields): ParseResult {
  const { id } = fields;
  if (!isCommandId(id)) return { ok: false, id: undefined, reason: 'a reply needs a valid id' };
  if (fields.error !== undefined) {
    const error = parseErrorBody(fields.error);
    if (error === undefined) return { ok: false, id: undefined, reason: 'a reply error needs code and message strings' };
    return { ok: true, message: { type: 'reply', id, error } };
  }
  if (!('result' in fields)) return { ok: false, id: undefined, reason: 'a reply needs result or error' };
  return { ok: true, message: { type: 'reply', id, result: fields.result } };
}

/**
 * Validates one decoded message. `id` is set on failure only when the
 * message carries a valid command id, so that the caller can answer
 * `bad_request`; a failed `reply` never has one (there is nothing to answer).
 */
export function parseClientMessage(fields: Fields): ParseResult {
  const { type } = fields;
  if (nestsDeeperThan(fields, MAX_MESSAGE_DEPTH)) {
    return { ok: false, id: type === 'reply' ? undefined : usableId(fields), reason: `nested more than ${MAX_MESSAGE_DEPTH} levels deep` };
  }
  if (typeof type !== 'string') return { ok: false, id: usableId(fields), reason: 'type must be a string' };
  if (type === 'pong') return { ok: true, message: { type: 'pong' } };
  if (type === 'send') return { ok: true, message: { type: 'send', data: fields.data } };
  if (type === 'reply') return parseReply(fields);
  const id = usableId(fields);
  const parse = Object.hasOwn(COMMANDS, type) ? COMMANDS[type] : undefined;
  if (parse === undefined) return { ok: false, id, reason: `unknown message type "${type.slice(0, 40)}"` };
  if (id === undefined) return { ok: false, id, reason: `${type} needs an id (an integer from 1 to 2^53-1)` };
  const parsed = parse(fields, id);
  return typeof parsed === 'string' ? { ok: false, id, reason: parsed } : { ok: true, message: parsed };
}

function usableId(fields: Fields): number | undefined {
  return isCommandId(fields.id) ? fields.id : undefined;
}
