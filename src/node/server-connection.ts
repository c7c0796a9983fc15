/**
 * `ServerWebSocket`: one connection accepted by a `WebSocketServer`, after the
 * 101 response. A thin event-emitting face over a `SocketBinding`: it turns
 * the binding's callbacks into Node events, keeps the public ready state and
 * reports each connection's end exactly once.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { encodeClosePayload } from '../protocol/close.js';
import { ReadyState } from '../protocol/connection.js';
import { CloseCode, LocalProtocolError, RemoteProtocolError, SwitchboardError } from '../protocol/errors.js';
import type { Extension } from '../protocol/extension.js';
import { isValidUtf8 } from '../protocol/utf8.js';
import {
  onCloseFrame,
  onClosed,
  onDrain,
  onError,
  onMessage,
  onPeerEnded,
  onPing,
  onPong,
  onViolation,
  SocketBinding,
  type BindingEvents,
  type BindingOptions,
  type ClosedStatus,
  type SendResult,
} from './binding.js';
import { ConnectionError } from './errors.js';

/** Events of a `ServerWebSocket`, with their arguments. */
export interface ServerWebSocketEvents {
  /** A complete message: UTF-8 bytes of a text message, or binary data. */
  message: [data: Buffer, isBinary: boolean];
  /** A ping arrived (a pong was already sent back). */
  ping: [payload: Buffer];
  pong: [payload: Buffer];
  /** The buffered bytes went back to zero after a send that returned 'backpressure'. */
  drain: [];
  /**
   * The connection failed: `RemoteProtocolError` when the peer broke the
   * protocol, `ConnectionError` otherwise. Emitted at most once, and only
   * when a listener is attached (a misbehaving peer never crashes the server).
   */
  error: [error: Error];
  /** Once, after the socket closed. */
  close: [code: number, reason: string, wasClean: boolean];
}

/** Message payloads `send()` accepts. */
export type MessageData = string | Uint8Array | ArrayBuffer | ArrayBufferView;

export interface ServerSendOptions {
  /** Send as binary (true) or text (false). Default: text for strings, binary for bytes. */
  binary?: boolean;
  /** False to skip compression for this message when an extension compresses. */
  compress?: boolean;
}

/** Per-connection limits and timers, as `SocketBinding` takes them. */
export type ConnectionSettings = Omit<BindingOptions, 'role' | 'extensions' | 'autoPong'>;

/**
 * What a connection tells the server that tracks it. One object per server,
 * shared by its connections (not two closures per connection).
 */
export interface ConnectionOwner<Data> {
  /** Called once per connection, when it stops being OPEN. */
  leftOpen(ws: ServerWebSocket<Data>): void;
  /** Called once per connection, when its socket closed, just before the 'close' event. */
  closed(ws: ServerWebSocket<Data>): void;
}

/** What a server hands to a new `ServerWebSocket` (not public API). */
export interface ServerWebSocketInit<Data> {
  socket: Duplex;
  /** The client address when `socket` has none of its own (an HTTP/2 stream: its session's). */
  remoteAddress?: string;
  request: IncomingMessage;
  path: string;
  protocol: string;
  extensionsHeader: string;
  extensions: readonly Extension[];
  data: Data;
  settings: ConnectionSettings;
  owner: ConnectionOwner<Data>;
}

/** The binding under each connection, for the server's own modules (broadcast, heartbeat). */
/** The `SocketBinding` of a connection. Internal to the Node layer; not exported by `switchboard/server`. */
export function bindingOf(ws: ServerWebSocket<unknown>): SocketBinding {
  return ws._binding;
}

// Bits of `ServerWebSocket.flags`.
/** The connection stopped being OPEN (the owner was told). */
const FLAG_LEFT_OPEN = 1;
/** The socket closed ('close' was emitted). */
const FLAG_CLOSED = 2;
/** 'error' was emitted (or would have been, with a listener). */
const FLAG_FAILED = 4;
/** Created while `EventEmitter.captureRejections` was on: listeners' promises are caught by `emit`, so 'message' always goes through it. */
const FLAG_CAPTURE = 8;

/**
 * One accepted WebSocket connection. Created by `WebSocketServer`, not by users.
 * It takes its binding's callbacks itself (the symbol-keyed methods at the
 * end), turning them into its events: no events object per connection.
 */
export class ServerWebSocket<Data = undefined> extends EventEmitter<ServerWebSocketEvents> implements BindingEvents {
  static readonly OPEN = ReadyState.OPEN;
  static readonly CLOSING = ReadyState.CLOSING;
  static readonly CLOSED = ReadyState.CLOSED;
  // On the prototype (below the class), not copied into every connection.
  declare readonly OPEN: typeof ReadyState.OPEN;
  declare readonly CLOSING: typeof ReadyState.CLOSING;
  declare readonly CLOSED: typeof ReadyState.CLOSED;

  /**
   * The request target of the upgrade (path and query). The request itself is
   * passed to the 'connection' event and not kept, to keep idle connections small.
   */
  readonly url: string;
  /** Pathname of the request target, without the query. */
  readonly path: string;
  /** What `authenticate` returned as `data` (undefined without it). */
  data: Data;
  /** The selected subprotocol, or '' for none. */
  readonly protocol: string;
  /** The negotiated `Sec-WebSocket-Extensions` value, or ''. */
  readonly extensions: string;
  /** The peer's IP address, as it was when the connection opened. */
  readonly remoteAddress: string | undefined;

  /** @internal Idle-timeout ticks since the last frame from the peer (see `IdleSweeper`). */
  idleTicks = 0;
  /** @internal The socket binding (broadcast and heartbeat use it directly). */
  readonly _binding: SocketBinding;
  private readonly owner: ConnectionOwner<Data>;
  /** FLAG_LEFT_OPEN, FLAG_CLOSED and FLAG_FAILED. */
  private flags = 0;

  /** @internal Use `WebSocketServer`. */
  constructor(init: ServerWebSocketInit<Data>) {
    super();
    if (EventEmitter.captureRejections) this.flags = FLAG_CAPTURE;
    this.url = init.request.url ?? '/';
    this.path = init.path;
    this.data = init.data;
    this.protocol = init.protocol;
    this.extensions = init.extensionsHeader;
    this.remoteAddress = init.remoteAddress ?? (init.socket instanceof Socket ? init.socket.remoteAddress : undefined);
    this.owner = init.owner;
    this._binding = new SocketBinding(
      init.socket,
      null,
      { ...init.settings, role: 'server', extensions: init.extensions },
      this,
    );
  }

  /** @internal True while OPEN (the cheap check of the broadcast loop). */
  get _open(): boolean {
    return (this.flags & (FLAG_LEFT_OPEN | FLAG_CLOSED)) === 0 && this._binding.connection.state === ReadyState.OPEN;
  }

  /** 1 (OPEN), 2 (CLOSING: a close frame crossed, or the socket is ending) or 3 (CLOSED, after 'close'). */
  get readyState(): ReadyState {
    if ((this.flags & FLAG_CLOSED) !== 0) return ReadyState.CLOSED;
    if ((this.flags & FLAG_LEFT_OPEN) !== 0 || this._binding.readyState !== ReadyState.OPEN) return ReadyState.CLOSING;
    return ReadyState.OPEN;
  }

  /** Bytes written and not yet handed to the kernel. */
  get bufferedAmount(): number {
    return this._binding.bufferedAmount;
  }

  /**
   * Sends a message. Strings go as text and bytes as binary unless `binary`
   * says otherwise (bytes sent as text must be valid UTF-8). Returns 'sent',
   * 'backpressure' when the buffered bytes went over the high-water mark
   * (wait for 'drain'), or 'dropped' when the connection is not OPEN or the
   * buffer limit refused it (with `backpressurePolicy: 'close'` the connection
   * is also closed).
   */
  send(data: MessageData, options: ServerSendOptions = {}): SendResult {
    const binary = options.binary ?? typeof data !== 'string';
    const payload = messagePayload(data, binary);
    if (!this._open) return 'dropped';
    return this._binding.send(payload, binary, options.compress === undefined ? NO_SEND_OPTIONS : { compress: options.compress });
  }

  /** Sends a ping (ignored unless OPEN). Throws `LocalProtocolError` for a payload over 125 bytes. */
  ping(data: string | Uint8Array = EMPTY): void {
    const payload = controlPayload(data);
    if (this.readyState === ReadyState.OPEN) this._binding.connection.sendPing(payload);
  }

  /** Sends an unsolicited pong (ignored unless OPEN). Throws `LocalProtocolError` for a payload over 125 bytes. */
  pong(data: string | Uint8Array = EMPTY): void {
    const payload = controlPayload(data);
    if (this.readyState === ReadyState.OPEN) this._binding.connection.sendPong(payload);
  }

  /** True while reading is paused (`pause()`). */
  get isPaused(): boolean {
    return this._binding.readingPaused;
  }

  /**
   * Stops reading from the socket: TCP flow control then holds the peer
   * back, and the server spends nothing on what it sends. Bytes already read
   * are still parsed, so a few events may follow. `close()` while paused
   * does not wait for the peer's answer: see there. No effect once closed.
   */
  pause(): void {
    if ((this.flags & FLAG_CLOSED) === 0) this._binding.pauseReading();
  }

  /** Reads from the socket again after `pause()`. */
  resume(): void {
    if ((this.flags & FLAG_CLOSED) === 0) this._binding.resumeReading();
  }

  /**
   * Emulates a slow link to this peer (for demos and tests of backpressure
   * policies): the socket is given at most `bytesPerSecond` (an integer, at
   * least 1,024; RangeError otherwise), the rest waits and counts in
   * `bufferedAmount`, under the same `maxBufferedAmount`. null lifts it.
   */
  pace(bytesPerSecond: number | null): void {
    if ((this.flags & FLAG_CLOSED) === 0) this._binding.pace(bytesPerSecond);
  }

  /** The rate set by `pace()`, or null. */
  get paceRate(): number | null {
    return this._binding.paceRate;
  }

  /**
   * Starts the closing handshake; without a code the close frame is empty
   * (the peer sees 1005). The socket is destroyed if the peer does not answer
   * within `closeTimeout`. While paused (a peer that floods, say) the close
   * does not wait for the peer's close frame: nothing more is parsed or
   * emitted but 'close', the TCP connection is ended once the close frame is
   * written, and at most 64 KiB more are read (and dropped), enough to see
   * a well-behaved peer's end; past that, reading stops and the socket is
   * destroyed within 1 s (or `closeTimeout`, when shorter). Throws `LocalProtocolError` for a
   * code that may not be sent (e.g. 1005, 1006, 2000) or a reason over 123
   * UTF-8 bytes.
   */
  close(code?: number, reason = ''): void {
    encodeClosePayload(code, reason);
    if ((this.flags & FLAG_CLOSED) !== 0) return;
    this._leaveOpen();
    this._binding.close(code, reason);
  }

  /** Destroys the socket at once, without a closing handshake ('close' reports 1006). */
  terminate(): void {
    if ((this.flags & FLAG_CLOSED) !== 0) return;
    this._leaveOpen();
    this._binding.terminate();
  }

  /** @internal */
  _leaveOpen(): void {
    if ((this.flags & FLAG_LEFT_OPEN) !== 0) return;
    this.flags |= FLAG_LEFT_OPEN;
    this.owner.leftOpen(this);
  }

  /** @internal */
  _fail(error: Error): void {
    if ((this.flags & FLAG_FAILED) !== 0) return;
    this.flags |= FLAG_FAILED;
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** @internal */
  _finish(status: ClosedStatus): void {
    this.flags |= FLAG_CLOSED;
    this._leaveOpen();
    this.owner.closed(this);
    this.emit('close', closeEventCode(status), status.reason, status.wasClean);
  }

  // ------------------------------------------------ binding callbacks (BindingEvents)

  /** @internal */
  [onMessage](data: Buffer, binary: boolean): void {
    this.idleTicks = 0;
    // One listener, the common case: called as \`emit\` would call it, without
    // its lookup in the emitter's listener table at a site that every emitter
    // in the process shares (megamorphic) or its array of arguments.
    const listener = (this as unknown as EmitterInternals)._events?.message;
    if (typeof listener === 'function' && (this.flags & FLAG_CAPTURE) === 0) listener.call(this, data, binary);
    else this.emit('message', data, binary);
  }

  /** @internal */
  [onPing](payload: Buffer): void {
    this.idleTicks = 0;
    this.emit('ping', payload);
  }

  /** @internal */
  [onPong](payload: Buffer): void {
    this.idleTicks = 0;
    this.emit('pong', payload);
  }

  /** @internal */
  [onCloseFrame](): void {
    this._leaveOpen();
  }

  /** @internal */
  [onViolation](error: RemoteProtocolError): void {
    this._leaveOpen();
    this._fail(error);
  }

  /** @internal */
  [onDrain](): void {
    this.emit('drain');
  }

  /** @internal */
  [onError](error: Error): void {
    this._leaveOpen();
    this._fail(asConnectionError(error));
  }

  /** @internal */
  [onClosed](status: ClosedStatus): void {
    this._finish(status);
  }

  /** @internal */
  [onPeerEnded](): void {
    this._leaveOpen();
  }
}

Object.defineProperties(ServerWebSocket.prototype, {
  OPEN: { value: ReadyState.OPEN, enumerable: true },
  CLOSING: { value: ReadyState.CLOSING, enumerable: true },
  CLOSED: { value: ReadyState.CLOSED, enumerable: true },
});

/** The listener table of Node's EventEmitter: a function for one listener, an array for more. */
interface EmitterInternals {
  _events?: { message?: ((data: Buffer, isBinary: boolean) => unknown) | unknown[] };
}

const EMPTY = new Uint8Array(0);
const NO_SEND_OPTIONS = Object.freeze({});

/**
 * The bytes (or string) to frame for a message. Throws `LocalProtocolError`
 * when bytes to be sent as text are not valid UTF-8.
 */
export function messagePayload(data: MessageData, binary: boolean): string | Uint8Array {
  if (typeof data === 'string') return data;
  const bytes = toBytes(data);
  if (!binary && !isValidUtf8(bytes)) {
    throw new LocalProtocolError('SB_ERR_INVALID_ARGUMENT', 'bytes sent as a text message must be valid UTF-8');
  }
  return bytes;
}

function toBytes(data: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new LocalProtocolError('SB_ERR_INVALID_ARGUMENT', 'message data must be a string, an ArrayBuffer or an ArrayBufferView');
}

function controlPayload(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

/** Socket-level errors become `ConnectionError` SB_ERR_SOCKET; our own errors pass through. */
function asConnectionError(error: Error): Error {
  if (error instanceof SwitchboardError) return error;
  const wrapped = new ConnectionError('SB_ERR_SOCKET', error.message);
  wrapped.cause = error;
  return wrapped;
}

/**
 * The code of the 'close' event: the code we sent when the peer broke the
 * protocol; else the peer's close code; else the code of the local failure
 * (e.g. 1008 for a slow consumer); else 1006.
 */
function closeEventCode(status: ClosedStatus): number {
  if (status.error instanceof RemoteProtocolError) return status.error.closeCode;
  if (status.code !== CloseCode.ABNORMAL) return status.code;
  if (status.error instanceof ConnectionError) return status.error.closeCode;
  return status.code;
}
