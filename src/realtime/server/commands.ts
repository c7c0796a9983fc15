/**
 * The channel commands and client-to-server calls of connected sessions
 * (docs/protocol.md §4.3-4.8): the checks every one of them goes through
 * (channel name, namespace, namespace rules, the `authorize` hook, schemas),
 * then the broker, then the reply.
 */
import type { Broker, BrokerHistory } from '../broker/broker.js';
import type { ApiShape, StandardSchema } from '../wire/api.js';
import { ErrorCode } from '../wire/errors.js';
import type {
  CallCommand,
  ClientInfo,
  HistoryCommand,
  HistoryResult,
  PresenceMember,
  PresenceResult,
  PresenceStatsResult,
  PublishCommand,
  PublishResult,
  StreamPosition,
  SubscribeCommand,
  SubscribeResult,
} from '../wire/messages.js';
import type { ChannelHub } from './channels.js';
import { asError, fail, RpcError } from './errors.js';
import { isValidChannelName, type Namespace, type Namespaces } from './namespaces.js';
import type { AuthorizeAction, RealtimeServerOptions, ResolvedLimits, ResolvedTimings, SchemaOptions } from './options.js';
import { runWithTimeout, type MethodRegistry } from './rpc.js';
import { checkSchema } from './schema.js';
import { encodedSize } from './validate.js';
import type { ChannelCommand, ServerSession, Session } from './session.js';

/** What the commands work with. */
export interface CommandDeps<A extends ApiShape> {
  readonly broker: Broker;
  readonly hub: ChannelHub;
  readonly namespaces: Namespaces;
  readonly limits: ResolvedLimits;
  readonly timings: ResolvedTimings;
  readonly methods: MethodRegistry<Session<A>>;
  readonly schemas: SchemaOptions<A>;
  readonly authorize: RealtimeServerOptions<A>['authorize'];
  /** A failure the client only sees as `internal` or `broker_unavailable`. */
  reportError(error: Error): void;
  /** Tracks a broker call that must finish before the broker closes (presence removal). */
  track(work: Promise<unknown>): void;
  subscribed(session: ServerSession<A>, channel: string): void;
  unsubscribed(session: ServerSession<A>, channel: string): void;
}

/** The presence member (and publisher info) of a session. */
export function clientInfoOf(session: Pick<Session<ApiShape>, 'id' | 'user' | 'info'>): ClientInfo {
  return session.info === undefined ? { client: session.id, user: session.user } : { client: session.id, user: session.user, info: session.info };
}

export class Commands<A extends ApiShape> {
  constructor(private readonly deps: CommandDeps<A>) {}

  /** Runs one command and writes its reply (an error reply when it fails). */
  async run(session: ServerSession<A>, command: ChannelCommand): Promise<void> {
    try {
      switch (command.type) {
        case 'subscribe':
          return await this.subscribe(session, command);
        case 'unsubscribe':
          await this.unsubscribe(session, command.channel);
          return session.reply(command.id, {});
        case 'publish':
          return session.reply(command.id, await this.publish(session, command));
        case 'presence':
          return session.reply(command.id, await this.presence(session, command.channel));
        case 'presence_stats':
          return session.reply(command.id, await this.presenceStats(session, command.channel));
        case 'history':
          return session.reply(command.id, await this.history(session, command));
        case 'call':
          return session.reply(command.id, { data: await this.call(session, command) });
      }
    } catch (error) {
      session.replyError(command.id, error);
    }
  }

  /**
   * Ends a subscription the server's way (or at disconnect): no push of the
   * channel after this returns; the presence member is removed.
   */
  async drop(session: ServerSession<A>, channel: string, announce = true): Promise<boolean> {
    if (!session.subscriptions.delete(channel)) return false;
    this.deps.hub.remove(channel, session);
    if (session.presenceChannels.delete(channel)) await this.removePresence(channel, session.id);
    if (announce) this.deps.unsubscribed(session, channel);
    return true;
  }

  // ------------------------------------------------------------ checks

  /** The namespace of a valid channel name; `bad_request` or `not_found` otherwise. */
  namespaceOf(channel: string): Namespace {
    if (!isValidChannelName(channel)) throw fail.badRequest('a channel name is 1 to 255 visible ASCII characters');
    const namespace = this.deps.namespaces.of(channel);
    if (namespace === undefined) throw fail.notFound(`unknown namespace in ${channel}`);
    return namespace;
  }

  /** Namespace rules (anonymous users) and the `authorize` hook; `forbidden` when refused. */
  private async authorize(session: ServerSession<A>, namespace: Namespace, channel: string, action: AuthorizeAction, data?: unknown): Promise<void> {
    if (!namespace.anonymous && session.user === '') throw fail.forbidden(`anonymous users may not ${action} in ${channel}`);
    const hook = this.deps.authorize;
    if (hook === undefined) return;
    let allowed: boolean;
    try {
      allowed = await hook({ session, channel, action, data });
    } catch (error) {
      this.deps.reportError(asError(error));
      throw new RpcError(ErrorCode.Internal, 'internal server error');
    }
    if (allowed !== true) throw fail.forbidden(`not allowed to ${action} in ${channel}`);
  }

  /** Runs a broker call; a failure is reported and becomes `broker_unavailable`. */
  private async viaBroker<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      this.deps.reportError(asError(error));
      throw fail.brokerUnavailable();
    }
  }

  // ------------------------------------------------------------ subscribe, unsubscribe

  private async subscribe(session: ServerSession<A>, command: SubscribeCommand): Promise<void> {
    const { channel } = command;
    const namespace = this.namespaceOf(channel);
    if (session.subscriptions.has(channel)) throw new RpcError(ErrorCode.AlreadySubscribed, `already subscribed to ${channel}`);
    if (session.subscriptions.size >= this.deps.limits.maxSubscriptions) {
      throw new RpcError(ErrorCode.LimitExceeded, `at most ${this.deps.limits.maxSubscriptions} subscriptions per connection`);
    }
    await this.authorize(session, namespace, channel, 'subscribe', command.data);
    if (session.isClosed) return;
    session.subscriptions.add(channel);
    let result: SubscribeResult;
    try {
      result = await this.startSubscription(session, namespace, channel, command.since);
    } catch (error) {
      await this.drop(session, channel, false);
      throw error;
    }
    if (session.isClosed || !session.subscriptions.has(channel)) return;
    session.reply(command.id, result);
    this.deps.hub.activate(channel, session, result.offset);
    this.deps.subscribed(session, channel);
  }

  /** Registers the (pending) local subscriber, reads the position (and missed publications), joins presence. */
  private async startSubscription(session: ServerSession<A>, namespace: Namespace, channel: string, since: StreamPosition | undefined): Promise<SubscribeResult> {
    await this.viaBroker(() => this.deps.hub.add(channel, session));
    const result = await this.viaBroker(() => this.position(namespace, channel, since));
    if (namespace.presence && !session.isClosed) {
      session.presenceChannels.add(channel);
      await this.viaBroker(() => this.deps.broker.addPresence(channel, clientInfoOf(session), this.deps.timings.presenceTtl));
      // The connection may have closed while the member was added: take it out again.
      if (session.isClosed) this.deps.track(this.removePresence(channel, session.id));
    }
    return result;
  }

  /** The subscribe result: the current position, and with `since` the recovery. */
  private async position(namespace: Namespace, channel: string, since: StreamPosition | undefined): Promise<SubscribeResult> {
    const { broker } = this.deps;
    const recoverable = namespace.history !== null;
    if (since === undefined || !recoverable) {
      const position = await broker.position(channel);
      const result: SubscribeResult = { offset: position.offset, epoch: position.epoch, recoverable };
      if (since !== undefined) result.recovered = false;
      return result;
    }
    const history: BrokerHistory = await broker.history(channel, { since });
    const { offset, epoch } = history.position;
    if (!history.complete) return { offset, epoch, recoverable, recovered: false };
    return { offset, epoch, recoverable, recovered: true, publications: history.publications };
  }

  private async unsubscribe(session: ServerSession<A>, channel: string): Promise<void> {
    if (!session.subscriptions.has(channel)) throw new RpcError(ErrorCode.NotSubscribed, `not subscribed to ${channel.slice(0, 255)}`);
    await this.drop(session, channel);
  }

  private async removePresence(channel: string, client: string): Promise<void> {
    try {
      await this.deps.broker.removePresence(channel, client);
    } catch (error) {
      this.deps.reportError(asError(error));
    }
  }

  // ------------------------------------------------------------ publish, presence, history

  private async publish(session: ServerSession<A>, command: PublishCommand): Promise<PublishResult> {
    const { channel } = command;
    const namespace = this.namespaceOf(channel);
    const maxSize = this.deps.limits.maxPublishSize;
    if (encodedSize(session.codec, command.data) > maxSize) throw new RpcError(ErrorCode.LimitExceeded, `publication data over ${maxSize} bytes`);
    if (namespace.publish === false) throw fail.forbidden(`clients may not publish in ${channel}`);
    if (namespace.publish === 'subscribers' && !session.subscriptions.has(channel)) {
      throw fail.forbidden(`subscribe to ${channel} to publish in it`);
    }
    await this.authorize(session, namespace, channel, 'publish', command.data);
    const schema = this.deps.schemas.channels?.[namespace.name];
    const data = schema === undefined ? command.data : await checkSchema(schema, command.data, 'the publication data');
    const info = namespace.publisherInfo ? clientInfoOf(session) : undefined;
    const history = namespace.history ?? undefined;
    const published = await this.viaBroker(() => this.deps.broker.publish(channel, data, { history, info }));
    return { offset: published.offset, epoch: published.epoch };
  }

  private async members(session: ServerSession<A>, channel: string): Promise<PresenceMember[]> {
    const namespace = this.namespaceOf(channel);
    if (!namespace.presence) throw fail.unavailable(`no presence in ${channel}`);
    await this.authorize(session, namespace, channel, 'presence');
    return this.viaBroker(() => this.deps.broker.presence(channel));
  }

  private async presence(session: ServerSession<A>, channel: string): Promise<PresenceResult> {
    return { members: await this.members(session, channel) };
  }

  private async presenceStats(session: ServerSession<A>, channel: string): Promise<PresenceStatsResult> {
    const members = await this.members(session, channel);
    return { clients: members.length, users: new Set(members.map((member) => member.user)).size };
  }

  private async history(session: ServerSession<A>, command: HistoryCommand): Promise<HistoryResult> {
    const { channel } = command;
    const namespace = this.namespaceOf(channel);
    if (namespace.history === null) throw fail.unavailable(`no history in ${channel}`);
    await this.authorize(session, namespace, channel, 'history');
    const max = this.deps.limits.maxHistoryLimit;
    const limit = Math.min(command.limit ?? max, max);
    const since = command.since;
    const history = await this.viaBroker(() => this.deps.broker.history(channel, since === undefined ? { limit } : { since, limit }));
    return { publications: history.publications, offset: history.position.offset, epoch: history.position.epoch };
  }

  // ------------------------------------------------------------ call

  private async call(session: ServerSession<A>, command: CallCommand): Promise<unknown> {
    const { method } = command;
    const handler = this.deps.methods.get(method);
    if (handler === undefined) throw fail.notFound(`no method ${method.slice(0, 100)}`);
    const schemas = this.deps.schemas.methods as Readonly<Record<string, StandardSchema | undefined>> | undefined;
    const schema = schemas?.[method];
    const params = schema === undefined ? command.data : await checkSchema(schema, command.data, 'the params');
    return runWithTimeout(() => handler(params, session), this.deps.timings.rpcTimeout);
  }
}
