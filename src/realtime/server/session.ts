/**
 * One real-time connection (docs/protocol.md §2): the state machine
 * AWAITING_CONNECT → CONNECTED → CLOSED, the decoding and validation of
 * incoming messages, the rate limit, the queue that runs commands in arrival
 * order (a `call` starts in order but does not hold up later commands, and
 * consecutive publishes are pipelined: publish-pipeline.ts), the
 * connect timeout, the credential's expiry and refresh, and server-to-client
 * calls. Channel commands are carried out by the server's `Commands`.
 *
 * A session writes to a `SessionLink`: its WebSocket, or the event stream of
 * the HTTP fallback transport (which hands it decoded messages through
 * `receiveMessage`); the protocol is the same over both.
 */
import type { IncomingMessage } from 'node:http';
import { ServerWebSocket } from '../../node/server-index.js';
import type { ApiShape, ClientMethodName, ClientMethodParams, ClientMethodResult, UntypedApi } from '../wire/api.js';
import type { Codec } from '../wire/codec.js';
import { encodedBytes, type EncodedValue } from '../wire/encoded.js';
import { DisconnectCode, ErrorCode, shouldReconnect } from '../wire/errors.js';
import type {
  CallCommand,
  ClientMessage,
  ConnectCommand,
  ConnectResult,
  RefreshCommand,
  ServerMessage,
} from '../wire/messages.js';
import { bearerToken, HookError, type CredentialChecker } from './credentials.js';
import { asError, DISCONNECTED, DisconnectError, errorBodyOf, fail, RpcError } from './errors.js';
import type { RealtimeSocket, SessionLink } from './fanout.js';
import type { HeartbeatMember } from './heartbeat.js';
import type { AuthOutcome } from './authentication.js';
import type { ResolvedLimits, ResolvedTimings } from './limits.js';
import { ByteBudget, TokenBucket } from './rate-limit.js';
import type { Traffic } from './stats.js';
import { PublishPipeline, type PublishTurn } from './publish-pipeline.js';
import { OutgoingCalls } from './rpc.js';
import { parseClientMessage } from './validate.js';

/** A connection as the application sees it (in events, hooks and handlers). */
export interface Session<A extends ApiShape = UntypedApi> {
  /** The connection's id (the `client` of the connect result); '' before `connect` succeeded. */
  readonly id: string;
  /** The user id; '' for an anonymous client. */
  readonly user: string;
  /** The user's info from authentication (shown in presence and publications). */
  readonly info: unknown;
  /** The `data` the `authenticate` hook returned (also sent in the connect result). */
  readonly data: unknown;
  /** Channels this connection is subscribed to. */
  readonly subscriptions: ReadonlySet<string>;
  readonly remoteAddress?: string | undefined;
  /** The subprotocol spoken: 'switchboard.v1.json' or 'switchboard.v1.msgpack'. */
  readonly protocol: string;
  /** 'websocket', or 'http' for the HTTP fallback transport (docs/protocol.md §11). */
  readonly transport: SessionTransport;
  /**
   * The HTTP version of the request that opened the connection: 2 for a
   * WebSocket over HTTP/2 (RFC 8441) or a fallback session opened over h2.
   */
  readonly httpVersion: 1 | 2;
  /** Calls a method the client handles; rejects with `RpcError` (the client's code, `timeout` or `disconnected`). */
  call<M extends ClientMethodName<A>>(method: M, params: ClientMethodParams<A, M>, options?: { timeout?: number }): Promise<ClientMethodResult<A, M>>;
  /** Sends a one-way `message` push. */
  send(data: unknown): void;
  /** Ends the subscription to `channel` (an `unsubscribed` push with code 'server'). */
  unsubscribe(channel: string, reason?: string): void;
  /**
   * Subscribes the connection to `channel` from the server (a server-side
   * subscription: a `subscribed` push, then the channel's publications; no
   * namespace rules, no `authorize`). Resolves false when it was subscribed
   * already, is at its subscription limit, or closed.
   */
  subscribe(channel: string): Promise<boolean>;
  /** Sends `disconnect` and closes with `code` (default 4000: the client may reconnect). */
  disconnect(code?: number, reason?: string): void;
  /**
   * Emulates a slow downlink to this client, for demos and tests of
   * conflation and slow-consumer handling: what the server sends it goes to
   * the socket at most `bytesPerSecond` (an integer of at least 1,024;
   * RangeError otherwise); the rest waits in its outbound buffer, which
   * `limits.maxQueuedBytes` still bounds. null lifts it. False (and nothing
   * done) for the HTTP fallback transport or a closed session.
   */
  paceDownlink(bytesPerSecond: number | null): boolean;
}

export type SessionState = 'awaiting_connect' | 'connected' | 'closed';

/** How a session's messages travel. */
export type SessionTransport = 'websocket' | 'http';

/** What a session needs from its server. */
export interface SessionHost<A extends ApiShape> {
  readonly timings: ResolvedTimings;
  readonly limits: ResolvedLimits;
  /** The largest message the client may send, in bytes. */
  readonly maxMessageSize: number;
  readonly credentials: CredentialChecker;
  /** Counts the messages in and out. */
  readonly traffic: Traffic;
  /** Resolves once the broker is started; rejects if it could not start. */
  brokerReady(): Promise<void>;
  /** A fresh id for a connection, unique across the cluster. */
  newClientId(): string;
  /**
   * Runs a channel command or a `call`, and writes its reply. A pipelined
   * `publish` gets its `turn`: it reports when its publication is handed to
   * the broker, and writes its reply only after the previous publish's.
   */
  runCommand(session: ServerSession<A>, command: ChannelCommand, turn?: PublishTurn): void | Promise<void>;
  /** Server-side unsubscribe (from `Session.unsubscribe`); false when it was not subscribed. */
  dropSubscription(session: ServerSession<A>, channel: string): Promise<boolean>;
  /** Server-side subscribe (from `Session.subscribe`); false when it did not subscribe. */
  serverSubscribe(session: ServerSession<A>, channel: string): Promise<boolean>;
  /** `connect` succeeded and its reply is written. */
  connected(session: ServerSession<A>): void;
  /** The connection ended; called once. */
  closed(session: ServerSession<A>, code: number, reason: string, wasConnected: boolean): void;
  /** A `send` from the client. */
  message(session: ServerSession<A>, data: unknown): void;
  /** A failure of the application's code or the broker that the client only sees as `internal`. */
  reportError(error: Error): void;
}

/** Commands the server's `Commands` carry out. */
export type ChannelCommand = Extract<ClientMessage, { type: 'subscribe' | 'unsubscribe' | 'publish' | 'presence' | 'presence_stats' | 'history' | 'call' }>;

/** A unit of work in the session's queue: a client message, or the server's own step. */
type Task = ClientMessage | { type: 'invalid'; id: number; reason: string } | { type: 'internal'; run: () => Promise<void> };

/** setTimeout's longest delay; longer waits are re-armed. */
const MAX_TIMER_DELAY = 2 ** 31 - 1;
/** Longest close reason in bytes (a close frame holds 123). */
const MAX_REASON_BYTES = 123;
/** How often (ms) a reply waiting for room in the outbound buffer looks again. */
const REPLY_WAIT_POLL = 10;
/** The send options of every message (one object each, not one per send: a broadcast to many streams sends often). */
const AS_BINARY = Object.freeze({ binary: true });
const AS_TEXT = Object.freeze({ binary: false });

/** The queue is compacted once this many finished tasks sit at its head. */
const QUEUE_COMPACT_AT = 1024;

function onSocketMessage(this: RealtimeSocket, data: Buffer, binary: boolean): void {
  (this.data as ServerSession<ApiShape> | undefined)?.receive(data, binary);
}

function onSocketClose(this: RealtimeSocket, code: number, reason: string): void {
  (this.data as ServerSession<ApiShape> | undefined)?.socketClosed(code, reason);
}

/** The link as a WebSocket of the real-time server, or null when it is another transport. */
function webSocketOf(link: SessionLink): RealtimeSocket | null {
  return link instanceof ServerWebSocket ? (link as RealtimeSocket) : null;
}

/** Throws a `RangeError` for a close code or reason a close frame cannot carry. */
export function checkClose(code: number, reason: string): void {
  const allowed = code === 1000 || code === 1001 || (Number.isInteger(code) && code >= 3000 && code <= 4999);
  if (!allowed) throw new RangeError(`invalid close code ${code} (1000, 1001 or 3000-4999)`);
  if (Buffer.byteLength(reason, 'utf8') > MAX_REASON_BYTES) throw new RangeError('a close reason is at most 123 bytes');
}

/** Cuts a text to a valid close reason. */
function shortReason(text: string): string {
  let reason = text.slice(0, MAX_REASON_BYTES);
  while (Buffer.byteLength(reason, 'utf8') > MAX_REASON_BYTES) reason = reason.slice(0, -1);
  return reason;
}

/** The close code that follows a refused `connect`. */
function refusalCode(code: string): number {
  if (code === ErrorCode.TokenExpired) return DisconnectCode.TokenExpired;
  if (code === ErrorCode.Internal || code === ErrorCode.BrokerUnavailable || code === ErrorCode.Timeout) return DisconnectCode.Disconnect;
  return DisconnectCode.Unauthorized;
}

/** The server's side of one connection. */
export class ServerSession<A extends ApiShape = UntypedApi> implements Session<A>, HeartbeatMember {
  /** What the session writes to. */
  readonly link: SessionLink;
  /** The link when it is a WebSocket (the broadcasts' fast path), else null. */
  readonly ws: RealtimeSocket | null;
  readonly codec: Codec;
  readonly remoteAddress: string | undefined;
  readonly httpVersion: 1 | 2;
  id = '';
  user = '';
  info: unknown = undefined;
  data: unknown = undefined;
  readonly subscriptions = new Set<string>();
  /** Channels where this connection is a presence member. */
  readonly presenceChannels = new Set<string>();
  /** When the credential expires (ms since the epoch), if it does. */
  expires: number | undefined = undefined;
  sendMark = 0;
  unansweredRound = 0;
  private stateValue: SessionState = 'awaiting_connect';
  private readonly host: SessionHost<A>;
  /** The upgrade request, kept only while an `authenticate` hook may need it. */
  private request: IncomingMessage | undefined;
  private headerToken: string | undefined;
  private readonly bucket: TokenBucket | null;
  private readonly byteBudget: ByteBudget | null;
  private readonly calls = new OutgoingCalls();
  private queue: Array<Task | undefined> = [];
  private queueHead = 0;
  private running = false;
  /** The publishes that started and have not finished. */
  private readonly publishes = new PublishPipeline();
  private connectTimer: NodeJS.Timeout | null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private closeScheduled = false;
  /** Settles the server's own queued steps (`runQueued`) that a close leaves unrun. */
  private readonly unrun = new Set<() => void>();

  constructor(host: SessionHost<A>, link: SessionLink, codec: Codec, request: IncomingMessage) {
    this.host = host;
    this.link = link;
    this.ws = webSocketOf(link);
    this.codec = codec;
    this.remoteAddress = link.remoteAddress;
    this.httpVersion = request.httpVersionMajor >= 2 ? 2 : 1;
    this.request = request;
    this.headerToken = bearerToken(request);
    this.bucket = host.limits.rate === null ? null : new TokenBucket(host.limits.rate);
    this.byteBudget = host.limits.receiveBytes === null ? null : new ByteBudget(host.limits.receiveBytes);
    if (this.ws !== null) {
      this.ws.data = this;
      this.ws.on('message', onSocketMessage);
      this.ws.on('close', onSocketClose);
    }
    this.connectTimer = setTimeout(() => this.close(DisconnectCode.ConnectTimeout, 'connect timeout'), host.timings.connectTimeout);
    this.connectTimer.unref();
  }

  get state(): SessionState {
    return this.stateValue;
  }

  get protocol(): string {
    return this.codec.subprotocol;
  }

  get transport(): SessionTransport {
    return this.ws === null ? 'http' : 'websocket';
  }

  /** True once the connection ended (or is ending). */
  get isClosed(): boolean {
    return this.stateValue === 'closed';
  }

  // ------------------------------------------------------------ public API

  call<M extends ClientMethodName<A>>(method: M, params: ClientMethodParams<A, M>, options: { timeout?: number } = {}): Promise<ClientMethodResult<A, M>> {
    if (this.stateValue !== 'connected') return Promise.reject(new RpcError(DISCONNECTED, 'the session is not connected'));
    const timeout = options.timeout ?? this.host.timings.rpcTimeout;
    if (!(timeout > 0)) return Promise.reject(new RangeError('timeout must be a positive number of ms'));
    const { id, result } = this.calls.start(method, timeout);
    this.write({ type: 'call', id, method, data: params });
    return result as Promise<ClientMethodResult<A, M>>;
  }

  send(data: unknown): void {
    if (this.stateValue === 'connected') this.write({ type: 'message', data });
  }

  paceDownlink(bytesPerSecond: number | null): boolean {
    if (this.ws === null || this.stateValue === 'closed') return false;
    this.ws.pace(bytesPerSecond);
    return true;
  }

  unsubscribe(channel: string, reason = ''): void {
    void this.unsubscribeQueued(channel, reason).catch((error: unknown) => this.host.reportError(asError(error)));
  }

  /** @internal `unsubscribe`, resolving true once the subscription ended (false: there was none, or the session closed). */
  unsubscribeQueued(channel: string, reason = ''): Promise<boolean> {
    return this.runQueued(async () => {
      if (!(await this.host.dropSubscription(this, channel))) return false;
      this.write({ type: 'unsubscribed', channel, code: 'server', reason });
      return true;
    }, false);
  }

  subscribe(channel: string): Promise<boolean> {
    return this.runQueued(() => this.host.serverSubscribe(this, channel), false);
  }

  /**
   * @internal Runs a step of the server's in the session's queue, in order
   * with the client's commands; resolves `otherwise` when the session is not
   * connected or closes before the step ran.
   */
  runQueued<T>(run: () => Promise<T>, otherwise: T): Promise<T> {
    if (this.stateValue !== 'connected') return Promise.resolve(otherwise);
    return new Promise<T>((resolve, reject) => {
      const abandon = (): void => resolve(otherwise);
      this.unrun.add(abandon);
      this.enqueue({
        type: 'internal',
        run: async () => {
          this.unrun.delete(abandon);
          try {
            resolve(await run());
          } catch (error) {
            reject(error);
          }
        },
      });
    });
  }

  disconnect(code: number = DisconnectCode.Disconnect, reason = ''): void {
    checkClose(code, reason);
    this.close(code, reason);
  }

  // ------------------------------------------------------------ writing

  /** Writes a reply, a control message or a push the client must not miss; a full buffer ends the connection (4002). */
  write(message: ServerMessage): void {
    if (this.stateValue === 'closed' && message.type !== 'disconnect') return;
    const payload = this.codec.encode(message);
    const result = this.link.send(payload, this.codec.binary ? AS_BINARY : AS_TEXT);
    if (result !== 'dropped') this.host.traffic.sent(payload);
    if (result === 'dropped' && this.link.readyState === this.link.OPEN) this.closeLater(DisconnectCode.SlowConsumer, 'slow consumer');
  }

  /** Writes a channel push (publication, join, leave): a full buffer is handled per `limits.slowConsumer`. */
  push(message: ServerMessage): void {
    this.pushPayload(this.codec.encode(message));
  }

  /** Writes a push already encoded with `codec`: a full buffer is handled per `limits.slowConsumer`. False when it was not queued. */
  pushPayload(payload: string | Uint8Array): boolean {
    if (this.stateValue === 'closed') return false;
    const result = this.link.send(payload, this.codec.binary ? AS_BINARY : AS_TEXT);
    if (result === 'dropped') {
      this.overflowed();
      return false;
    }
    this.host.traffic.sent(payload);
    return true;
  }

  /** A push could not be queued: disconnect (4002) or let the client see the gap, per `limits.slowConsumer`. */
  overflowed(): void {
    if (this.host.limits.slowConsumer === 'disconnect' && this.link.readyState === this.link.OPEN) {
      this.closeLater(DisconnectCode.SlowConsumer, 'slow consumer');
    }
  }

  reply(id: number, result: unknown): void {
    this.write({ type: 'reply', id, result });
  }

  /**
   * Writes an encoded reply once the outbound buffer has room for it, so
   * that a reply (at most `limits.maxReplyBytes`, below the buffer's cap) is
   * never the reason its own connection is dropped as a slow consumer: the
   * session's later commands wait meanwhile. A client that reads nothing
   * for a heartbeat round (`ping + pong`) is closed as a slow consumer.
   */
  replyEncoded(payload: EncodedValue, size: number = encodedBytes(payload)): void | Promise<void> {
    const room = this.host.limits.maxQueuedBytes - size;
    if (this.stateValue !== 'closed' && this.link.readyState === this.link.OPEN && this.link.bufferedAmount > room) return this.replyWhenRoom(payload, size, room);
    this.sendReply(payload, size);
  }

  /** Waits (polling) until the outbound buffer has `room` for `payload`, then writes it; closes 4002 after a heartbeat round. */
  private async replyWhenRoom(payload: EncodedValue, size: number, room: number): Promise<void> {
    const deadline = Date.now() + this.host.timings.ping + this.host.timings.pong;
    while (this.stateValue !== 'closed' && this.link.readyState === this.link.OPEN && this.link.bufferedAmount > room) {
      if (Date.now() > deadline) {
        this.close(DisconnectCode.SlowConsumer, 'slow consumer');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, REPLY_WAIT_POLL));
    }
    this.sendReply(payload, size);
  }

  /** Writes a reply of `size` encoded bytes (unless the session is closed). */
  private sendReply(payload: EncodedValue, size: number): void {
    if (this.stateValue === 'closed') return;
    const result = this.link.send(payload, this.codec.binary ? AS_BINARY : AS_TEXT);
    if (result !== 'dropped') this.host.traffic.sentBytes(size);
    else if (this.link.readyState === this.link.OPEN) this.closeLater(DisconnectCode.SlowConsumer, 'slow consumer');
  }

  /**
   * Writes an error reply; a failure that is not an `RpcError` is reported
   * and sent as `internal`, an `RpcError` with a `cause` (a failed hook or
   * proxy backend) has its cause reported, and a `DisconnectError` then ends
   * the connection with its close code.
   */
  replyError(id: number, error: unknown): void {
    if (!(error instanceof RpcError)) this.host.reportError(asError(error));
    else if (error instanceof HookError || error.cause !== undefined) this.host.reportError(asError(error.cause));
    this.write({ type: 'reply', id, error: errorBodyOf(error) });
    if (error instanceof DisconnectError) this.close(error.closeCode, shortReason(error.reason));
  }

  heartbeatTimeout(): void {
    this.close(DisconnectCode.HeartbeatTimeout, 'heartbeat timeout');
  }

  // ------------------------------------------------------------ closing

  /** Sends `disconnect`, closes the WebSocket with `code`, and cleans up at once. */
  close(code: number, reason: string): void {
    if (this.stateValue === 'closed') return;
    const wasConnected = this.stateValue === 'connected';
    this.stateValue = 'closed';
    this.write({ type: 'disconnect', code, reason, reconnect: shouldReconnect(code) });
    this.link.close(code, reason);
    this.finish(code, reason, wasConnected);
  }

  /** Closes on the next tick (from inside a fan-out loop, which must not see the subscriber sets change). */
  private closeLater(code: number, reason: string): void {
    if (this.closeScheduled) return;
    this.closeScheduled = true;
    process.nextTick(() => this.close(code, reason));
  }

  /** @internal The WebSocket closed (the client closed it, or the socket failed), or the HTTP fallback's client left. */
  socketClosed(code: number, reason: string): void {
    if (this.stateValue === 'closed') return;
    const wasConnected = this.stateValue === 'connected';
    this.stateValue = 'closed';
    this.finish(code, reason, wasConnected);
  }

  private finish(code: number, reason: string, wasConnected: boolean): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.connectTimer = this.expiryTimer = null;
    this.request = undefined;
    this.queue = [];
    this.queueHead = 0;
    for (const abandon of this.unrun) abandon();
    this.unrun.clear();
    this.calls.rejectAll();
    this.host.closed(this, code, reason, wasConnected);
  }

  // ------------------------------------------------------------ receiving

  /** @internal One WebSocket message. */
  receive(data: Buffer, binary: boolean): void {
    if (this.stateValue === 'closed') return;
    this.host.traffic.received(data.length);
    if (!this.withinByteBudget(data.length)) return;
    if (binary !== this.codec.binary) {
      this.close(DisconnectCode.BadRequest, binary ? 'binary frames are not expected' : 'text frames are not expected');
      return;
    }
    let fields: Record<string, unknown>;
    try {
      fields = this.codec.decode(binary ? data : data.toString('utf8'));
    } catch {
      this.close(DisconnectCode.BadRequest, 'malformed message');
      return;
    }
    this.handle(fields);
  }

  /** @internal One message of the HTTP fallback, which decodes its batches itself; `bytes`: its encoded size. */
  receiveMessage(fields: Record<string, unknown>, bytes: number): void {
    if (this.stateValue === 'closed') return;
    this.host.traffic.received(bytes);
    if (this.withinByteBudget(bytes)) this.handle(fields);
  }

  /** Validates one decoded message and answers, settles or queues it. */
  private handle(fields: Record<string, unknown>): void {
    const parsed = parseClientMessage(fields);
    if (!parsed.ok) {
      if (parsed.id === undefined) this.close(DisconnectCode.BadRequest, shortReason(parsed.reason));
      else if (this.admit(parsed.id)) this.enqueue({ type: 'invalid', id: parsed.id, reason: parsed.reason });
      return;
    }
    const message = parsed.message;
    // Every message takes a token, whatever its type: answers (`pong`, `reply`) are no free ride.
    if (message.type === 'pong') {
      if (this.admit(undefined)) this.unansweredRound = 0;
    } else if (message.type === 'reply') {
      if (this.admit(undefined)) this.calls.settle(message.id, 'error' in message ? { error: message.error } : { result: message.result });
    } else if (this.admit('id' in message ? message.id : undefined)) this.enqueue(message);
  }

  /** Takes a message's bytes from the byte budget before it is decoded; closes 4005 when they do not fit. */
  private withinByteBudget(bytes: number): boolean {
    if (this.byteBudget === null || this.byteBudget.take(bytes)) return true;
    this.closeFlooded('too many bytes');
    return false;
  }

  /** Applies the rate limit to one message; answers `rate_limited` (commands with an id) or closes 4005 when over it. */
  private admit(id: number | undefined): boolean {
    if (this.bucket === null) return true;
    const decision = this.bucket.take();
    if (decision === 'ok') return true;
    if (decision === 'disconnect') this.closeFlooded('rate limited');
    else if (id !== undefined) this.write({ type: 'reply', id, error: { code: ErrorCode.RateLimited, message: 'too many messages' } });
    return false;
  }

  /**
   * Closes 4005 a client over its limits. A WebSocket stops reading first,
   * so what the client still sends is neither read past a few KiB nor
   * parsed, and the closing handshake does not wait for its answer (see
   * `ServerWebSocket.close`).
   */
  private closeFlooded(reason: string): void {
    this.ws?.pause();
    this.close(DisconnectCode.RateLimited, reason);
  }

  private enqueue(task: Task): void {
    this.queue.push(task);
    if (!this.running) void this.drain();
  }

  /** Runs the queued tasks one after the other. */
  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queueHead < this.queue.length && this.stateValue !== 'closed') {
        const task = this.queue[this.queueHead]!;
        this.queue[this.queueHead++] = undefined;
        if (this.queueHead >= QUEUE_COMPACT_AT) {
          this.queue = this.queue.slice(this.queueHead);
          this.queueHead = 0;
        }
        try {
          if (task.type === 'publish' && this.stateValue === 'connected') {
            await this.publishes.start((turn) => this.runPublish(task, turn));
            continue;
          }
          // Any other command starts once the publishes before it have finished.
          if (this.publishes.size > 0) await this.publishes.settled();
          // a command that finished in this turn (a call answered at once, an invalid message) is no reason to wait a microtask
          const running = this.execute(task);
          if (running !== undefined) await running;
        } catch (error) {
          this.host.reportError(asError(error));
        }
      }
    } finally {
      this.running = false;
      if (this.queueHead >= this.queue.length) {
        this.queue = [];
        this.queueHead = 0;
      }
    }
  }

  private execute(task: Task): void | Promise<void> {
    if (this.stateValue === 'closed') return;
    switch (task.type) {
      case 'internal':
        return task.run();
      case 'invalid':
        this.write({ type: 'reply', id: task.id, error: { code: ErrorCode.BadRequest, message: task.reason } });
        return;
      case 'connect':
        return this.stateValue === 'connected' ? this.replyError(task.id, fail.badRequest('already connected')) : this.connect(task);
      case 'pong':
      case 'reply':
        return;
    }
    if (this.stateValue !== 'connected') {
      if (task.type !== 'send') this.write({ type: 'reply', id: task.id, error: { code: ErrorCode.NotConnected, message: 'send connect first' } });
      return;
    }
    switch (task.type) {
      case 'send':
        this.host.message(this, task.data);
        return;
      case 'refresh':
        return this.refresh(task);
      case 'call':
        this.runCall(task);
        return;
      default:
        return this.host.runCommand(this, task);
    }
  }

  /** One publish of the pipeline (never rejects: its failure is its error reply). */
  private async runPublish(command: Extract<ChannelCommand, { type: 'publish' }>, turn: PublishTurn): Promise<void> {
    try {
      await this.host.runCommand(this, command, turn);
    } catch (error) {
      turn.handedOver();
      await turn.previous;
      this.host.reportError(asError(error));
    }
  }

  /** Starts a call, which does not hold up the commands after it (never throws: a failure is reported). */
  private runCall(command: CallCommand): void {
    try {
      const running = this.host.runCommand(this, command);
      if (running !== undefined) running.catch((error: unknown) => this.host.reportError(asError(error)));
    } catch (error) {
      this.host.reportError(asError(error));
    }
  }

  // ------------------------------------------------------------ connect, refresh, expiry

  private async connect(command: ConnectCommand): Promise<void> {
    let outcome: AuthOutcome;
    try {
      await this.host.brokerReady().catch(() => {
        throw fail.brokerUnavailable();
      });
      outcome = await this.host.credentials.check({
        event: 'connect',
        token: command.token ?? this.headerToken,
        data: command.data,
        request: this.request,
        remoteAddress: this.remoteAddress,
        transport: this.transport,
        name: command.name,
        version: command.version,
      });
    } catch (error) {
      if (this.stateValue === 'awaiting_connect') this.refuse(command.id, error);
      return;
    }
    if (this.stateValue !== 'awaiting_connect') return;
    this.accept(command.id, outcome);
  }

  private accept(id: number, outcome: AuthOutcome): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.headerToken = undefined;
    if (!this.host.credentials.needsRequest) this.request = undefined;
    this.id = this.host.newClientId();
    this.user = outcome.user;
    this.info = outcome.info;
    this.data = outcome.data;
    this.expires = outcome.expires;
    this.stateValue = 'connected';
    const { ping, pong } = this.host.timings;
    const limits = { message: this.host.maxMessageSize, publish: this.host.limits.maxPublishSize };
    const result: ConnectResult = { client: this.id, user: this.user, ping, pong, limits };
    if (outcome.expires !== undefined) result.expires = outcome.expires;
    if (outcome.data !== undefined) result.data = outcome.data;
    this.reply(id, result);
    this.scheduleExpiry();
    this.host.connected(this);
  }

  private refuse(id: number, error: unknown): void {
    const body = errorBodyOf(error);
    // A DisconnectError has closed the connection with its own code already.
    this.replyError(id, error);
    this.close(refusalCode(body.code), shortReason(body.message));
  }

  private async refresh(command: RefreshCommand): Promise<void> {
    let outcome: AuthOutcome;
    try {
      outcome = await this.host.credentials.check({
        event: 'refresh',
        token: command.token,
        data: undefined,
        request: this.request,
        remoteAddress: this.remoteAddress,
        transport: this.transport,
        connection: { client: this.id, user: this.user },
      });
    } catch (error) {
      this.replyError(command.id, error);
      return;
    }
    if (this.stateValue !== 'connected') return;
    if (outcome.user !== this.user) {
      this.replyError(command.id, fail.forbidden('the new credential belongs to another user'));
      return;
    }
    this.expires = outcome.expires;
    this.scheduleExpiry();
    this.reply(command.id, outcome.expires === undefined ? {} : { expires: outcome.expires });
  }

  /** Arms the timer that ends the connection when the credential expires (4001). */
  private scheduleExpiry(): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (this.expires === undefined || this.stateValue !== 'connected') return;
    const delay = Math.max(0, this.expires - Date.now());
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = null;
      if (this.expires !== undefined && this.expires > Date.now()) this.scheduleExpiry();
      else this.close(DisconnectCode.TokenExpired, 'token expired');
    }, Math.min(delay, MAX_TIMER_DELAY));
    this.expiryTimer.unref();
  }
}
