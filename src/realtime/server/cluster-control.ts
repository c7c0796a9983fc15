/**
 * The control plane of a cluster of real-time servers: operations addressed
 * to users or connections wherever they are connected (disconnect,
 * server-side subscribe and unsubscribe, send), and questions every node
 * answers (its connection counts, its channels).
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

/** The relay target every node listens to. Session ids (the HTTP fallback's targets) never contain ':'. */
export const CONTROL_TARGET = 'sb:control';
/** The prefix of each node's own reply target. */
const REPLY_PREFIX = 'sb:node:';
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

type ControlRequest = ConnectionOperation | { op: 'node' } | { op: 'channels'; pattern?: string };

/** What a node answers, by request. */
interface Answers {
  disconnect: number;
  subscribe: number;
  unsubscribe: number;
  send: number;
  node: NodeInfo;
  channels: Array<[channel: string, subscribers: number]>;
}

/** What the control plane needs of its server. */
export interface ControlHost {
  /** Carries out an operation on this node's connections; resolves how many it affected. */
  apply(operation: ConnectionOperation): Promise<number>;
  node(): NodeInfo;
  /** Channels with subscribers on this node, with their counts, filtered by `pattern` (channel-pattern.ts). */
  channels(pattern: string | undefined): Array<[string, number]>;
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

  /** Channels with subscribers on any node, with their subscribers summed over the nodes. */
  async channels(pattern: string | undefined): Promise<Map<string, number>> {
    const request: ControlRequest = pattern === undefined ? { op: 'channels' } : { op: 'channels', pattern };
    const answers = await this.ask<'channels'>(request);
    const counts = new Map<string, number>();
    for (const answer of answers) {
      if (!Array.isArray(answer)) continue;
      for (const entry of answer) {
        if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') continue;
        counts.set(entry[0], (counts.get(entry[0]) ?? 0) + entry[1]);
      }
    }
    return new Map([...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
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
      case 'channels':
        return this.host.channels(typeof request.pattern === 'string' ? request.pattern : undefined);
      default:
        return this.host.apply(request);
    }
  }
}
