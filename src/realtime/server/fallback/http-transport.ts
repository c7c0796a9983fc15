/**
 * The HTTP fallback transport of the real-time server (docs/protocol.md §11),
 * for clients whose network blocks WebSockets: the same protocol messages,
 * down as a Server-Sent Events stream and up as JSON batches in POSTs.
 *
 *   POST   {path}/http         opens a session (X-Switchboard-Fallback: 2): the body
 *                              holds the first messages (`connect` with the token);
 *                              the response is the session's event stream, its id
 *                              in X-Switchboard-Session
 *   GET    {path}/http/stream  the event stream again after a lost one (Last-Event-ID:
 *                              how many events the client received)
 *   POST   {path}/http/send    a numbered batch of messages (X-Switchboard-Seq)
 *   DELETE {path}/http         the client ends the session
 *
 * No sticky sessions (docs/scaling.md §4): a session lives on the process
 * that serves its event stream, and listens to its id on the broker's relay.
 * A batch or a DELETE that reaches another process is relayed to it. A
 * stream that comes back to another process ends the session there (through
 * the relay) and is answered 404: the client opens a new session and
 * resubscribes with its positions, exactly as after a WebSocket reconnect.
 */
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { checkRequestHost, requestPath, type HostCheck, type OriginCheck } from '../../../node/server-handshake.js';
import { HandshakeError } from '../../../node/server-index.js';
import type { Broker } from '../../broker/broker.js';
import { DisconnectCode } from '../../wire/errors.js';
import { HTTP_BODY_FACTOR, HTTP_ENDPOINTS, HTTP_HEADERS } from '../../wire/http.js';
import { asError } from '../errors.js';
import { EndedSessions } from './ended-sessions.js';
import { EventStreamLink } from './event-stream-link.js';
import type { SessionLink } from '../fanout.js';
import { decodeRelay, encodeRelay, type RelayMessage, type UplinkMessage } from './http-relay.js';
import {
  answer,
  answerPreflight,
  corsHeaders,
  countHeader,
  eventStreamHeaders,
  isJsonBody,
  parseBatch,
  readBody,
  sessionIdOf,
  speaksFallbackVersion,
  WRONG_VERSION,
  type BodyWindow,
} from './http-request.js';
import { FallbackSession, type ProtocolSession, type UplinkBatch } from './http-session.js';

/** Options of the HTTP fallback transport (`RealtimeServerOptions.httpFallback`). */
export interface HttpFallbackOptions {
  /**
   * How long (ms) a session waits for its lost event stream to come back. A
   * stream back within it resumes where it broke, nothing lost; later, the
   * session is over (the client opens a new one and recovers). Default 10000.
   */
  downlinkTimeout?: number;
  /**
   * Bytes of written events a session keeps until the client acknowledges
   * them, for a stream that breaks to resume without loss. A client that
   * comes back for older events gets 410 and opens a new session (and
   * recovers from history, as after a WebSocket reconnect). Default 64 KiB
   * (at most `limits.maxQueuedBytes`).
   */
  replayBytes?: number;
}

export const DEFAULT_DOWNLINK_TIMEOUT = 10_000;
export const DEFAULT_REPLAY_BYTES = 64 * 1024;
/** How long an uplink batch may wait for an earlier one that is missing (ms). */
export const UPLINK_GAP_TIMEOUT = 5_000;
/**
 * A session's uplink window, in request bodies of the largest size (16 ×
 * `maxMessageSize`): the bodies being read and the batches waiting for a
 * missing one may hold two of them (2 MiB with the default 64 KiB messages)
 * — a batch and its retry, or one waiting for a relayed one.
 */
export const UPLINK_WINDOW_BODIES = 2;

/** What the transport needs of its real-time server. */
export interface HttpTransportHost {
  readonly broker: Broker;
  /** The real-time path ('' when the server has none). */
  readonly basePath: string;
  /** Largest client message, in bytes of compact JSON (as `maxMessageSize` on WebSocket). */
  readonly maxMessageSize: number;
  /** Outbound bytes a session may have waiting (as on WebSocket). */
  readonly maxQueuedBytes: number;
  /** Bytes of written events a session keeps for a resume (`httpFallback.replayBytes`). */
  readonly replayBytes: number;
  /** How long an ended event stream may take to flush before it is destroyed (the WebSocket's `closeTimeout`). */
  readonly closeTimeout: number;
  /** The WebSocket's `allowedOrigins`; unset, only same-origin pages (and clients that send no `Origin`) may use the fallback. */
  readonly allowedOrigins: readonly string[] | OriginCheck | undefined;
  /** The WebSocket's `allowedHosts` (`websocket.allowedHosts`): other `Host` values get 421. */
  readonly allowedHosts: readonly string[] | HostCheck | undefined;
  readonly downlinkTimeout: number;
  /**
   * Counts a session against its address's connection budget, the one its
   * WebSocket connections count against (`websocket.maxConnectionsPerIp`,
   * `connectionLimitExempt`) until the release runs; null when the address
   * is at its limit.
   */
  reserveConnection(address: string | undefined): (() => void) | null;
  /** Resolves once the broker is started. */
  brokerReady(): Promise<void>;
  /** A new protocol session that writes to `link`, for the request that opened it. */
  openSession(link: SessionLink, request: IncomingMessage): ProtocolSession;
  reportError(error: Error): void;
}

type Route = keyof typeof HTTP_ENDPOINTS;

/** The methods of each endpoint (for 405 and CORS preflights). */
const METHODS: Record<Route, string> = { session: 'POST, DELETE', stream: 'GET', send: 'POST' };

/** Resolves a `downlinkTimeout` option. */
export function resolveDownlinkTimeout(options: HttpFallbackOptions): number {
  return positiveOption('httpFallback.downlinkTimeout', options.downlinkTimeout, DEFAULT_DOWNLINK_TIMEOUT);
}

/** Resolves a `replayBytes` option. */
export function resolveReplayBytes(options: HttpFallbackOptions): number {
  return positiveOption('httpFallback.replayBytes', options.replayBytes, DEFAULT_REPLAY_BYTES);
}

function positiveOption(name: string, given: number | undefined, fallback: number): number {
  const value = given ?? fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new TypeError(`${name} must be a positive, finite number, got ${String(value)}`);
  }
  return value;
}

export class HttpTransport {
  private readonly sessions = new Map<string, FallbackSession>();
  /** Sessions that ended here (for a while): their uplink requests get 404 unread. */
  private readonly ended = new EndedSessions();
  /** What gives each session's place in its address's connection budget back. */
  private readonly addressReleases = new Map<string, () => void>();
  private readonly routes: ReadonlyMap<string, Route>;
  private readonly bodyLimit: number;
  /** Bytes a session's uplink may hold: its bodies being read and its batches waiting. */
  private readonly uplinkWindow: number;
  private closed = false;

  constructor(private readonly host: HttpTransportHost) {
    const base = host.basePath.replace(/\/+$/, '');
    this.routes = new Map(Object.entries(HTTP_ENDPOINTS).map(([route, suffix]) => [base + suffix, route as Route]));
    this.bodyLimit = HTTP_BODY_FACTOR * host.maxMessageSize;
    this.uplinkWindow = UPLINK_WINDOW_BODIES * this.bodyLimit;
  }

  /** Sessions this process holds. */
  get size(): number {
    return this.sessions.size;
  }

  /** Serves `request` when it is one of the fallback's (true); leaves it alone otherwise (false). */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const route = this.routes.get(requestPath(request.url));
    if (route === undefined) return false;
    let cors: OutgoingHttpHeaders | null;
    try {
      checkRequestHost(this.host.allowedHosts, request);
      cors = corsHeaders(request, this.host.allowedOrigins);
    } catch (error) {
      if (error instanceof HandshakeError) answer(response, error.status, error.message);
      else {
        this.host.reportError(asError(error));
        answer(response, 500, 'the origin check failed');
      }
      return true;
    }
    if (cors === null) answer(response, 403, 'this origin may not connect');
    else if (this.closed) answer(response, 503, 'the server is shutting down', cors, true);
    else {
      this.serve(route, request, response, cors).catch((error: unknown) => {
        this.host.reportError(asError(error));
        answer(response, 500, 'internal server error', cors ?? {});
      });
    }
    return true;
  }

  /** A relay message for a session this process holds (the broker's `relay` event). */
  relayed(target: string, text: string): void {
    const fallback = this.sessions.get(target);
    const message = fallback === undefined ? undefined : decodeRelay(text);
    if (fallback === undefined || message === undefined) return;
    this.apply(fallback, message);
  }

  /** Stops taking requests and ends what is left of every session (call after the sessions were closed). */
  close(): void {
    this.closed = true;
    for (const fallback of [...this.sessions.values()]) fallback.link.terminate();
  }

  // ------------------------------------------------------------ routes

  private async serve(route: Route, request: IncomingMessage, response: ServerResponse, cors: OutgoingHttpHeaders): Promise<void> {
    const method = request.method;
    if (method === 'OPTIONS') return answerPreflight(response, cors, METHODS[route]);
    if (route === 'session' && method === 'POST') return this.open(request, response, cors);
    if (route === 'session' && method === 'DELETE') return this.end(request, response, cors);
    if (route === 'stream' && method === 'GET') return this.resume(request, response, cors);
    if (route === 'send' && method === 'POST') return this.uplink(request, response, cors);
    answer(response, 405, `use ${METHODS[route]}`, { ...cors, Allow: METHODS[route] });
  }

  /** POST {path}/http: a new session; the response is its event stream. A client of another fallback version gets 400, its body unread. */
  private async open(request: IncomingMessage, response: ServerResponse, cors: OutgoingHttpHeaders): Promise<void> {
    if (!speaksFallbackVersion(request)) return answer(response, 400, WRONG_VERSION, cors, true);
    const messages = await this.readBatch(request, response, cors);
    if (messages === undefined) return;
    if (this.closed) return answer(response, 503, 'the server is shutting down', cors);
    const release = this.host.reserveConnection(request.socket.remoteAddress);
    if (release === null) return answer(response, 429, 'too many connections from this address', { ...cors, 'Retry-After': '5' });
    const id = randomBytes(16).toString('base64url');
    try {
      await this.host.brokerReady();
      await this.host.broker.listen(id);
    } catch (error) {
      release();
      this.host.reportError(asError(error));
      return answer(response, 503, 'the broker is unavailable', cors);
    }
    if (this.closed || response.destroyed) {
      release();
      this.unlisten(id);
      return answer(response, 503, 'the server is shutting down', cors);
    }
    response.writeHead(200, {
      ...eventStreamHeaders(cors),
      [HTTP_HEADERS.session]: id,
      [HTTP_HEADERS.downlinkTimeout]: String(this.host.downlinkTimeout),
    });
    startStream(request, response);
    this.addressReleases.set(id, release);
    this.createSession(id, request, response).open(messages);
  }

  /** GET {path}/http/stream: the session's event stream again, after the `Last-Event-ID` events the client received. */
  private resume(request: IncomingMessage, response: ServerResponse, cors: OutgoingHttpHeaders): void {
    const id = sessionIdOf(request);
    const after = countHeader(request, HTTP_HEADERS.lastEventId) ?? 0;
    if (id === undefined || Number.isNaN(after)) return answer(response, 400, 'X-Switchboard-Session and Last-Event-ID are required', cors);
    const fallback = this.sessions.get(id);
    if (fallback === undefined) {
      // The client gave up on its old stream, so the session ends where it lives; the client opens a new one.
      this.relay(id, { kind: 'gone', code: 1006, reason: 'the event stream moved to another server' });
      return answer(response, 404, 'no such session here: open a new one', cors);
    }
    if (!fallback.link.canResume(after)) {
      fallback.leave(1006, 'the event stream cannot resume');
      return answer(response, 410, 'the session cannot resume: open a new one', cors);
    }
    response.writeHead(200, eventStreamHeaders(cors));
    startStream(request, response);
    fallback.link.attach(response, after);
  }

  /** POST {path}/http/send: an uplink batch, for this process or relayed to the session's. */
  private async uplink(request: IncomingMessage, response: ServerResponse, cors: OutgoingHttpHeaders): Promise<void> {
    const id = sessionIdOf(request);
    const seq = countHeader(request, HTTP_HEADERS.seq);
    const ack = countHeader(request, HTTP_HEADERS.ack);
    if (id === undefined || seq === undefined || !(seq >= 1) || Number.isNaN(ack)) {
      return answer(response, 400, 'X-Switchboard-Session and X-Switchboard-Seq (1, 2, …) are required', cors);
    }
    // A session that ended here lives nowhere else: its requests are not read.
    if (!this.sessions.has(id) && this.ended.has(id)) return answer(response, 404, 'no such session: open a new one', cors, true);
    // A session held here counts the body against its uplink window while it is read.
    const body = await this.readRequestBody(request, response, cors, id, this.sessions.get(id));
    if (body === undefined) return;
    const fallback = this.sessions.get(id);
    if (fallback === undefined) {
      // Relayed as it came: the process that holds the session parses it when it is due.
      if (!isUtf8(body)) return this.refuseBatch(response, cors, id, { status: 400, reason: 'the body is not JSON' });
      return this.answerRelay(response, cors, id, { kind: 'send', seq, ack, body: body.toString('utf8') });
    }
    // A batch that is not due now (early: it waits; a repeat: ignored) is kept as its bytes, parsed when due.
    let batch: UplinkBatch = { body };
    if (fallback.isDue(seq)) {
      const parsed = parseBatch(body, this.host.maxMessageSize);
      if (!parsed.ok) return this.refuseBatch(response, cors, id, parsed);
      batch = { body, messages: parsed.messages };
    }
    if (fallback.deliver(seq, batch, ack) === 'window_full') return this.refuseOverWindow(response, cors);
    return answer(response, 204, '', cors);
  }

  /** DELETE {path}/http: the client ends its session. */
  private async end(request: IncomingMessage, response: ServerResponse, cors: OutgoingHttpHeaders): Promise<void> {
    const id = sessionIdOf(request);
    if (id === undefined) return answer(response, 400, 'X-Switchboard-Session is required', cors);
    request.resume();
    const fallback = this.sessions.get(id);
    if (fallback !== undefined) {
      fallback.leave(1000, 'client closed');
      return answer(response, 204, '', cors);
    }
    return this.answerRelay(response, cors, id, { kind: 'gone', code: 1000, reason: 'client closed' });
  }

  // ------------------------------------------------------------ sessions

  private createSession(id: string, request: IncomingMessage, response: ServerResponse): FallbackSession {
    let fallback: FallbackSession | undefined;
    const link = new EventStreamLink({
      remoteAddress: request.socket.remoteAddress,
      maxQueuedBytes: this.host.maxQueuedBytes,
      replayBytes: this.host.replayBytes,
      downlinkTimeout: this.host.downlinkTimeout,
      closeTimeout: this.host.closeTimeout,
      lost: () => fallback?.session.socketClosed(1006, 'the event stream did not come back'),
      ended: () => this.forget(id, fallback),
    });
    fallback = new FallbackSession(id, link, this.host.openSession(link, request), {
      gapTimeout: UPLINK_GAP_TIMEOUT,
      window: this.uplinkWindow,
      maxMessageSize: this.host.maxMessageSize,
    });
    this.sessions.set(id, fallback);
    link.attach(response, 0);
    return fallback;
  }

  private forget(id: string, fallback: FallbackSession | undefined): void {
    if (fallback === undefined || this.sessions.get(id) !== fallback) return;
    this.sessions.delete(id);
    this.ended.add(id);
    this.addressReleases.get(id)?.();
    this.addressReleases.delete(id);
    fallback.ended();
    this.unlisten(id);
  }

  private unlisten(id: string): void {
    this.host.broker.unlisten(id).catch((error: unknown) => this.host.reportError(asError(error)));
  }

  private apply(fallback: FallbackSession, message: RelayMessage): void {
    if (message.kind === 'send') fallback.deliver(message.seq, { body: message.body }, message.ack);
    else if (message.kind === 'gone') fallback.leave(message.code, message.reason);
    else fallback.close(message.code, message.reason);
  }

  /** Applies `message` to the session here, or relays it to the process that holds it. */
  private toSession(id: string, message: RelayMessage): void {
    const fallback = this.sessions.get(id);
    if (fallback !== undefined) this.apply(fallback, message);
    else this.relay(id, message);
  }

  /** Relays without waiting (failures are reported). */
  private relay(id: string, message: RelayMessage): void {
    this.host.broker.relay(id, encodeRelay(message)).catch((error: unknown) => this.host.reportError(asError(error)));
  }

  /** Relays and answers 204 when a process holds the session, 404 when none does, 503 when the broker failed. */
  private async answerRelay(response: ServerResponse, cors: OutgoingHttpHeaders, id: string, message: RelayMessage): Promise<void> {
    let reached: number;
    try {
      reached = await this.host.broker.relay(id, encodeRelay(message));
    } catch (error) {
      this.host.reportError(asError(error));
      return answer(response, 503, 'the broker is unavailable', cors);
    }
    if (reached > 0) answer(response, 204, '', cors);
    else answer(response, 404, 'no such session: open a new one', cors);
  }

  // ------------------------------------------------------------ bodies

  /**
   * The batch of a request, or undefined when the request was answered with
   * an error. A body that breaks the protocol's rules also ends the session
   * it names, as on WebSocket: 1009 for a message over the size limit, 4500
   * for one that is malformed.
   */
  private async readBatch(request: IncomingMessage, response: ServerResponse, cors: OutgoingHttpHeaders): Promise<UplinkMessage[] | undefined> {
    const body = await this.readRequestBody(request, response, cors, undefined, undefined);
    if (body === undefined) return undefined;
    const batch = parseBatch(body, this.host.maxMessageSize);
    if (batch.ok) return batch.messages;
    this.refuseBatch(response, cors, undefined, batch);
    return undefined;
  }

  /** A request's body, or undefined when the request was answered with an error (415, 413, 409). */
  private async readRequestBody(
    request: IncomingMessage,
    response: ServerResponse,
    cors: OutgoingHttpHeaders,
    id: string | undefined,
    window: BodyWindow | undefined,
  ): Promise<Buffer | undefined> {
    if (!isJsonBody(request)) {
      answer(response, 415, 'the body must be application/json', cors);
      return undefined;
    }
    const body = await readBody(request, this.bodyLimit, window);
    if (body === 'aborted') return undefined;
    if (body === 'window_full') {
      if (id !== undefined) this.sessions.get(id)?.windowFull();
      this.refuseOverWindow(response, cors);
      return undefined;
    }
    if (body === 'too_large') {
      if (id !== undefined) this.toSession(id, { kind: 'close', code: 1009, reason: 'message too big' });
      answer(response, 413, `a request body is at most ${this.bodyLimit} bytes`, cors, true);
      return undefined;
    }
    return body;
  }

  /** Answers a batch that breaks the rules, and ends the session it names as on WebSocket (1009 or 4500). */
  private refuseBatch(response: ServerResponse, cors: OutgoingHttpHeaders, id: string | undefined, batch: { status: 400 | 413; reason: string }): void {
    if (id !== undefined) {
      const code = batch.status === 413 ? 1009 : DisconnectCode.BadRequest;
      this.toSession(id, { kind: 'close', code, reason: batch.status === 413 ? 'message too big' : 'malformed message' });
    }
    answer(response, batch.status, batch.reason, cors);
  }

  /** 409 for an uplink request over its session's window (the session is closed): the rest of the body is not read. */
  private refuseOverWindow(response: ServerResponse, cors: OutgoingHttpHeaders): void {
    answer(response, 409, `too many uplink bytes at once: a session's requests being read and batches waiting for a missing one hold at most ${this.uplinkWindow} bytes`, cors, true);
  }
}

/** Sends the stream's headers now and writes its events without delay. */
function startStream(request: IncomingMessage, response: ServerResponse): void {
  request.socket.setNoDelay(true);
  response.flushHeaders();
}
