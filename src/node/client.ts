/**
 * The Node client: a `WebSocket` with the WHATWG API
 * (https://websockets.spec.whatwg.org/), built on the sans-I/O core.
 *
 * The opening handshake runs over `net.connect` / `tls.connect` with
 * `ClientHandshake`; the connection then runs over a `SocketBinding` in the
 * client role. Events are dispatched through `EventTarget` ('open',
 * 'message', 'error', 'close'), and the `on*` attributes behave like the
 * browser's. Node extras come in a third constructor argument
 * (`ClientOptions`): headers, origin, TLS options, limits and timeouts.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { types as utilTypes } from 'node:util';
import { MAX_CLOSE_REASON } from '../protocol/close.js';
import { MAX_CONTROL_PAYLOAD } from '../protocol/frame.js';
import { ReadyState } from '../protocol/connection.js';
import { HandshakeError, LocalProtocolError, SwitchboardError, type HeaderList } from '../protocol/errors.js';
import type { ClientExtension } from '../protocol/extension.js';
import { PerMessageDeflateClient, type PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';
import { isSyncZlibAvailable } from '../protocol/zlib-engine.js';
import { ClientHandshake, type ClientHandshakeResult } from '../protocol/handshake.js';
import { isToken } from '../protocol/headers.js';
import type { MessageLimits } from '../protocol/limits.js';
import {
  onCloseFrame,
  onClosed,
  onDrain,
  onError,
  onMessage,
  onPing,
  onPong,
  onViolation,
  SocketBinding,
  type BindingEvents,
  type ClosedStatus,
} from './binding.js';
import { sessionPool } from './http2-client.js';
import { CloseEvent, ErrorEvent, type AnyEventListener, type ListenerOptions, type RemoveListenerOptions, type TypedMessageEvent } from './events.js';

// ---------------------------------------------------------------- public types

/** How binary messages are handed to 'message' listeners. */
export type BinaryType = 'blob' | 'arraybuffer' | 'nodebuffer';

/** `MessageEvent.data`: a string for text; for binary, as `binaryType` says. */
export type MessageData = string | ArrayBuffer | Blob | Buffer;

/** What `send()` accepts. */
export type SendData = string | ArrayBufferLike | ArrayBufferView | Blob;

/** Events of the client `WebSocket`, by type. */
export interface WebSocketEventMap {
  open: Event;
  message: TypedMessageEvent<MessageData>;
  error: ErrorEvent;
  close: CloseEvent;
  /** Node extra: the peer answered a `ping()`; `data` is the pong's payload. */
  pong: TypedMessageEvent<Buffer>;
}

/** An `on*` event handler attribute value. */
export type EventHandler<E extends Event> = ((this: WebSocket, event: E) => unknown) | null;

/** Node-only options (third constructor argument). */
export interface ClientOptions extends MessageLimits {
  /**
   * Extra request headers. The headers the handshake owns (Upgrade,
   * Connection, Sec-WebSocket-*) may not be set; `Host` and `Origin` replace
   * the defaults.
   */
  headers?: Record<string, string>;
  /** `Origin` request header (none by default). */
  origin?: string;
  /** TLS options for wss:// (ca, rejectUnauthorized, servername, ...). */
  tls?: tls.ConnectionOptions;
  /** Give up when the handshake has not completed within this many ms. Default 10000; 0 disables. */
  handshakeTimeout?: number;
  /** Wait this long for the server to end the closing handshake, then drop the socket. Default 5000 ms. */
  closeTimeout?: number;
  /**
   * Offer permessage-deflate (RFC 7692), as browsers do: `true` (default) for
   * the defaults, options, or `false` not to offer it.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** More extensions to offer, in order of preference (after permessage-deflate). */
  extensions?: readonly ClientExtension[];
  /**
   * Fail the connection (close 1006 + error, as the standard's "buffer full")
   * when more than this many bytes would be buffered. Default: no limit.
   */
  maxBufferedAmount?: number;
  /**
   * WebSockets over HTTP/2 (RFC 8441): `true` opens the WebSocket as a stream
   * of the origin's HTTP/2 session (one session per origin, shared; TLS with
   * ALPN h2 for wss:, h2c with prior knowledge for ws:), falling back to
   * HTTP/1.1 when the server does not advertise
   * SETTINGS_ENABLE_CONNECT_PROTOCOL or does not speak h2. Default
   * (undefined): use HTTP/2 only when a session to the origin is already
   * open; `false`: always HTTP/1.1.
   */
  http2?: boolean;
}

export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** Stable codes of client failures that are neither handshake nor protocol errors. */
export type ClientErrorCode = 'SB_ERR_ABORTED' | 'SB_ERR_CONNECTION_LOST' | 'SB_ERR_BLOB_READ' | 'SB_ERR_SEND_FAILED';

/** Why a client connection failed when no more specific error applies. */
export class ClientError extends SwitchboardError {
  declare readonly code: ClientErrorCode;
  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message);
    if (options && 'cause' in options) Object.defineProperty(this, 'cause', { value: options.cause, configurable: true, writable: true });
  }
}

// ---------------------------------------------------------------- argument rules

/**
 * Parses the constructor's URL as the standard's "get a URL record" does:
 * http/https become ws/wss; other schemes and fragments are a SyntaxError.
 */
export function parseWebSocketUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    throw new DOMException(`invalid URL "${String(input)}"`, 'SyntaxError');
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new DOMException(`URL scheme must be ws: or wss:, not ${url.protocol}`, 'SyntaxError');
  }
  if (url.hash !== '' || url.href.endsWith('#')) {
    throw new DOMException('a WebSocket URL may not have a fragment', 'SyntaxError');
  }
  return url;
}

/**
 * Normalises the constructor's `protocols` (a string or a sequence) and
 * checks that every entry is a token and none repeats (case-insensitively,
 * like browsers); SyntaxError otherwise.
 */
export function parseProtocols(protocols: string | Iterable<string> | null | undefined): string[] {
  if (protocols === undefined) return [];
  const list =
    typeof protocols === 'object' && protocols !== null && Symbol.iterator in protocols
      ? Array.from(protocols, String)
      : [String(protocols)];
  const seen = new Set<string>();
  for (const protocol of list) {
    if (!isToken(protocol)) throw new DOMException(`invalid subprotocol "${protocol}"`, 'SyntaxError');
    const folded = protocol.toLowerCase();
    if (seen.has(folded)) throw new DOMException(`duplicate subprotocol "${protocol}"`, 'SyntaxError');
    seen.add(folded);
  }
  return list;
}

/** WebIDL `[Clamp] unsigned short`: clamp to 0-65535, round half to even, NaN is 0. */
function toClampedUnsignedShort(value: unknown): number {
  const number = Number(value);
  if (Number.isNaN(number)) return 0;
  const clamped = Math.min(Math.max(number, 0), 65535);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Checks `close()` arguments; returns the code to send (1000 for a bare reason) and the reason. */
function checkCloseArguments(code: unknown, reason: unknown): { code: number | undefined; reason: string } {
  const closeCode = code === undefined ? undefined : toClampedUnsignedShort(code);
  if (closeCode !== undefined && closeCode !== 1000 && (closeCode < 3000 || closeCode > 4999)) {
    throw new DOMException(`close code must be 1000 or in 3000-4999, got ${closeCode}`, 'InvalidAccessError');
  }
  const closeReason = reason === undefined ? '' : String(reason);
  const length = Buffer.byteLength(closeReason, 'utf8');
  if (length > MAX_CLOSE_REASON) {
    throw new DOMException(`close reason is ${length} bytes long (max ${MAX_CLOSE_REASON})`, 'SyntaxError');
  }
  return { code: closeCode ?? (closeReason !== '' ? 1000 : undefined), reason: closeReason };
}

/** Request headers that the handshake itself writes. */
const HANDSHAKE_HEADERS = new Set([
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

interface RequestHeaders {
  host: string | undefined;
  origin: string | undefined;
  list: HeaderList;
}

/** Validates the `headers` option; throws `LocalProtocolError` (SB_ERR_INVALID_ARGUMENT). */
export function buildRequestHeaders(headers: Record<string, string> | undefined, origin: string | undefined): RequestHeaders {
  const result: RequestHeaders = { host: undefined, origin, list: [] };
  for (const [name, rawValue] of Object.entries(headers ?? {})) {
    const value = String(rawValue);
    const lower = name.toLowerCase();
    if (!isToken(name)) throw new LocalProtocolError('SB_ERR_INVALID_ARGUMENT', `invalid header name "${name}"`);
    if (!FIELD_VALUE.test(value)) throw new LocalProtocolError('SB_ERR_INVALID_ARGUMENT', `invalid value for header "${name}"`);
    if (HANDSHAKE_HEADERS.has(lower)) throw new LocalProtocolError('SB_ERR_INVALID_ARGUMENT', `header "${name}" is set by the handshake`);
    if (lower === 'host') result.host = value;
    else if (lower === 'origin') result.origin ??= value;
    else result.list.push([name, value]);
  }
  if (result.origin !== undefined && !FIELD_VALUE.test(result.origin)) {
    throw new LocalProtocolError('SB_ERR_INVALID_ARGUMENT', 'invalid origin');
  }
  return result;
}

// ---------------------------------------------------------------- messages in and out

/** Turns a received message into `MessageEvent.data`. */
function toMessageData(data: Buffer, binary: boolean, binaryType: BinaryType): MessageData {
  if (!binary) return data.toString('utf8');
  if (binaryType === 'nodebuffer') return data;
  if (binaryType === 'arraybuffer') return new Uint8Array(data).buffer;
  return new Blob([new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength)]);
}

/** A message accepted by `send()`, in the order it must go out. */
type Outgoing =
  | { kind: 'text'; text: string; size: number }
  | { kind: 'bytes'; bytes: Uint8Array; size: number }
  | { kind: 'blob'; read: Promise<ArrayBuffer>; size: number };

type ReadyOutgoing = Exclude<Outgoing, { kind: 'blob' }>;

/** Converts a `send()` argument as WebIDL would (`BufferSource or Blob or USVString`). */
function toOutgoing(data: unknown): Outgoing {
  if (typeof data === 'string') return { kind: 'text', text: data, size: Buffer.byteLength(data, 'utf8') };
  if (utilTypes.isAnyArrayBuffer(data)) return { kind: 'bytes', bytes: new Uint8Array(data), size: data.byteLength };
  if (ArrayBuffer.isView(data)) {
    return { kind: 'bytes', bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), size: data.byteLength };
  }
  if (data instanceof Blob) {
    const read = data.arrayBuffer();
    read.catch(() => undefined); // observed when the queue reaches it; dropped queues must not leak rejections
    return { kind: 'blob', read, size: data.size };
  }
  const text = String(data);
  return { kind: 'text', text, size: Buffer.byteLength(text, 'utf8') };
}

/** Copies bytes that wait in the queue, so that later changes by the caller do not show. */
function detachFromCaller(item: Outgoing): Outgoing {
  return item.kind === 'bytes' ? { ...item, bytes: Uint8Array.prototype.slice.call(item.bytes) } : item;
}

/** Bytes of one sent message that may still sit in the socket's buffer. */
interface InFlight {
  /** Application bytes (what `bufferedAmount` counts). */
  size: number;
  /** Cumulative framed bytes written up to and including this message. */
  wireEnd: number;
}

// ---------------------------------------------------------------- the WebSocket

type EventType = keyof WebSocketEventMap;
type StoredHandler = (this: WebSocket, event: Event) => unknown;

interface HandlerSlot {
  callback: StoredHandler;
  listener: (event: Event) => void;
}

interface ResolvedOptions {
  handshakeTimeout: number;
  closeTimeout: number | undefined;
  maxBufferedAmount: number;
  limits: MessageLimits;
  tls: tls.ConnectionOptions | undefined;
  http2: boolean | undefined;
}

const EMPTY_BUFFER = Buffer.alloc(0);

const ABNORMAL_CLOSURE: Pick<ClosedStatus, 'code' | 'reason' | 'wasClean'> = { code: 1006, reason: '', wasClean: false };

/** A WebSocket client connection with the WHATWG `WebSocket` API. */
export class WebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  readonly #url: string;
  readonly #origin: string;
  readonly #options: ResolvedOptions;
  #readyState: ReadyState = ReadyState.CONNECTING;
  #protocol = '';
  #extensions = '';
  #binaryType: BinaryType = 'blob';
  readonly #handlers = new Map<string, HandlerSlot>();

  // Opening handshake
  #handshake: ClientHandshake | null;
  #socket: Duplex | null = null;
  #handshakeTimer: NodeJS.Timeout | null = null;
  #handshakeSettled = false;
  #detachHandshake: () => void = () => undefined;

  // Open connection
  #binding: SocketBinding | null = null;
  #failure: Error | null = null;
  #finished = false;

  // Sending: messages waiting behind a Blob being read, then a deferred close
  #queue: Outgoing[] = [];
  #queuedBytes = 0;
  #pumping = false;
  #pendingClose: { code: number | undefined; reason: string } | null = null;

  // bufferedAmount accounting
  #inFlight: InFlight[] = [];
  #inFlightHead = 0;
  #inFlightBytes = 0;
  #wireTotal = 0;
  #discardedBytes = 0;

  /**
   * Opens a connection to `url` (ws:, wss:, or http:/https: converted), offering
   * `protocols`. Throws a "SyntaxError" DOMException for an invalid URL or
   * protocol list, and `LocalProtocolError` for invalid Node options. Failures
   * to connect are reported as 'error' then 'close' (code 1006) events.
   */
  constructor(url: string | URL, protocols?: string | readonly string[], options: ClientOptions = {}) {
    super();
    const record = parseWebSocketUrl(url);
    const offered = parseProtocols(protocols);
    const headers = buildRequestHeaders(options.headers, options.origin);
    this.#url = record.href;
    this.#origin = record.origin;
    this.#options = resolveOptions(options);
    this.#handshake = new ClientHandshake({
      host: headers.host ?? record.host,
      path: `${record.pathname || '/'}${record.search}`,
      protocols: offered,
      extensions: offeredExtensions(options),
      origin: headers.origin,
      headers: headers.list,
    });
    this.#connect(record);
  }

  // ------------------------------------------------------------ attributes

  /** The URL, serialized (http/https already turned into ws/wss). */
  get url(): string {
    return this.#url;
  }

  get readyState(): ReadyState {
    return this.#readyState;
  }

  /**
   * Application bytes (UTF-8 text and binary data) passed to `send()` and not
   * yet handed to the network, framing excluded; data sent after the closing
   * handshake started is counted and never sent.
   */
  get bufferedAmount(): number {
    this.#settleInFlight();
    return this.#inFlightBytes + this.#queuedBytes + this.#discardedBytes;
  }

  /** The `Sec-WebSocket-Extensions` the server answered ("" until open or when none). */
  get extensions(): string {
    return this.#extensions;
  }

  /** The subprotocol the server selected ("" until open or when none). */
  get protocol(): string {
    return this.#protocol;
  }

  /** 'blob' (default), 'arraybuffer' or 'nodebuffer'; other values are ignored, as for IDL enums. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    if (value === 'blob' || value === 'arraybuffer' || value === 'nodebuffer') this.#binaryType = value;
  }

  get onopen(): EventHandler<Event> {
    return this.#getHandler('open');
  }
  set onopen(value: EventHandler<Event>) {
    this.#setHandler('open', value);
  }
  get onmessage(): EventHandler<TypedMessageEvent<MessageData>> {
    return this.#getHandler('message');
  }
  set onmessage(value: EventHandler<TypedMessageEvent<MessageData>>) {
    this.#setHandler('message', value);
  }
  get onerror(): EventHandler<ErrorEvent> {
    return this.#getHandler('error');
  }
  set onerror(value: EventHandler<ErrorEvent>) {
    this.#setHandler('error', value);
  }
  get onclose(): EventHandler<CloseEvent> {
    return this.#getHandler('close');
  }
  set onclose(value: EventHandler<CloseEvent>) {
    this.#setHandler('close', value);
  }

  override addEventListener<K extends EventType>(
    type: K,
    listener: ((this: WebSocket, event: WebSocketEventMap[K]) => unknown) | { handleEvent(event: WebSocketEventMap[K]): unknown } | null,
    options?: ListenerOptions,
  ): void;
  override addEventListener(type: string, listener: AnyEventListener | null, options?: ListenerOptions): void;
  override addEventListener(type: string, listener: AnyEventListener | null, options?: ListenerOptions): void {
    super.addEventListener(type, listener, options);
  }

  override removeEventListener<K extends EventType>(
    type: K,
    listener: ((this: WebSocket, event: WebSocketEventMap[K]) => unknown) | { handleEvent(event: WebSocketEventMap[K]): unknown } | null,
    options?: RemoveListenerOptions,
  ): void;
  override removeEventListener(type: string, listener: AnyEventListener | null, options?: RemoveListenerOptions): void;
  override removeEventListener(type: string, listener: AnyEventListener | null, options?: RemoveListenerOptions): void {
    super.removeEventListener(type, listener, options);
  }

  // ------------------------------------------------------------ methods

  /**
   * Sends a message: strings as text, everything else as binary. Throws an
   * "InvalidStateError" DOMException while CONNECTING. Once the closing
   * handshake has started the data is discarded (and counted in
   * `bufferedAmount`). Blob contents are read first and keep their place in
   * the order of messages.
   */
  send(data: SendData): void {
    if (this.#readyState === ReadyState.CONNECTING) {
      throw new DOMException('send() called before the connection is open', 'InvalidStateError');
    }
    const item = toOutgoing(data);
    if (this.#readyState !== ReadyState.OPEN) {
      this.#discardedBytes += item.size;
      return;
    }
    if (this.#queue.length === 0 && item.kind !== 'blob') {
      this.#write(item);
      return;
    }
    this.#queue.push(detachFromCaller(item));
    this.#queuedBytes += item.size;
    if (!this.#pumping) void this.#pump();
  }

  /**
   * Starts the closing handshake, or fails the connection while CONNECTING.
   * `code` must be 1000 or 3000-4999 ("InvalidAccessError" otherwise) and
   * `reason` at most 123 UTF-8 bytes ("SyntaxError"). Messages already passed
   * to `send()` go out before the close frame.
   */
  close(code?: number, reason?: string): void {
    const checked = checkCloseArguments(code, reason);
    if (this.#readyState === ReadyState.CLOSING || this.#readyState === ReadyState.CLOSED) return;
    if (this.#readyState === ReadyState.CONNECTING) {
      this.#readyState = ReadyState.CLOSING;
      this.#failHandshake(new ClientError('SB_ERR_ABORTED', 'close() was called before the connection was established'));
      return;
    }
    this.#readyState = ReadyState.CLOSING;
    if (this.#queue.length > 0) this.#pendingClose = checked;
    else this.#binding?.close(checked.code, checked.reason);
  }

  /**
   * Sends a ping (a Node extra: browsers cannot); the peer's answer arrives as
   * a 'pong' event whose `data` is its payload (a Buffer). Throws an
   * "InvalidStateError" DOMException while CONNECTING and `LocalProtocolError`
   * for a payload over 125 bytes; does nothing once the closing handshake started.
   */
  ping(data: string | Uint8Array = ''): void {
    if (this.#readyState === ReadyState.CONNECTING) {
      throw new DOMException('ping() called before the connection is open', 'InvalidStateError');
    }
    const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (payload.length > MAX_CONTROL_PAYLOAD) {
      throw new LocalProtocolError('SB_ERR_CONTROL_PAYLOAD_TOO_LONG', `ping payload of ${payload.length} bytes (max ${MAX_CONTROL_PAYLOAD})`);
    }
    if (this.#readyState === ReadyState.OPEN && this.#wireOpen()) this.#binding!.connection.sendPing(payload);
  }

  // ------------------------------------------------------------ opening handshake

  #connect(url: URL): void {
    this.#startHandshakeTimer();
    const want = this.#options.http2;
    if (want === true || (want === undefined && sessionPool.existing(url, this.#options.tls) !== undefined)) this.#connectHttp2(url);
    else this.#connectHttp1(url);
  }

  #startHandshakeTimer(): void {
    const timeout = this.#options.handshakeTimeout;
    if (timeout > 0 && Number.isFinite(timeout)) {
      this.#handshakeTimer = setTimeout(() => {
        this.#failHandshake(new HandshakeError('SB_ERR_HANDSHAKE_TIMEOUT', 0, `no handshake response within ${timeout} ms`));
      }, timeout);
    }
  }

  /**
   * RFC 8441: an extended CONNECT on the origin's HTTP/2 session, once its
   * SETTINGS allow it; HTTP/1.1 on a connection of its own when they do not.
   */
  #connectHttp2(url: URL): void {
    const pooled = sessionPool.acquire(url, this.#options.tls);
    void pooled.ready.then((allowed) => {
      if (this.#handshakeSettled || this.#handshake === null) {
        pooled.release();
        return;
      }
      if (!allowed) {
        pooled.release();
        this.#connectHttp1(url);
        return;
      }
      let stream;
      try {
        stream = pooled.open(this.#handshake.extendedConnectHeaders(url.protocol === 'wss:' ? 'https' : 'http'));
      } catch (error) {
        pooled.release();
        this.#failHandshake(asError(error));
        return;
      }
      this.#socket = stream;
      // The stream counts for the session until it closes.
      stream.once('close', () => pooled.release());
      const onResponse = (headers: Record<string, string | string[] | number | undefined>): void => {
        if (this.#handshakeSettled || this.#handshake === null) return;
        const fields: Record<string, string | string[] | undefined> = {};
        for (const [name, value] of Object.entries(headers)) fields[name] = typeof value === 'number' ? String(value) : value;
        let result;
        try {
          result = this.#handshake.receiveExtendedConnectResponse(Number(headers[':status']), fields);
        } catch (error) {
          this.#failHandshake(asError(error));
          return;
        }
        this.#establish({ ...result, rest: EMPTY_BUFFER });
      };
      this.#watchHandshake(stream, 'response', onResponse);
    });
  }

  /** Watches the socket or stream during the handshake; `onReply` gets the server's answer. */
  #watchHandshake<A extends unknown[]>(socket: Duplex, replyEvent: string, onReply: (...args: A) => void): void {
    const onReplyEvent = onReply as (...args: unknown[]) => void;
    const onError = (error: Error): void => this.#failHandshake(error);
    const onClose = (): void => {
      this.#failHandshake(new ClientError('SB_ERR_CONNECTION_LOST', 'the connection closed before the handshake completed'));
      this.#finish(ABNORMAL_CLOSURE, null);
    };
    socket.on(replyEvent, onReplyEvent);
    socket.on('error', onError);
    socket.on('close', onClose);
    this.#detachHandshake = () => {
      socket.off(replyEvent, onReplyEvent);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
  }

  #connectHttp1(url: URL): void {
    const secure = url.protocol === 'wss:';
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
    let socket: net.Socket;
    try {
      socket = secure ? connectTls(host, port, this.#options.tls) : net.connect({ host, port });
    } catch (error) {
      this.#handshakeSettled = true;
      this.#failure = asError(error);
      setImmediate(() => this.#finish(ABNORMAL_CLOSURE, null));
      return;
    }
    this.#socket = socket;
    socket.setNoDelay(true);
    this.#watchHandshake(socket, 'data', (chunk: Buffer) => this.#onHandshakeData(chunk));
    socket.write(this.#handshake!.request());
  }

  #onHandshakeData(chunk: Buffer): void {
    if (this.#handshakeSettled || this.#handshake === null) return;
    let result: ClientHandshakeResult | null;
    try {
      result = this.#handshake.receiveData(chunk);
    } catch (error) {
      this.#failHandshake(asError(error));
      return;
    }
    if (result !== null) this.#establish(result);
  }

  /** Fails the connection before it opened; 'error' and 'close' follow once the socket has closed. */
  #failHandshake(error: Error): void {
    if (this.#handshakeSettled) return;
    this.#handshakeSettled = true;
    this.#handshake = null;
    this.#clearHandshakeTimer();
    this.#failure ??= error;
    if (this.#socket !== null) this.#socket.destroy();
    // No socket yet (an HTTP/2 session still connecting): nothing will report a close.
    else setImmediate(() => this.#finish(ABNORMAL_CLOSURE, null));
  }

  #clearHandshakeTimer(): void {
    if (this.#handshakeTimer !== null) {
      clearTimeout(this.#handshakeTimer);
      this.#handshakeTimer = null;
    }
  }

  /** The server accepted: hand the socket to a binding, fire 'open', then read the frames that came with the response. */
  #establish(result: Pick<ClientHandshakeResult, 'protocol' | 'extensions' | 'extensionsHeader' | 'rest'>): void {
    this.#handshakeSettled = true;
    this.#handshake = null;
    this.#clearHandshakeTimer();
    this.#detachHandshake();
    const socket = this.#socket!;
    const binding = new SocketBinding(
      socket,
      null,
      {
        ...this.#options.limits,
        role: 'client',
        extensions: result.extensions,
        closeTimeout: this.#options.closeTimeout,
        maxBufferedAmount: this.#options.maxBufferedAmount,
        backpressurePolicy: 'close',
      },
      this.#bindingEvents(),
    );
    this.#binding = binding;
    this.#readyState = ReadyState.OPEN;
    this.#extensions = result.extensionsHeader;
    this.#protocol = result.protocol;
    this.dispatchEvent(new Event('open'));
    // Fed after 'open' so that messages sent along with the 101 are dispatched after it.
    if (result.rest.length > 0) binding.connection.receiveData(result.rest);
  }

  // ------------------------------------------------------------ open connection

  #bindingEvents(): BindingEvents {
    return {
      [onMessage]: (data, binary) => this.#onMessage(data, binary),
      [onPing]: () => undefined,
      [onPong]: (payload) => this.#onPong(payload),
      [onCloseFrame]: () => this.#onClosingStarted(),
      [onViolation]: () => this.#onClosingStarted(),
      [onDrain]: () => undefined,
      [onError]: (error) => {
        this.#failure ??= error;
      },
      [onClosed]: (status) => this.#finish(status, status.error),
    };
  }

  #onMessage(data: Buffer, binary: boolean): void {
    // The standard drops messages that arrive once the state is no longer OPEN (e.g. after close()).
    if (this.#readyState !== ReadyState.OPEN) return;
    this.dispatchEvent(new MessageEvent('message', { data: toMessageData(data, binary, this.#binaryType), origin: this.#origin }));
  }

  #onPong(payload: Buffer): void {
    if (this.#finished) return;
    this.dispatchEvent(new MessageEvent('pong', { data: payload, origin: this.#origin }));
  }

  /** The peer's close frame arrived, or the peer broke the protocol: nothing more is sent. */
  #onClosingStarted(): void {
    if (this.#readyState === ReadyState.OPEN) this.#readyState = ReadyState.CLOSING;
    this.#dropQueue();
  }

  /** The connection is closed: CLOSED, then 'error' when it did not close properly, then 'close'. */
  #finish(status: Pick<ClosedStatus, 'code' | 'reason' | 'wasClean'>, error: Error | null): void {
    if (this.#finished) return;
    this.#settleInFlight();
    this.#finished = true;
    this.#clearHandshakeTimer();
    this.#dropQueue();
    this.#readyState = ReadyState.CLOSED;
    if (status.code === 1006) {
      const cause = error ?? this.#failure ?? new ClientError('SB_ERR_CONNECTION_LOST', 'the connection closed without a closing handshake');
      this.dispatchEvent(new ErrorEvent('error', { error: cause, message: cause.message }));
    }
    this.dispatchEvent(new CloseEvent('close', { code: status.code, reason: status.reason, wasClean: status.wasClean }));
  }

  // ------------------------------------------------------------ sending

  /** True while messages may still go on the wire (no close frame sent or received). */
  #wireOpen(): boolean {
    const connection = this.#binding?.connection;
    return connection !== undefined && connection.state === ReadyState.OPEN && connection.sentClose === null;
  }

  #write(item: ReadyOutgoing): void {
    const binding = this.#binding;
    if (binding === null || !this.#wireOpen()) {
      this.#discardedBytes += item.size;
      return;
    }
    this.#settleInFlight();
    const before = binding.bufferedAmount;
    try {
      binding.send(item.kind === 'text' ? item.text : item.bytes, item.kind === 'bytes');
    } catch (error) {
      this.#abort(new ClientError('SB_ERR_SEND_FAILED', `could not send a message: ${asError(error).message}`, { cause: error }));
      return;
    }
    // The binding queues frames until the end of the tick, so the growth is this message's frames.
    const framed = binding.bufferedAmount - before;
    if (framed > 0) {
      this.#wireTotal += framed;
      this.#inFlight.push({ size: item.size, wireEnd: this.#wireTotal });
      this.#inFlightBytes += item.size;
    }
  }

  /** Sends queued messages in order, waiting for each Blob's bytes; then the deferred close frame. */
  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#queue.length > 0) {
        const item = this.#queue[0]!;
        let ready: ReadyOutgoing;
        if (item.kind === 'blob') {
          let buffer: ArrayBuffer;
          try {
            buffer = await item.read;
          } catch (error) {
            if (this.#queue[0] === item) this.#abort(new ClientError('SB_ERR_BLOB_READ', 'could not read a Blob passed to send()', { cause: error }));
            return;
          }
          if (this.#queue[0] !== item) return; // the queue was dropped while reading
          ready = { kind: 'bytes', bytes: new Uint8Array(buffer), size: item.size };
        } else {
          ready = item;
        }
        this.#queue.shift();
        this.#queuedBytes -= item.size;
        this.#write(ready);
      }
      const close = this.#pendingClose;
      this.#pendingClose = null;
      if (close !== null && this.#wireOpen()) this.#binding!.close(close.code, close.reason);
    } finally {
      this.#pumping = false;
    }
  }

  /** Forgets messages that can no longer be sent (they stay counted in `bufferedAmount`). */
  #dropQueue(): void {
    if (this.#queue.length === 0) return;
    this.#discardedBytes += this.#queuedBytes;
    this.#queuedBytes = 0;
    this.#queue = [];
    this.#pendingClose = null;
  }

  /** Ends the connection because of a local failure: 'error' and 'close' 1006 follow. */
  #abort(error: ClientError): void {
    this.#failure ??= error;
    this.#readyState = ReadyState.CLOSING;
    this.#dropQueue();
    this.#binding?.terminate();
  }

  /**
   * Forgets sent messages whose bytes have left the binding's and the
   * socket's buffers. Those hold the last `bufferedAmount` bytes written, so
   * messages that ended before that point are gone (control frames in the
   * buffer make this err towards counting a message as still buffered).
   */
  #settleInFlight(): void {
    const binding = this.#binding;
    if (binding === null || this.#finished) return;
    const flushedUpTo = this.#wireTotal - binding.bufferedAmount;
    const queue = this.#inFlight;
    let head = this.#inFlightHead;
    while (head < queue.length && queue[head]!.wireEnd <= flushedUpTo) {
      this.#inFlightBytes -= queue[head]!.size;
      head++;
    }
    if (head === queue.length) {
      this.#inFlight = [];
      head = 0;
    } else if (head > 1024 && head * 2 > queue.length) {
      this.#inFlight = queue.slice(head);
      head = 0;
    }
    this.#inFlightHead = head;
  }

  // ------------------------------------------------------------ event handler attributes

  #getHandler<E extends Event>(type: EventType): EventHandler<E> {
    return (this.#handlers.get(type)?.callback as EventHandler<E> | undefined) ?? null;
  }

  /**
   * Like the browser's event handler attributes: the first non-null value adds
   * one listener (keeping its place among the others), later values replace
   * its callback, null (or any non-function) removes it.
   */
  #setHandler(type: EventType, value: unknown): void {
    const slot = this.#handlers.get(type);
    if (typeof value !== 'function') {
      if (slot !== undefined) {
        super.removeEventListener(type, slot.listener);
        this.#handlers.delete(type);
      }
      return;
    }
    if (slot !== undefined) {
      slot.callback = value as StoredHandler;
      return;
    }
    const created: HandlerSlot = {
      callback: value as StoredHandler,
      listener: (event: Event) => {
        if (created.callback.call(this, event) === false) event.preventDefault();
      },
    };
    this.#handlers.set(type, created);
    super.addEventListener(type, created.listener);
  }
}

Object.defineProperties(WebSocket.prototype, {
  CONNECTING: { value: ReadyState.CONNECTING, enumerable: true },
  OPEN: { value: ReadyState.OPEN, enumerable: true },
  CLOSING: { value: ReadyState.CLOSING, enumerable: true },
  CLOSED: { value: ReadyState.CLOSED, enumerable: true },
});

// ---------------------------------------------------------------- helpers

/** The extensions the client offers: permessage-deflate unless turned off, then the others. */
function offeredExtensions(options: ClientOptions): ClientExtension[] {
  const deflate = options.perMessageDeflate ?? true;
  const offered: ClientExtension[] = [];
  if (deflate !== false && isSyncZlibAvailable()) offered.push(new PerMessageDeflateClient(deflate === true ? {} : deflate));
  return [...offered, ...(options.extensions ?? [])];
}

function resolveOptions(options: ClientOptions): ResolvedOptions {
  return {
    handshakeTimeout: options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
    closeTimeout: options.closeTimeout,
    maxBufferedAmount: options.maxBufferedAmount ?? Number.MAX_SAFE_INTEGER,
    limits: { maxMessageSize: options.maxMessageSize, maxFrameSize: options.maxFrameSize, maxFragments: options.maxFragments },
    tls: options.tls,
    http2: options.http2,
  };
}

/** `tls.connect` with SNI set to the host name (never to an IP address, which SNI forbids). */
function connectTls(host: string, port: number, options: tls.ConnectionOptions | undefined): tls.TLSSocket {
  const servername = options?.servername ?? (net.isIP(host) === 0 ? host : undefined);
  return tls.connect({ ...options, host, port, servername });
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
