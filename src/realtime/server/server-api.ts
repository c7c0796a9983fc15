/**
 * The server API's methods (docs/server-api.md): what backends in any
 * language call over HTTP (api-http.ts) — `publish`, `broadcast`,
 * `disconnect`, `subscribe`, `unsubscribe`, `send`, `presence`,
 * `presence_stats`, `history`, `history_remove`, `channels`, `connections`,
 * `info` and `batch` — with Centrifugo's names and result shapes.
 *
 * The listings every node answers (`channels`, `connections`) come a page
 * at a time: at most `limit` entries in the order of their keys (channel
 * name, client id), and a `next_cursor` when more follow — an opaque
 * string (base64url of the last key) that asks for the entries after it.
 *
 * Every call is checked whole before anything is done: its params (types,
 * unknown fields, channel names and namespaces, close codes, publication
 * data through the checks of a client's publish), and for a batch every one
 * of its commands. A call that fails these checks does nothing.
 */
import { ErrorCode } from '../wire/errors.js';
import type { HistoryResult, PresenceMember, PublishResult, StreamPosition } from '../wire/messages.js';
import type { ConnectionInfo, ConnectionOperation, ConnectionTarget, NodeInfo, Page, PageQuery } from './cluster-control.js';
import { MAX_PATTERN_LENGTH } from './channel-pattern.js';
import type { CheckedPublication } from './commands.js';
import { errorBodyOf, RpcError } from './errors.js';
import type { Namespace } from './namespaces.js';

/** Most channels one `broadcast` publishes to. */
export const MAX_BROADCAST_CHANNELS = 1000;
/** Most commands in one `batch`. */
export const MAX_BATCH_COMMANDS = 1000;
/** Channels in a page of `channels` when the call gives no `limit`, and the most it may ask for. */
export const DEFAULT_CHANNELS_LIMIT = 1000;
export const MAX_CHANNELS_LIMIT = 10_000;
/** Connections in a page of `connections` when the call gives no `limit`, and the most it may ask for. */
export const DEFAULT_CONNECTIONS_LIMIT = 100;
export const MAX_CONNECTIONS_LIMIT = 1000;
/** Longest key a cursor holds (a channel name is at most 255 characters, a client id far less). */
const MAX_CURSOR_KEY = 255;

/** What the API needs of its real-time server. */
export interface ServerApiHost {
  /** The namespace of a valid channel name (`bad_request` / `not_found` otherwise). */
  namespaceOf(channel: string): Namespace;
  /** The checks of a client's publish, but not its namespace rule nor `authorize`. */
  checkPublication(channel: string, data: unknown): Promise<CheckedPublication>;
  publishChecked(checked: CheckedPublication): Promise<PublishResult>;
  /** Throws for a close code or reason a close frame cannot carry. */
  checkClose(code: number, reason: string): void;
  /** Throws for data a `message` push cannot carry. */
  checkMessage(data: unknown): void;
  /** Carries the operation out on every node; resolves the connections it affected. */
  everywhere(operation: ConnectionOperation): Promise<number>;
  presence(channel: string): Promise<PresenceMember[]>;
  history(channel: string, query: { since?: StreamPosition; limit?: number }): Promise<HistoryResult>;
  removeHistory(channel: string): Promise<void>;
  /** A page of the channels of every node, counts summed (cluster-control.ts). */
  channelPage(pattern: string | undefined, query: PageQuery): Promise<Page<[string, number]>>;
  /** A page of the connections of every node (those of `user` when given). */
  connectionPage(user: string | undefined, query: PageQuery): Promise<Page<ConnectionInfo>>;
  nodes(): Promise<NodeInfo[]>;
  /** Most publications a history page holds. */
  readonly maxHistoryLimit: number;
}

/** The methods, by name. */
export const API_METHODS = [
  'publish',
  'broadcast',
  'disconnect',
  'subscribe',
  'unsubscribe',
  'send',
  'presence',
  'presence_stats',
  'history',
  'history_remove',
  'channels',
  'connections',
  'info',
  'batch',
] as const;
export type ApiMethod = (typeof API_METHODS)[number];

/** A call that passed every check: running it does what it says. */
interface Prepared<R = unknown> {
  run(): Promise<R>;
}

/** A node as `info` shows it (Centrifugo's field names). */
export interface ApiNodeInfo {
  uid: string;
  name: string;
  num_clients: number;
  num_users: number;
  num_channels: number;
  num_subs: number;
  /** Seconds since the node started. */
  uptime: number;
}

/** A connection as `connections` shows it: what presence shows of it, and how it is connected. */
export interface ApiConnectionInfo {
  client: string;
  /** '' for an anonymous connection. */
  user: string;
  /** The user's info from authentication, as in presence (absent when there is none). */
  info?: unknown;
  /** The uid of the node holding it (as in `info`), and that node's name. */
  node: string;
  node_name: string;
  transport: 'websocket' | 'http';
  /** The HTTP version of the request that opened it. */
  http_version: 1 | 2;
  /** When it connected: ms since the epoch, by its node's clock. */
  connected_at: number;
  /** Channels it is subscribed to. */
  num_subs: number;
}

/** The connections a user-addressed method acts on: every connection of `user`, or the one connection `client`. */
export type ApiTarget = { user: string; client?: undefined } | { client: string; user?: undefined };

/** Every method's params and result, for callers in TypeScript (docs/server-api.md). */
export interface ServerApiMethods {
  publish: { params: { channel: string; data: unknown }; result: PublishResult };
  broadcast: { params: { channels: string[]; data: unknown }; result: { responses: ApiReply[] } };
  disconnect: { params: ApiTarget & { code?: number; reason?: string }; result: { connections: number } };
  subscribe: { params: ApiTarget & { channel: string }; result: { connections: number } };
  unsubscribe: { params: ApiTarget & { channel: string }; result: { connections: number } };
  send: { params: ApiTarget & { data: unknown }; result: { connections: number } };
  presence: { params: { channel: string }; result: { presence: Record<string, PresenceMember> } };
  presence_stats: { params: { channel: string }; result: { num_clients: number; num_users: number } };
  history: { params: { channel: string; limit?: number; since?: StreamPosition }; result: HistoryResult };
  history_remove: { params: { channel: string }; result: Record<string, never> };
  channels: {
    params: { pattern?: string; limit?: number; cursor?: string };
    result: { channels: Record<string, { num_clients: number }>; next_cursor?: string };
  };
  connections: {
    params: { user?: string; limit?: number; cursor?: string };
    result: { connections: Record<string, ApiConnectionInfo>; next_cursor?: string };
  };
  info: { params: Record<string, never>; result: { nodes: ApiNodeInfo[] } };
  batch: { params: { commands: ApiBatchCommand[] }; result: { replies: ApiReply[] } };
}

/** One command of a batch: an object whose one key is the method. */
export type ApiBatchCommand = { [M in Exclude<ApiMethod, 'batch'>]: { [K in M]: ServerApiMethods[M]['params'] } }[Exclude<ApiMethod, 'batch'>];

type Result<M extends ApiMethod> = ServerApiMethods[M]['result'];

/** One answer of `broadcast` or `batch`: a result or an error. */
export type ApiReply = { result: unknown } | { error: { code: string; message: string } };

type Params = Record<string, unknown>;

function badRequest(message: string): RpcError {
  return new RpcError(ErrorCode.BadRequest, message);
}

function isRecord(value: unknown): value is Params {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isApiMethod(name: string): name is ApiMethod {
  return (API_METHODS as readonly string[]).includes(name);
}

/** Refuses fields a method does not know (a misspelt field is a mistake, not a default). */
function onlyFields(params: Params, known: readonly string[]): void {
  for (const key of Object.keys(params)) {
    if (!known.includes(key)) throw badRequest(`unknown field "${key.slice(0, 64)}" (known: ${known.join(', ') || 'none'})`);
  }
}

function text(params: Params, name: string): string {
  const value = params[name];
  if (typeof value !== 'string' || value === '') throw badRequest(`"${name}" must be a non-empty string`);
  return value;
}

function optionalText(params: Params, name: string): string | undefined {
  return params[name] === undefined ? undefined : text(params, name);
}

function optionalInteger(params: Params, name: string, min: number): number | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw badRequest(`"${name}" must be an integer ≥ ${min}`);
  return value;
}

function data(params: Params): unknown {
  if (!('data' in params) || params['data'] === undefined) throw badRequest('"data" is missing');
  return params['data'];
}

/** `user` or `client`, exactly one of them. */
function target(params: Params): ConnectionTarget {
  const user = params['user'];
  const client = params['client'];
  if ((user === undefined) === (client === undefined)) throw badRequest('give exactly one of "user" and "client"');
  return user !== undefined ? { user: text(params, 'user') } : { client: text(params, 'client') };
}

function since(params: Params): StreamPosition | undefined {
  const value = params['since'];
  if (value === undefined) return undefined;
  if (!isRecord(value) || typeof value['epoch'] !== 'string' || typeof value['offset'] !== 'number' || !Number.isSafeInteger(value['offset']) || value['offset'] < 0) {
    throw badRequest('"since" must be {"offset": integer ≥ 0, "epoch": string}');
  }
  return { offset: value['offset'], epoch: value['epoch'] };
}

type Listing = 'channels' | 'connections';
/** What a cursor's key starts with, so that one listing's cursor is not taken for another's. */
const CURSOR_PREFIX: Record<Listing, string> = { channels: 'ch:', connections: 'cl:' };

/** The `next_cursor` after `key` (the last channel name or client id of a page): base64url, opaque to callers. */
function encodeCursor(listing: Listing, key: string): string {
  return Buffer.from(CURSOR_PREFIX[listing] + key, 'utf8').toString('base64url');
}

/** The key a cursor stands for; `bad_request` unless it is one `encodeCursor` made for `listing`. */
function decodeCursor(listing: Listing, cursor: string): string {
  const fail = (): never => {
    throw badRequest(`"cursor" is not a cursor of ${listing}: pass the "next_cursor" of the page before, as it came`);
  };
  if (!/^[A-Za-z0-9_-]+$/.test(cursor) || cursor.length > 4 * MAX_CURSOR_KEY) fail();
  const bytes = Buffer.from(cursor, 'base64url');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail();
  }
  const prefix = CURSOR_PREFIX[listing];
  if (bytes.toString('base64url') !== cursor || !text.startsWith(prefix) || text.length === prefix.length || text.length - prefix.length > MAX_CURSOR_KEY) fail();
  return text.slice(prefix.length);
}

/** `limit` (1 to `max`, default `fallback`) and `cursor` (absent or '' for the first page) of a listing. */
function pageQuery(params: Params, listing: Listing, fallback: number, max: number): PageQuery {
  const limit = params['limit'] === undefined ? fallback : params['limit'];
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > max) throw badRequest(`"limit" must be an integer from 1 to ${max}`);
  const cursor = params['cursor'];
  if (cursor !== undefined && typeof cursor !== 'string') throw badRequest('"cursor" must be a string (the "next_cursor" of the page before)');
  return cursor === undefined || cursor === '' ? { limit } : { after: decodeCursor(listing, cursor), limit };
}

/** The server API of one real-time server. */
export class ServerApi {
  constructor(private readonly host: ServerApiHost) {}

  /** Checks a call, then runs it: its result, or an `RpcError` (nothing was done when the checks failed). */
  async call<M extends ApiMethod>(method: M, params: unknown): Promise<Result<M>> {
    const prepared = await this.prepare(method, params);
    return (await prepared.run()) as Result<M>;
  }

  /** Checks a call whole; the returned `run` carries it out. */
  private async prepare(method: ApiMethod, raw: unknown): Promise<Prepared> {
    if (!isRecord(raw)) throw badRequest(`the params of ${method} must be a JSON object`);
    const params = raw;
    switch (method) {
      case 'publish':
        return this.publish(params);
      case 'broadcast':
        return this.broadcast(params);
      case 'disconnect':
        return this.disconnect(params);
      case 'subscribe':
      case 'unsubscribe':
        return this.subscription(method, params);
      case 'send':
        return this.send(params);
      case 'presence':
      case 'presence_stats':
        return this.presence(method, params);
      case 'history':
        return this.history(params);
      case 'history_remove':
        return this.historyRemove(params);
      case 'channels':
        return this.channels(params);
      case 'connections':
        return this.connections(params);
      case 'info':
        return this.info(params);
      case 'batch':
        return this.batch(params);
    }
  }

  private info(params: Params): Prepared<Result<'info'>> {
    onlyFields(params, []);
    return { run: async () => ({ nodes: (await this.host.nodes()).map(nodeResult) }) };
  }

  private async publish(params: Params): Promise<Prepared<Result<'publish'>>> {
    onlyFields(params, ['channel', 'data']);
    const checked = await this.host.checkPublication(text(params, 'channel'), data(params));
    return { run: () => this.host.publishChecked(checked) };
  }

  private async broadcast(params: Params): Promise<Prepared<Result<'broadcast'>>> {
    onlyFields(params, ['channels', 'data']);
    const channels = params['channels'];
    if (!Array.isArray(channels) || channels.length === 0 || channels.length > MAX_BROADCAST_CHANNELS) {
      throw badRequest(`"channels" must be a list of 1 to ${MAX_BROADCAST_CHANNELS} channel names`);
    }
    const value = data(params);
    const checked: CheckedPublication[] = [];
    for (const [index, channel] of channels.entries()) {
      if (typeof channel !== 'string') throw badRequest(`channels[${index}] must be a string`);
      checked.push(await this.withIndex(`channels[${index}]`, () => this.host.checkPublication(channel, value)));
    }
    return {
      run: async () => ({ responses: await Promise.all(checked.map((one) => settle(() => this.host.publishChecked(one)))) }),
    };
  }

  private disconnect(params: Params): Prepared<Result<'disconnect'>> {
    onlyFields(params, ['user', 'client', 'code', 'reason']);
    const to = target(params);
    const code = optionalInteger(params, 'code', 0) ?? 4000;
    const reason = params['reason'] === undefined ? '' : params['reason'];
    if (typeof reason !== 'string') throw badRequest('"reason" must be a string');
    try {
      this.host.checkClose(code, reason);
    } catch (error) {
      throw badRequest((error as Error).message);
    }
    return { run: async () => ({ connections: await this.host.everywhere({ op: 'disconnect', target: to, code, reason }) }) };
  }

  private subscription(method: 'subscribe' | 'unsubscribe', params: Params): Prepared<Result<'subscribe'>> {
    onlyFields(params, ['user', 'client', 'channel']);
    const to = target(params);
    const channel = text(params, 'channel');
    this.host.namespaceOf(channel);
    return { run: async () => ({ connections: await this.host.everywhere({ op: method, target: to, channel }) }) };
  }

  private send(params: Params): Prepared<Result<'send'>> {
    onlyFields(params, ['user', 'client', 'data']);
    const to = target(params);
    const value = data(params);
    this.host.checkMessage(value);
    return { run: async () => ({ connections: await this.host.everywhere({ op: 'send', target: to, data: value }) }) };
  }

  private presence(method: 'presence' | 'presence_stats', params: Params): Prepared<Result<'presence'> | Result<'presence_stats'>> {
    onlyFields(params, ['channel']);
    const channel = text(params, 'channel');
    if (!this.host.namespaceOf(channel).presence) throw new RpcError(ErrorCode.Unavailable, `no presence in ${channel}`);
    if (method === 'presence_stats') {
      return {
        run: async () => {
          const members = await this.host.presence(channel);
          return { num_clients: members.length, num_users: new Set(members.map((member) => member.user)).size };
        },
      };
    }
    return {
      run: async () => {
        const presence: Record<string, PresenceMember> = {};
        for (const member of await this.host.presence(channel)) presence[member.client] = member;
        return { presence };
      },
    };
  }

  private history(params: Params): Prepared<Result<'history'>> {
    onlyFields(params, ['channel', 'limit', 'since']);
    const channel = text(params, 'channel');
    if (this.host.namespaceOf(channel).history === null) throw new RpcError(ErrorCode.Unavailable, `no history in ${channel}`);
    const limit = Math.min(optionalInteger(params, 'limit', 0) ?? this.host.maxHistoryLimit, this.host.maxHistoryLimit);
    const from = since(params);
    return {
      run: async () => {
        if (limit === 0) {
          const { offset, epoch } = await this.host.history(channel, { limit: 1, ...(from && { since: from }) });
          return { publications: [], offset, epoch };
        }
        return this.host.history(channel, from === undefined ? { limit } : { limit, since: from });
      },
    };
  }

  private historyRemove(params: Params): Prepared<Result<'history_remove'>> {
    onlyFields(params, ['channel']);
    const channel = text(params, 'channel');
    if (this.host.namespaceOf(channel).history === null) throw new RpcError(ErrorCode.Unavailable, `no history in ${channel}`);
    return {
      run: async () => {
        await this.host.removeHistory(channel);
        return {} as Record<string, never>;
      },
    };
  }

  private channels(params: Params): Prepared<Result<'channels'>> {
    onlyFields(params, ['pattern', 'limit', 'cursor']);
    const pattern = optionalText(params, 'pattern');
    if (pattern !== undefined && pattern.length > MAX_PATTERN_LENGTH) throw badRequest(`"pattern" is at most ${MAX_PATTERN_LENGTH} characters`);
    const query = pageQuery(params, 'channels', DEFAULT_CHANNELS_LIMIT, MAX_CHANNELS_LIMIT);
    return {
      run: async () => {
        const page = await this.host.channelPage(pattern, query);
        const channels: Record<string, { num_clients: number }> = {};
        for (const [channel, count] of page.entries) channels[channel] = { num_clients: count };
        return page.next === undefined ? { channels } : { channels, next_cursor: encodeCursor('channels', page.next) };
      },
    };
  }

  private connections(params: Params): Prepared<Result<'connections'>> {
    onlyFields(params, ['user', 'limit', 'cursor']);
    const user = optionalText(params, 'user');
    const query = pageQuery(params, 'connections', DEFAULT_CONNECTIONS_LIMIT, MAX_CONNECTIONS_LIMIT);
    return {
      run: async () => {
        const page = await this.host.connectionPage(user, query);
        const connections: Record<string, ApiConnectionInfo> = {};
        for (const connection of page.entries) connections[connection.client] = connectionResult(connection);
        return page.next === undefined ? { connections } : { connections, next_cursor: encodeCursor('connections', page.next) };
      },
    };
  }

  /**
   * `{"commands": [{"publish": {…}}, {"send": {…}}]}`: every command is
   * checked before the first runs; then they run one after the other, and
   * each has its reply (a failure while running does not stop the others).
   */
  private async batch(params: Params): Promise<Prepared<Result<'batch'>>> {
    onlyFields(params, ['commands']);
    const commands = params['commands'];
    if (!Array.isArray(commands) || commands.length === 0 || commands.length > MAX_BATCH_COMMANDS) {
      throw badRequest(`"commands" must be a list of 1 to ${MAX_BATCH_COMMANDS} commands`);
    }
    const prepared: Prepared[] = [];
    for (const [index, command] of commands.entries()) {
      const keys = isRecord(command) ? Object.keys(command) : [];
      const method = keys[0];
      if (keys.length !== 1 || method === undefined) throw badRequest(`commands[${index}] must be an object with one key, the method: {"publish": {…}}`);
      if (!isApiMethod(method)) throw new RpcError(ErrorCode.NotFound, `commands[${index}]: unknown method "${method.slice(0, 64)}"`);
      if (method === 'batch') throw badRequest(`commands[${index}]: a batch cannot hold a batch`);
      prepared.push(await this.withIndex(`commands[${index}] (${method})`, () => this.prepare(method, (command as Params)[method])));
    }
    return {
      run: async () => {
        const replies: ApiReply[] = [];
        for (const one of prepared) replies.push(await settle(() => one.run()));
        return { replies };
      },
    };
  }

  /** Runs a check; its error names where in the request it failed. */
  private async withIndex<T>(where: string, check: () => T | Promise<T>): Promise<T> {
    try {
      return await check();
    } catch (error) {
      if (!(error instanceof RpcError)) throw error;
      throw new RpcError(error.code, `${where}: ${error.message}`, error.data);
    }
  }
}

/** A command's reply: its result, or its error (a failure that is not an `RpcError` is `internal`). */
async function settle(run: () => Promise<unknown>): Promise<ApiReply> {
  try {
    return { result: await run() };
  } catch (error) {
    const { code, message } = errorBodyOf(error);
    return { error: { code, message } };
  }
}

/** A node as `info` shows it. */
function nodeResult(node: NodeInfo): ApiNodeInfo {
  return {
    uid: node.id,
    name: node.name,
    num_clients: node.connections,
    num_users: node.users,
    num_channels: node.channels,
    num_subs: node.subscriptions,
    uptime: node.uptime,
  };
}

/** A connection as `connections` shows it. */
function connectionResult(connection: ConnectionInfo): ApiConnectionInfo {
  return {
    client: connection.client,
    user: connection.user,
    ...(connection.info !== undefined && { info: connection.info }),
    node: connection.node,
    node_name: connection.nodeName,
    transport: connection.transport,
    http_version: connection.httpVersion,
    connected_at: connection.connectedAt,
    num_subs: connection.subscriptions,
  };
}
