/**
 * The channel commands and client-to-server calls of connected sessions
 * (docs/protocol.md §4.3-4.8): the checks every one of them goes through
 * (channel name, namespace, namespace rules, the `authorize` hook, schemas),
 * then the broker, then the reply.
 */
import type { Broker } from '../broker/broker.js';
import type { ApiShape, StandardSchema } from '../wire/api.js';
import { jsonCodec, type Codec } from '../wire/codec.js';
import { encodedBytes, encodeValue, type EncodedPublication, type EncodedValue } from '../wire/encoded.js';
import { ErrorCode } from '../wire/errors.js';
import type {
  CallCommand,
  ClientInfo,
  HistoryCommand,
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
import { isValidChannelName, personalUsers, type Namespace, type Namespaces } from './namespaces.js';
import { ShapedDelivery } from './shaped-delivery.js';
import type { AuthorizeAction, RealtimeServerOptions, ResolvedLimits, ResolvedTimings, SchemaOptions } from './options.js';
import { isThenable, runWithTimeout, type MethodRegistry } from './rpc.js';
import type { PublishTurn } from './publish-pipeline.js';
import { checkSchema } from './schema.js';
import { hasProtoKey } from './validate.js';
import type { ChannelCommand, ServerSession, Session } from './session.js';
import { pageOfPublications, replyWithPublications } from './splice.js';

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
  readonly fallbackMethod: RealtimeServerOptions<A>['fallbackMethod'];
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

/** Server-published data that passed the checks of a client's publish, encoded. */
export interface CheckedPublication {
  readonly channel: string;
  readonly namespace: Namespace;
  readonly encoded: EncodedValue;
}

/** A subscribe result with the recovered publications still encoded, as the broker kept them. */
interface SubscribeOutcome {
  result: SubscribeResult;
  publications: EncodedPublication[];
}

export class Commands<A extends ApiShape> {
  /** Each session's publisher info, encoded once in its codec. */
  private readonly encodedInfo = new WeakMap<ServerSession<A>, EncodedValue>();

  constructor(private readonly deps: CommandDeps<A>) {}

  /**
   * Runs one command and writes its reply (an error reply when it fails). A
   * pipelined publish (`turn`, publish-pipeline.ts) reports when it handed
   * its publication to the broker, and writes its reply after the previous one.
   */
  run(session: ServerSession<A>, command: ChannelCommand, turn?: PublishTurn): void | Promise<void> {
    return command.type === 'call' ? this.runCall(session, command) : this.runChannelCommand(session, command, turn);
  }

  private async runChannelCommand(session: ServerSession<A>, command: Exclude<ChannelCommand, CallCommand>, turn?: PublishTurn): Promise<void> {
    try {
      switch (command.type) {
        case 'subscribe':
          return await this.subscribe(session, command);
        case 'unsubscribe':
          await this.unsubscribe(session, command.channel);
          return session.reply(command.id, {});
        case 'publish': {
          const result = await this.publish(session, command, turn);
          await turn?.previous;
          return session.reply(command.id, result);
        }
        case 'presence':
          return session.reply(command.id, await this.presence(session, command.channel));
        case 'presence_stats':
          return session.reply(command.id, await this.presenceStats(session, command.channel));
        case 'history':
          return await session.replyEncoded(await this.history(session, command));
      }
    } catch (error) {
      if (turn !== undefined) {
        turn.handedOver();
        await turn.previous;
      }
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

  /**
   * A subscription the server makes for `session` (a server-side
   * subscription: no namespace rules, no `authorize`): announced with a
   * `subscribed` push, then the channel's publications follow. False when
   * the session is already subscribed, at its subscription limit, or closed.
   * Call it from the session's queue (`ServerSession.runQueued`).
   */
  async serverSubscribe(session: ServerSession<A>, channel: string): Promise<boolean> {
    const namespace = this.namespaceOf(channel);
    const { subscriptions } = session;
    if (session.isClosed || subscriptions.has(channel) || subscriptions.size >= this.deps.limits.maxSubscriptions) return false;
    subscriptions.add(channel);
    let outcome: SubscribeOutcome;
    try {
      outcome = await this.startSubscription(session, namespace, channel, undefined);
    } catch (error) {
      await this.drop(session, channel, false);
      throw error;
    }
    if (session.isClosed || !subscriptions.has(channel)) return false;
    const { offset, epoch, recoverable } = outcome.result;
    session.write({ type: 'subscribed', channel, offset, epoch, recoverable });
    this.deps.hub.activate(channel, session, offset);
    this.deps.subscribed(session, channel);
    return true;
  }

  /**
   * Checks data that server code (the server API) publishes as a client's
   * publish is checked — the size limit, no `__proto__` key, the namespace's
   * schema — but not the namespace's publish rule nor `authorize`. Returns
   * the data encoded as JSON, ready for `publishChecked`.
   */
  async checkServerPublication(channel: string, data: unknown): Promise<CheckedPublication> {
    const namespace = this.namespaceOf(channel);
    const maxSize = this.deps.limits.maxPublishSize;
    let encoded = encodeValue(data, jsonCodec);
    if (encodedBytes(encoded) > maxSize) throw new RpcError(ErrorCode.LimitExceeded, `publication data over ${maxSize} bytes`);
    if (hasProtoKey(data)) throw new RpcError(ErrorCode.InvalidData, 'a "__proto__" key cannot be published (MessagePack clients could not decode it)');
    const schema = this.deps.schemas.channels?.[namespace.name];
    if (schema !== undefined) encoded = encodeValue(await checkSchema(schema, data, 'the publication data'), jsonCodec);
    return { channel, namespace, encoded };
  }

  /** Publishes what `checkServerPublication` accepted. */
  async publishChecked(checked: CheckedPublication): Promise<PublishResult> {
    const history = checked.namespace.history ?? undefined;
    const published = await this.viaBroker(() => this.deps.broker.publish(checked.channel, { data: checked.encoded }, { history }));
    return { offset: published.offset, epoch: published.epoch };
  }

  // ------------------------------------------------------------ checks

  /** The namespace of a valid channel name; `bad_request` or `not_found` otherwise. */
  namespaceOf(channel: string): Namespace {
    if (!isValidChannelName(channel)) throw fail.badRequest('a channel name is 1 to 255 visible ASCII characters');
    const namespace = this.deps.namespaces.of(channel);
    if (namespace === undefined) throw fail.notFound(`unknown namespace in ${channel}`);
    return namespace;
  }

  /**
   * Namespace rules (anonymous users) and the `authorize` hook: `forbidden`
   * when refused, the hook's own `RpcError` when it throws one. Resolves
   * the hook's `{ data }` for a publish (what is published instead) or a
   * subscribe (sent in the subscribe result), if any.
   */
  private async authorize(session: ServerSession<A>, namespace: Namespace, channel: string, action: AuthorizeAction, data?: unknown): Promise<{ data: unknown } | undefined> {
    if (!namespace.anonymous && session.user === '') throw fail.forbidden(`anonymous users may not ${action} in ${channel}`);
    if (namespace.personal && (session.user === '' || !personalUsers(channel).includes(session.user))) {
      throw fail.forbidden(`${channel.slice(0, 255)} is a personal channel: only the users named after its "#" may ${action} in it`);
    }
    const hook = this.deps.authorize;
    if (hook === undefined) return undefined;
    let decision: unknown;
    try {
      decision = await hook({ session, channel, action, data });
    } catch (error) {
      if (error instanceof RpcError) throw error;
      this.deps.reportError(asError(error));
      throw new RpcError(ErrorCode.Internal, 'internal server error');
    }
    if (decision === true) return undefined;
    if (typeof decision === 'object' && decision !== null && 'data' in decision) {
      return action === 'publish' || action === 'subscribe' ? { data: decision.data } : undefined;
    }
    throw fail.forbidden(`not allowed to ${action} in ${channel}`);
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
    const granted = (await this.authorize(session, namespace, channel, 'subscribe', command.data))?.data;
    const grantedBytes = granted === undefined ? 0 : this.subscribeDataBytes(granted, session.codec);
    if (session.isClosed) return;
    session.subscriptions.add(channel);
    let outcome: SubscribeOutcome;
    try {
      outcome = await this.startSubscription(session, namespace, channel, command.since);
    } catch (error) {
      await this.drop(session, channel, false);
      throw error;
    }
    if (session.isClosed || !session.subscriptions.has(channel)) return;
    if (granted !== undefined) outcome.result.data = granted;
    const delta = command.delta === true && namespace.delta;
    if (delta) outcome.result.delta = ShapedDelivery.deltaTerms(namespace, session.codec);
    await session.replyEncoded(this.subscribeReply(session.codec, command.id, outcome, grantedBytes));
    if (session.isClosed || !session.subscriptions.has(channel)) return;
    this.deps.hub.activate(channel, session, outcome.result.offset);
    this.deps.hub.shaping?.subscribed(channel, session, outcome.result.offset, delta);
    this.deps.subscribed(session, channel);
  }

  /** The encoded size of the `authorize` hook's subscribe data; `limit_exceeded` over `maxPublishSize`. */
  private subscribeDataBytes(data: unknown, codec: Codec): number {
    const bytes = encodedBytes(encodeValue(data, codec));
    const max = this.deps.limits.maxPublishSize;
    if (bytes > max) {
      this.deps.reportError(new RangeError(`the subscribe data of the authorize hook took ${bytes} bytes, over limits.maxPublishSize (${max}): the client got limit_exceeded`));
      throw new RpcError(ErrorCode.LimitExceeded, `the subscribe data is over ${max} bytes`);
    }
    return bytes;
  }

  /**
   * The subscribe reply; a recovery carries the publications that fit the
   * byte budget (less the hook's `data`), and says `more` when others follow.
   */
  private subscribeReply(codec: Codec, id: number, outcome: SubscribeOutcome, dataBytes: number): EncodedValue {
    const { result, publications } = outcome;
    if (result.recovered !== true) return codec.encode({ type: 'reply', id, result });
    const page = pageOfPublications(codec, publications, Math.max(1, this.deps.limits.maxReplyBytes - dataBytes));
    const head: SubscribeResult = { ...result };
    if (result.more === true || page.count < publications.length) head.more = true;
    else delete head.more;
    return replyWithPublications(codec, id, head, page.entries);
  }

  /** Registers the (pending) local subscriber, reads the position (and missed publications), joins presence. */
  private async startSubscription(session: ServerSession<A>, namespace: Namespace, channel: string, since: StreamPosition | undefined): Promise<SubscribeOutcome> {
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

  /**
   * The subscribe result: the current position, and with `since` the
   * recovery — its first page (by the reply's byte budget): the recovery
   * holds when that page continues right after `since`.
   */
  private async position(namespace: Namespace, channel: string, since: StreamPosition | undefined): Promise<SubscribeOutcome> {
    const { broker } = this.deps;
    const recoverable = namespace.history !== null;
    if (since === undefined || !recoverable) {
      const position = await broker.position(channel);
      const result: SubscribeResult = { offset: position.offset, epoch: position.epoch, recoverable };
      if (since !== undefined) result.recovered = false;
      return { result, publications: [] };
    }
    const history = await broker.history(channel, { since, maxBytes: this.deps.limits.maxReplyBytes });
    const { offset, epoch } = history.position;
    const first = history.publications[0];
    const continues = history.complete || (history.truncated && first !== undefined && first.offset === since.offset + 1);
    if (!continues) return { result: { offset, epoch, recoverable, recovered: false }, publications: [] };
    const result: SubscribeResult = { offset, epoch, recoverable, recovered: true };
    if (history.truncated) result.more = true;
    return { result, publications: history.publications };
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

  /**
   * Validates once (size, namespace rules, authorization, schema), then
   * hands the broker the data encoded in the publisher's codec: from here
   * on the publication is those bytes (docs/protocol.md §5.2).
   */
  private async publish(session: ServerSession<A>, command: PublishCommand, turn: PublishTurn | undefined): Promise<PublishResult> {
    const { channel } = command;
    const namespace = this.namespaceOf(channel);
    let data = command.data;
    let encoded = this.encodePublication(data, session.codec);
    if (namespace.publish === false) throw fail.forbidden(`clients may not publish in ${channel}`);
    if (namespace.publish === 'subscribers' && !session.subscriptions.has(channel)) {
      throw fail.forbidden(`subscribe to ${channel} to publish in it`);
    }
    const replacement = await this.authorize(session, namespace, channel, 'publish', data);
    if (replacement !== undefined) encoded = this.encodePublication((data = replacement.data), session.codec);
    const schema = this.deps.schemas.channels?.[namespace.name];
    if (schema !== undefined) encoded = encodeValue(await checkSchema(schema, data, 'the publication data'), session.codec);
    const info = namespace.publisherInfo ? this.publisherInfo(session) : undefined;
    const history = namespace.history ?? undefined;
    const body = info === undefined ? { data: encoded } : { data: encoded, info };
    // The broker takes the publication when `publish` is called: the connection's next publish may start.
    const pending = this.viaBroker(() => this.deps.broker.publish(channel, body, { history }));
    turn?.handedOver();
    const published = await pending;
    return { offset: published.offset, epoch: published.epoch };
  }

  /** Publication data encoded in `codec`; `limit_exceeded` over `maxPublishSize`, `invalid_data` with a `__proto__` key. */
  private encodePublication(data: unknown, codec: Codec): EncodedValue {
    const maxSize = this.deps.limits.maxPublishSize;
    const encoded = encodeValue(data, codec);
    if (encodedBytes(encoded) > maxSize) throw new RpcError(ErrorCode.LimitExceeded, `publication data over ${maxSize} bytes`);
    if (hasProtoKey(data)) throw new RpcError(ErrorCode.InvalidData, 'a "__proto__" key cannot be published (MessagePack clients could not decode it)');
    return encoded;
  }

  /** The session's publisher info in its codec, encoded once. */
  private publisherInfo(session: ServerSession<A>): EncodedValue {
    let info = this.encodedInfo.get(session);
    if (info === undefined) this.encodedInfo.set(session, (info = encodeValue(clientInfoOf(session), session.codec)));
    return info;
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

  /**
   * A history page: the publications asked for, up to the reply's byte
   * budget, spliced into the reply as kept; `more` when the budget cut it
   * (docs/protocol.md §4.8).
   */
  private async history(session: ServerSession<A>, command: HistoryCommand): Promise<EncodedValue> {
    const { channel } = command;
    const namespace = this.namespaceOf(channel);
    if (namespace.history === null) throw fail.unavailable(`no history in ${channel}`);
    await this.authorize(session, namespace, channel, 'history');
    const max = this.deps.limits.maxHistoryLimit;
    const limit = Math.min(command.limit ?? max, max);
    const since = command.since;
    const maxBytes = this.deps.limits.maxReplyBytes;
    const history = await this.viaBroker(() => this.deps.broker.history(channel, since === undefined ? { limit, maxBytes } : { since, limit, maxBytes }));
    const page = pageOfPublications(session.codec, history.publications, maxBytes);
    const result: { offset: number; epoch: string; more?: boolean } = { offset: history.position.offset, epoch: history.position.epoch };
    if (history.truncated || page.count < history.publications.length) result.more = true;
    return replyWithPublications(session.codec, command.id, result, page.entries);
  }

  // ------------------------------------------------------------ call

  /**
   * Runs a call and writes its reply (an error reply when it fails). A
   * handler that returns a value is answered at once, in the same turn,
   * with no promise in between: only a thenable result, a schema check or a
   * full outbound buffer make the reply wait.
   */
  private runCall(session: ServerSession<A>, command: CallCommand): void | Promise<void> {
    const failed = (error: unknown): void => session.replyError(command.id, error);
    try {
      const data = this.call(session, command);
      if (isThenable(data)) return Promise.resolve(data).then((value) => this.replyToCall(session, command.id, value)).catch(failed);
      const written = this.replyToCall(session, command.id, data);
      if (written !== undefined) return written.catch(failed);
    } catch (error) {
      failed(error);
    }
  }

  /** A method's result, unless it is over the reply's byte budget: then `limit_exceeded`, and the application hears why. */
  private replyToCall(session: ServerSession<A>, id: number, data: unknown): void | Promise<void> {
    const payload = session.codec.encode({ type: 'reply', id, result: { data } });
    const size = encodedBytes(payload);
    const max = this.deps.limits.maxReplyBytes;
    if (size <= max) return session.replyEncoded(payload, size);
    this.deps.reportError(new RangeError(`a method's result took ${size} bytes, over limits.maxReplyBytes (${max}): the caller got limit_exceeded`));
    session.replyError(id, new RpcError(ErrorCode.LimitExceeded, `the result is over ${max} bytes`));
  }

  /** The method's result, or the promise of it (a thenable result, a schema check); throws what the lookup or a synchronous handler threw. */
  private call(session: ServerSession<A>, command: CallCommand): unknown {
    const { method } = command;
    const handler = this.deps.methods.get(method);
    if (handler === undefined) {
      const fallback = this.deps.fallbackMethod;
      if (fallback === undefined) throw fail.notFound(`no method ${method.slice(0, 100)}`);
      return runWithTimeout(() => fallback(method, command.data, session), this.deps.timings.rpcTimeout);
    }
    const schemas = this.deps.schemas.methods as Readonly<Record<string, StandardSchema | undefined>> | undefined;
    const schema = schemas?.[method];
    const timeout = this.deps.timings.rpcTimeout;
    if (schema === undefined) return runWithTimeout(() => handler(command.data, session), timeout);
    return checkSchema(schema, command.data, 'the params').then((params) => runWithTimeout(() => handler(params, session), timeout));
  }
}
