/**
 * The control plane of a cluster of real-time servers: operations addressed
 * to users or connections wherever they are connected (disconnect,
 * server-side subscribe and unsubscribe, send), and questions every node
 * answers (its connection counts, its channels, its connections — the
 * listings a page at a time, see `channelPage`).
 *
 * It rides on the broker's relay (`Broker.listen` / `relay`), so it works
 * wherever the broker does (in memory; Redis, Redis Cluster and Sentinel,
 * where a relay is a sharded-pub/sub message). Every node listens to one
 * broadcast target, `CONTROL_TARGET`, and to a reply target of its own.
 * A request is relayed to the broadcast target; `relay` resolves how many
 * nodes it reached, and the requester waits for that many answers (a
 * scatter-gather), or until `timeout` ms passed: then it goes on with the
 * answers it has (a node that died meanwhile is left out). Nothing is
 * stored, so there are no heartbeats to keep and no stale node lists: the
 * nodes listed are exactly those that answered now.
 */
import type { Broker } from '../broker/broker.js';
import { asError } from './errors.js';
import { compareKeys, firstAfter } from './listing-page.js';

/** The relay target every node listens to. Session ids (the HTTP fallback's targets) never contain ':'. */
export const CONTROL_TARGET = 'sb:control';
/** The prefix of each node's own reply target. */
const REPLY_PREFIX = 'sb:node:';
/** Most entries one node puts in one answer to a listing (`channels`, `connections`), whatever the limit asked. */
export const MAX_PAGE_ENTRIES = 10_000;
/** The version of the control messages. */
const VERSION = 1;
/** How long a request waits for the nodes' answers by default (ms). */
export const DEFAULT_CLUSTER_TIMEOUT = 3_000;

/** The connections an operation is for: every connection of a user, or one connection by its client id. */
export type ConnectionTarget = { user: string } | { client: string };

/** An operation carried out on the addressed connections of every node. */
export type ConnectionOperation =
  | { op: 'disconnect'; target: ConnectionTarget; code: number; reason: string }
  | { op: 'subscribe'; target: ConnectionTarget; channel: string }
  | { op: 'unsubscribe'; target: ConnectionTarget; channel: string }
  | { op: 'send'; target: ConnectionTarget; data: unknown };

/** What one node says about itself. */
export interface NodeInfo {
  /** The node's id (random per server start). */
  id: string;
  /** Its name (`RealtimeServerOptions.nodeName`; default host name and process id). */
  name: string;
  /** Connected clients. */
  connections: number;
  /** Distinct users among them (anonymous ones count as one). */
  users: number;
  /** Channels with subscribers on this node. */
  channels: number;
  /** Subscriptions of its connections, all channels together. */
  subscriptions: number;
  /** Seconds since the server started. */
  uptime: number;
}

/**
 * One connection as a node lists it (`connections`): what presence shows of
 * it (client id, user, info) and how it is connected — never its token nor
 * its connect data.
 */
export interface ConnectionInfo {
  /** The client id. */
  client: string;
  /** The user id; '' for an anonymous connection. */
  user: string;
  /** The user's info from authentication, as presence shows it (absent when there is none). */
  info?: unknown;
  /** The id of the node that holds it (`NodeInfo.id`). */
  node: string;
  /** That node's name. */
  nodeName: string;
  /** 'websocket', or 'http' for the HTTP fallback transport. */
  transport: 'websocket' | 'http';
  /** The HTTP version of the request that opened it. */
  httpVersion: 1 | 2;
  /** When it connected (ms since the epoch, the node's clock). */
  connectedAt: number;
  /** How many channels it is subscribed to. */
  subscriptions: number;
}

/**
 * A page of a listing that every node answers (`channels`, `connections`):
 * the entries whose key (channel name, client id) comes after `after`, in
 * the order of their keys (JavaScript string order), at most `limit`.
 */
export interface PageQuery {
  after?: string;
  limit: number;
}

/** One page of a listing, merged over the nodes; `next` (the last key) when more may follow. */
export interface Page<T> {
  entries: T[];
  next?: string;
}

/** What one node answers for a page: its first `limit` entries after `after`, and whether it has more. */
interface NodePage<T> {
  entries: T[];
  more: boolean;
}

type ControlRequest =
  | ConnectionOperation
  | { op: 'node' }
  | { op: 'channels'; pattern?: string; after?: string; limit?: number }
  | { op: 'connections'; user?: string; after?: string; limit: number };

/** What a node answers, by request. */
interface Answers {
  disconnect: number;
  subscribe: number;
  unsubscribe: number;
  send: number;
  node: NodeInfo;
  /** An array: a node of an earlier version, which answers all its channels at once. */
  channels: NodePage<[channel: string, subscribers: number]> | Array<[channel: string, subscribers: number]>;
  connections: NodePage<ConnectionInfo>;
}

/** What the control plane needs of its server. */
export interface ControlHost {
  /** Carries out an operation on this node's connections; resolves how many it affected. */
  apply(operation: ConnectionOperation): Promise<number>;
  node(): NodeInfo;
  /** Channels with subscribers on this node, with their counts, filtered by `pattern` (channel-pattern.ts). */
  channels(pattern: string | undefined): Array<[string, number]>;
  /** This node's connected clients (only those of `user` when given), in no particular order. */
  connections(user: string | undefined): ConnectionInfo[];
  reportError(error: Error): void;
}

interface RequestMessage {
  v: number;
  kind: 'request';
  id: number;
  from: string;
  request: ControlRequest;
}

interface AnswerMessage {
  v: number;
  kind: 'answer';
  id: number;
  node: string;
  answer?: unknown;
  error?: string;
}

interface Gathering {
  answers: unknown[];
  /** Answers received, failures included. */
  received: number;
  /** How many nodes the request reached; unknown until `relay` resolved. */
  expected: number | undefined;
  done(): void;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The control plane of one node. */
export class ControlPlane {
  private readonly replyTarget: string;
  private readonly gatherings = new Map<number, Gathering>();
  private nextId = 0;

  constructor(
    private readonly broker: Broker,
    private readonly host: ControlHost,
    readonly nodeId: string,
    private readonly timeout: number,
  ) {
    this.replyTarget = `${REPLY_PREFIX}${nodeId}`;
  }

  /** Listens to the broadcast target and the node's own; call once the broker is started. */
  async start(): Promise<void> {
    await Promise.all([this.broker.listen(CONTROL_TARGET), this.broker.listen(this.replyTarget)]);
  }

  /** Ends the gatherings under way (with the answers they have). */
  close(): void {
    for (const gathering of [...this.gatherings.values()]) gathering.done();
  }

  /** A relayed message: true when it was the control plane's. */
  handle(target: string, text: string): boolean {
    if (target !== CONTROL_TARGET && target !== this.replyTarget) return false;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return true;
    }
    if (!isRecord(message) || message['v'] !== VERSION) return true;
    if (target === CONTROL_TARGET && message['kind'] === 'request') void this.answer(message as unknown as RequestMessage);
    else if (target === this.replyTarget && message['kind'] === 'answer') this.collect(message as unknown as AnswerMessage);
    return true;
  }

  /** Carries out `operation` on every node; resolves how many connections it affected in all. */
  async everywhere(operation: ConnectionOperation): Promise<number> {
    const answers = await this.ask<'disconnect' | 'subscribe' | 'unsubscribe' | 'send'>(operation);
    return answers.reduce((sum, count) => sum + (typeof count === 'number' ? count : 0), 0);
  }

  /** Every node that answered, in the order of their ids. */
  async nodes(): Promise<NodeInfo[]> {
    const answers = await this.ask<'node'>({ op: 'node' });
    return answers.filter((answer) => isRecord(answer) && typeof answer.id === 'string').sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Channels with subscribers on any node, with their subscribers summed
   * over the nodes, sorted by name: every one of them, asked for a page at a
   * time (`MAX_PAGE_ENTRIES` a page), so that no node's answer is larger.
   */
  async channels(pattern: string | undefined): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    let after: string | undefined;
    do {
      const page = await this.channelPage(pattern, { ...(after !== undefined && { after }), limit: MAX_PAGE_ENTRIES });
      for (const [channel, count] of page.entries) counts.set(channel, count);
      after = page.next;
    } while (after !== undefined);
    return counts;
  }

  /**
   * One page of `channels`: each node answers its first `limit` channels
   * (matching `pattern`) whose names come after `after`; their lists are
   * merged, counts summed per channel, and cut at `limit`. A channel on
   * several nodes is on one page only, with its whole count: every node's
   * answer holds all its channels up to its last one, and the merged page
   * ends no later than any node's last one when that node has more (its
   * `limit` distinct names are all in the merged list).
   */
  async channelPage(pattern: string | undefined, query: PageQuery): Promise<Page<[string, number]>> {
    const request: ControlRequest = { op: 'channels', ...(pattern !== undefined && { pattern }), ...(query.after !== undefined && { after: query.after }), limit: query.limit };
    const answers = await this.ask<'channels'>(request);
    const counts = new Map<string, number>();
    let more = false;
    for (const answer of answers) {
      const page = nodePage(answer, query, (entry): entry is [string, number] => Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'number', (entry) => entry[0]);
      more ||= page.more;
      for (const [channel, count] of page.entries) counts.set(channel, (counts.get(channel) ?? 0) + count);
    }
    return cut([...counts].sort(([a], [b]) => compareKeys(a, b)), query.limit, more, (entry) => entry[0]);
  }

  /** One page of the connections of every node (those of `user` when given), ordered by client id. */
  async connectionPage(user: string | undefined, query: PageQuery): Promise<Page<ConnectionInfo>> {
    const request: ControlRequest = { op: 'connections', ...(user !== undefined && { user }), ...(query.after !== undefined && { after: query.after }), limit: query.limit };
    const answers = await this.ask<'connections'>(request);
    const all: ConnectionInfo[] = [];
    let more = false;
    for (const answer of answers) {
      const page = nodePage(answer, query, isConnectionInfo, (entry) => entry.client);
      more ||= page.more;
      all.push(...page.entries);
    }
    return cut(all.sort((a, b) => compareKeys(a.client, b.client)), query.limit, more, (entry) => entry.client);
  }

  /** Relays a request to every node and gathers their answers (see the file's comment). */
  private async ask<K extends keyof Answers>(request: ControlRequest): Promise<Array<Answers[K]>> {
    const id = ++this.nextId;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const timer = setTimeout(() => gathering.done(), this.timeout);
    const gathering: Gathering = {
      answers: [],
      received: 0,
      expected: undefined,
      done: () => {
        clearTimeout(timer);
        this.gatherings.delete(id);
        finish();
      },
    };
    this.gatherings.set(id, gathering);
    const message: RequestMessage = { v: VERSION, kind: 'request', id, from: this.nodeId, request };
    try {
      gathering.expected = await this.broker.relay(CONTROL_TARGET, JSON.stringify(message));
    } catch (error) {
      gathering.done();
      throw error;
    }
    if (gathering.received >= gathering.expected) gathering.done();
    await finished;
    return gathering.answers as Array<Answers[K]>;
  }

  private collect(message: AnswerMessage): void {
    const gathering = this.gatherings.get(message.id);
    if (gathering === undefined) return;
    // A node that failed still answered: it is counted, so that nobody waits for it.
    gathering.received++;
    if (message.error !== undefined) this.host.reportError(new Error(`node ${String(message.node)}: ${message.error}`));
    else gathering.answers.push(message.answer);
    if (gathering.expected !== undefined && gathering.received >= gathering.expected) gathering.done();
  }

  private async answer(message: RequestMessage): Promise<void> {
    const reply: AnswerMessage = { v: VERSION, kind: 'answer', id: message.id, node: this.nodeId };
    try {
      reply.answer = await this.carryOut(message.request);
    } catch (error) {
      reply.error = asError(error).message;
    }
    try {
      await this.broker.relay(`${REPLY_PREFIX}${message.from}`, JSON.stringify(reply));
    } catch (error) {
      this.host.reportError(asError(error));
    }
  }

  private async carryOut(request: ControlRequest): Promise<unknown> {
    switch (request.op) {
      case 'node':
        return this.host.node();
      case 'channels': {
        const channels = this.host.channels(typeof request.pattern === 'string' ? request.pattern : undefined);
        // A requester of an earlier version asks without a limit, and reads a bare array of every channel.
        if (request.limit === undefined) return channels;
        return ownPage(channels, request, (entry) => entry[0]);
      }
      case 'connections':
        return ownPage(this.host.connections(typeof request.user === 'string' ? request.user : undefined), request, (entry) => entry.client);
      default:
        return this.host.apply(request);
    }
  }
}

/** A node's answer to a page request: its entries after `after`, sorted, the first `limit` of them. */
function ownPage<T>(entries: T[], request: { after?: unknown; limit?: unknown }, keyOf: (entry: T) => string): NodePage<T> {
  const after = typeof request.after === 'string' ? request.after : undefined;
  const limit = typeof request.limit === 'number' && Number.isSafeInteger(request.limit) && request.limit > 0 ? Math.min(request.limit, MAX_PAGE_ENTRIES) : MAX_PAGE_ENTRIES;
  return firstAfter(entries, after, limit, keyOf);
}

/**
 * A node's answer as the requester trusts it: well-formed entries after
 * `after`, sorted, at most `limit` (a node of an earlier version answers
 * every channel it has, as a bare array).
 */
function nodePage<T>(answer: unknown, query: PageQuery, valid: (entry: unknown) => entry is T, keyOf: (entry: T) => string): NodePage<T> {
  const raw = Array.isArray(answer) ? answer : isRecord(answer) && Array.isArray(answer['entries']) ? answer['entries'] : [];
  const more = isRecord(answer) && answer['more'] === true;
  const page = firstAfter(raw.filter(valid), query.after, query.limit, keyOf);
  return { entries: page.entries, more: more || page.more };
}

/** The merged, sorted entries of the nodes cut at `limit`; `next` when they were cut or a node has more. */
function cut<T>(sorted: T[], limit: number, more: boolean, keyOf: (entry: T) => string): Page<T> {
  const entries = sorted.slice(0, limit);
  const last = entries[entries.length - 1];
  return (more || sorted.length > limit) && last !== undefined ? { entries, next: keyOf(last) } : { entries };
}

function isConnectionInfo(entry: unknown): entry is ConnectionInfo {
  return (
    isRecord(entry) &&
    typeof entry['client'] === 'string' &&
    typeof entry['user'] === 'string' &&
    typeof entry['node'] === 'string' &&
    typeof entry['nodeName'] === 'string' &&
    (entry['transport'] === 'websocket' || entry['transport'] === 'http') &&
    (entry['httpVersion'] === 1 || entry['httpVersion'] === 2) &&
    typeof entry['connectedAt'] === 'number' &&
    typeof entry['subscriptions'] === 'number'
  );
}
