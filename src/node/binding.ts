/**
 * Binds a protocol `Connection` to a Node stream socket (TCP or TLS): feeds it
 * the socket's bytes, writes what it produces (coalesced per event-loop turn),
 * tracks buffered bytes and backpressure, and owns the timers of the closing
 * handshake. Server connections and the client `WebSocket` both sit on it.
 */
import type { Duplex } from 'node:stream';
import { CloseCode, type RemoteProtocolError } from '../protocol/errors.js';
import type { Extension } from '../protocol/extension.js';
import { Connection, ReadyState, type ConnectionHandler, type Role, type SendOptions } from '../protocol/connection.js';
import type { MessageLimits } from '../protocol/limits.js';
import { headerSize, writeHeader } from '../protocol/frame.js';
import { ConnectionError } from './errors.js';
import { framePool, MAX_POOLED_FRAME } from './frame-pool.js';
import { DEFAULT_MAX_PINGS_PER_SECOND, DEFAULT_PING_FLOOD_TIMEOUT, PingLimiter } from './ping-limit.js';
import { WritePacer } from './write-pacer.js';

/** What to do when a send would push buffered bytes over `maxBufferedAmount`. */
export type BackpressurePolicy = 'close' | 'drop';

/** Outcome of a send: written below the high-water mark, written above it, or not written. */
export type SendResult = 'sent' | 'backpressure' | 'dropped';

export interface BindingOptions extends MessageLimits {
  role: Role;
  extensions?: readonly Extension[];
  /** Wait this long for the peer during the closing handshake, then destroy. Default 5000 ms. */
  closeTimeout?: number;
  /** Most bytes buffered for the socket before `backpressurePolicy` applies. Default 16 MiB. */
  maxBufferedAmount?: number;
  /** Default 'close': a consumer that cannot keep up is disconnected. */
  backpressurePolicy?: BackpressurePolicy;
  /** `send()` reports 'backpressure' above this many buffered bytes. Default 64 KiB. */
  highWaterMark?: number;
  /** Answer pings with pongs. Default true. */
  autoPong?: boolean;
  /** Pings answered per second; the others go unanswered. Default 20; 0 = no limit. */
  maxPingsPerSecond?: number;
  /** Pings over the rate for this long (ms) close the connection with 1008. Default 3000. */
  pingFloodTimeout?: number;
}

export const DEFAULT_CLOSE_TIMEOUT = 5000;
/**
 * Chunks queued in one turn are copied into one buffer (one stream write)
 * up to `JOIN_ALWAYS` bytes, and up to `COALESCE_LIMIT` when they are many
 * small ones (a connection's share of many broadcasts: one write beats a
 * stream write per chunk). Otherwise they go to the socket corked, as one
 * writev of the chunks as they are: a second copy of a pipelined burst of
 * 1 KiB frames, which lies in a few frame-pool views averaging kilobytes,
 * cost more than the writev (bench/README.md, "Echo: instructions per
 * message").
 */
const JOIN_ALWAYS = 4 * 1024;
const COALESCE_LIMIT = 64 * 1024;
/** Chunks averaging at least this many bytes are written as they are (corked) rather than joined. */
const WRITEV_MIN_AVERAGE = 2 * 1024;

/** Whether a turn's `count` chunks of `size` bytes in all are joined into one buffer before the write. */
function joinsChunks(size: number, count: number): boolean {
  return size <= JOIN_ALWAYS || (size <= COALESCE_LIMIT && size < count * WRITEV_MIN_AVERAGE);
}

/**
 * The bindings with bytes queued this turn. One tick flushes them all, in
 * the order they first wrote: a broadcast to thousands of connections costs
 * one `process.nextTick`, not one per connection.
 */
let dirty: SocketBinding[] = [];

function flushDirty(): void {
  const bindings = dirty;
  dirty = [];
  let i = 0;
  try {
    for (; i < bindings.length; i++) bindings[i]!.flush();
  } finally {
    // Should a flush throw, the others still go out, on the next tick.
    for (let j = i + 1; j < bindings.length; j++) scheduleFlush(bindings[j]!);
  }
}

function scheduleFlush(binding: SocketBinding): void {
  if (dirty.push(binding) === 1) process.nextTick(flushDirty);
}

/**
 * Bytes read and dropped once the connection stopped parsing (after a
 * violation, a policy failure, the peer's close frame, or a close while
 * paused) before reading stops altogether: enough to see a well-behaved
 * peer's last frames and its FIN. A peer that sends more is held back by
 * TCP flow control and its socket destroyed after `DISCARD_LINGER` ms.
 */
export const DISCARD_LIMIT = 64 * 1024;
/**
 * How long a socket that sent more than `DISCARD_LIMIT` after the close
 * stays open (unread) before it is destroyed, when `closeTimeout` is longer:
 * time for the peer to read the close frame before the reset.
 */
export const DISCARD_LINGER = 1000;

export const DEFAULT_MAX_BUFFERED_AMOUNT = 16 * 1024 * 1024;
export const DEFAULT_HIGH_WATER_MARK = 64 * 1024;

// The keys of the `BindingEvents` callbacks. Symbols, so that an object can
// take the callbacks as its own methods (a server connection does: no
// separate events object per connection) without showing them in its API.
export const onMessage: unique symbol = Symbol('switchboard.binding.message');
export const onPing: unique symbol = Symbol('switchboard.binding.ping');
export const onPong: unique symbol = Symbol('switchboard.binding.pong');
export const onCloseFrame: unique symbol = Symbol('switchboard.binding.closeFrame');
export const onViolation: unique symbol = Symbol('switchboard.binding.violation');
export const onDrain: unique symbol = Symbol('switchboard.binding.drain');
export const onError: unique symbol = Symbol('switchboard.binding.error');
export const onClosed: unique symbol = Symbol('switchboard.binding.closed');
export const onPeerEnded: unique symbol = Symbol('switchboard.binding.peerEnded');

export interface BindingEvents {
  [onMessage](data: Buffer, binary: boolean): void;
  [onPing](payload: Buffer): void;
  [onPong](payload: Buffer): void;
  /** The peer's close frame arrived. */
  [onCloseFrame](code: number, reason: string): void;
  /** The peer broke the protocol (a close frame with its code went out). */
  [onViolation](error: RemoteProtocolError): void;
  /** Buffered bytes fell back to zero after a backpressured send. */
  [onDrain](): void;
  /** A socket error, or a slow consumer or timeout that ended the connection. */
  [onError](error: Error): void;
  /** The socket is closed; called once. */
  [onClosed](status: ClosedStatus): void;
  /** The peer ended its side of the TCP connection. */
  [onPeerEnded]?(): void;
}

export interface ClosedStatus {
  /** The peer's close code, 1005 for none, or 1006 when no close frame arrived. */
  code: number;
  reason: string;
  wasClean: boolean;
  /** Close code this side sent, if it sent one. */
  sentCode: number | null;
  /** The violation or socket-level error that ended the connection, if any. */
  error: Error | null;
}

/**
 * A binding's limits and policies, resolved once: immutable and shared by
 * every binding created with the same values (a server's connections), so a
 * connection holds one reference instead of seven fields.
 */
interface BindingSettings {
  readonly closeTimeout: number;
  readonly maxBufferedAmount: number;
  readonly policy: BackpressurePolicy;
  readonly highWaterMark: number;
  readonly autoPong: boolean;
  readonly maxPingsPerSecond: number;
  readonly pingFloodTimeout: number;
}

let lastSettings: BindingSettings | null = null;

/** The resolved settings of `options`: the previous call's object when the values are equal. */
function settingsOf(options: BindingOptions): BindingSettings {
  const closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
  const maxBufferedAmount = options.maxBufferedAmount ?? DEFAULT_MAX_BUFFERED_AMOUNT;
  const policy = options.backpressurePolicy ?? 'close';
  const highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  const autoPong = options.autoPong ?? true;
  const maxPingsPerSecond = options.maxPingsPerSecond ?? DEFAULT_MAX_PINGS_PER_SECOND;
  const pingFloodTimeout = options.pingFloodTimeout ?? DEFAULT_PING_FLOOD_TIMEOUT;
  const last = lastSettings;
  if (
    last !== null &&
    last.closeTimeout === closeTimeout &&
    last.maxBufferedAmount === maxBufferedAmount &&
    last.policy === policy &&
    last.highWaterMark === highWaterMark &&
    last.autoPong === autoPong &&
    last.maxPingsPerSecond === maxPingsPerSecond &&
    last.pingFloodTimeout === pingFloodTimeout
  ) {
    return last;
  }
  lastSettings = Object.freeze({ closeTimeout, maxBufferedAmount, policy, highWaterMark, autoPong, maxPingsPerSecond, pingFloodTimeout });
  return lastSettings;
}

/**
 * What few connections ever need: the ping limiter of a peer that pings, the
 * failure that ended the connection, the close timer and the count of input
 * dropped while closing. Created by the first of them, so that an open,
 * quiet connection does not carry four fields for it.
 */
class RareState {
  /** Allocated on the first ping. */
  pingLimiter: PingLimiter | null = null;
  /** The violation or local failure that ended the connection, first one wins. */
  failure: Error | null = null;
  /** Ends the closing handshake when the peer does not. */
  timer: NodeJS.Timeout | null = null;
  /** When `timer` fires (ms since the epoch). */
  deadline = 0;
  /** Bytes read and dropped since the connection stopped parsing. */
  discarded = 0;
}

// Bits of `SocketBinding.flags`.
const FLUSH_SCHEDULED = 1;
const NEED_DRAIN = 2;
const DONE = 4;
/** Reading paused by `pauseReading()`. */
const PAUSED = 8;

const NO_SEND_OPTIONS: SendOptions = Object.freeze({});

const kBinding = Symbol('switchboard.binding');
type BoundSocket = Duplex & { [kBinding]: SocketBinding };

// Socket listeners shared by every connection (Node calls them with the socket as `this`).
function onSocketData(this: BoundSocket, chunk: Buffer): void {
  const binding = this[kBinding];
  binding.received = true;
  if (binding.connection.receiving) binding.connection.receiveData(chunk);
  else binding.discard(chunk.length);
}
function onSocketEnd(this: BoundSocket): void {
  this[kBinding].onSocketEnd();
}
function onSocketError(this: BoundSocket, error: Error): void {
  this[kBinding].onSocketError(error);
}
function onSocketClose(this: BoundSocket): void {
  this[kBinding].onSocketClose();
}
function onSocketDrain(this: BoundSocket): void {
  this[kBinding].onSocketDrain();
}

export class SocketBinding implements ConnectionHandler {
  readonly connection: Connection;
  readonly socket: Duplex;
  /**
   * True when bytes arrived from the peer since the owner last cleared it
   * (the server heartbeat's sign of life: one store per chunk, no listener or
   * timer of its own). True when the binding is created.
   */
  received = true;
  private readonly events: BindingEvents;
  private readonly settings: BindingSettings;
  /** Bytes written by the connection during this event-loop turn, not yet given to the socket. */
  private pending: Uint8Array[] | null = null;
  /** The frames written this turn into the frame pool's block since the last `pending` entry: `[runStart, runEnd)` of `runBlock`. */
  private runBlock: Buffer | null = null;
  private runStart = 0;
  private runEnd = 0;
  private pendingBytes = 0;
  /** FLUSH_SCHEDULED, NEED_DRAIN, DONE and PAUSED. */
  private flags = 0;
  /** Created by the first ping, failure, close timer or dropped input. */
  private rare: RareState | null = null;
  /** Set by `pace()`: the socket gets the bytes at most this fast (an emulated slow link). */
  private pacer: WritePacer | null = null;

  constructor(socket: Duplex, head: Buffer | null, options: BindingOptions, events: BindingEvents) {
    this.socket = socket;
    this.events = events;
    this.settings = settingsOf(options);
    // Pongs are answered here, where the rate and the buffered-bytes limits apply.
    // A literal of fixed shape rather than a copy of every option: less garbage per connection.
    const { role, extensions, maxMessageSize, maxFrameSize, maxFragments } = options;
    this.connection = new Connection({ role, extensions, maxMessageSize, maxFrameSize, maxFragments, autoPong: false }, this);
    (socket as BoundSocket)[kBinding] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
    if (head && head.length > 0) this.connection.receiveData(head);
  }

  // ------------------------------------------------ ConnectionHandler (called by the protocol connection)

  /** @internal */
  message(data: Buffer, binary: boolean): void {
    this.events[onMessage](data, binary);
  }

  /** @internal */
  ping(payload: Buffer): void {
    if (this.settings.autoPong) this.answerPing(payload);
    this.events[onPing](payload);
  }

  /**
   * Answers a ping while OPEN, unless the peer pings faster than
   * `maxPingsPerSecond` (then it gets no pong, and a sustained flood closes
   * the connection with 1008) or the pong would not fit under
   * `maxBufferedAmount` (a peer that pings but never reads).
   */
  private answerPing(payload: Buffer): void {
    if (this.connection.state !== ReadyState.OPEN) return;
    const { maxPingsPerSecond, pingFloodTimeout } = this.settings;
    if (maxPingsPerSecond > 0) {
      const decision = ((this.rare ??= new RareState()).pingLimiter ??= new PingLimiter(maxPingsPerSecond, pingFloodTimeout)).admit();
      if (decision === 'ignore') return;
      if (decision === 'flood') {
        this.fail(new ConnectionError('SB_ERR_PING_FLOOD', `pings over ${maxPingsPerSecond}/s for ${pingFloodTimeout} ms`, CloseCode.POLICY_VIOLATION), 'ping flood');
        return;
      }
    }
    if (this.admit(payload.length + 2)) this.connection.sendPong(payload);
  }

  /** @internal */
  pong(payload: Buffer): void {
    this.events[onPong](payload);
  }

  /** @internal */
  closeFrame(code: number, reason: string): void {
    this.events[onCloseFrame](code, reason);
    this.startCloseTimer();
  }

  /** @internal */
  violation(error: RemoteProtocolError): void {
    (this.rare ??= new RareState()).failure = error;
    this.events[onViolation](error);
  }

  /** @internal Close the socket once the queued bytes are flushed. */
  end(): void {
    this.endSocket();
  }

  // ------------------------------------------------ socket events

  /** @internal */
  onSocketEnd(): void {
    this.connection.receiveEof();
    this.events[onPeerEnded]?.();
    // Ending twice makes Node build (and drop) an error with a stack trace.
    if (!this.socket.writableEnded) this.socket.end();
  }

  /** @internal */
  onSocketError(error: Error): void {
    this.failWith(new ConnectionError('SB_ERR_SOCKET', error.message));
    this.events[onError](error);
  }

  /** @internal */
  onSocketDrain(): void {
    if (this.pacer !== null && this.pacer.bytes > 0) return;
    if ((this.flags & NEED_DRAIN) !== 0 && this.bufferedAmount === 0) {
      this.flags &= ~NEED_DRAIN;
      this.events[onDrain]();
    }
  }

  get readyState(): ReadyState {
    return this.connection.state;
  }

  /** True between `pauseReading()` and `resumeReading()`. */
  get readingPaused(): boolean {
    return (this.flags & PAUSED) !== 0;
  }

  /**
   * Stops reading from the socket: the peer is held back by TCP flow
   * control. Bytes already read are still parsed (the rest of one chunk).
   */
  pauseReading(): void {
    if ((this.flags & (DONE | PAUSED)) !== 0) return;
    this.flags |= PAUSED;
    this.socket.pause();
  }

  /** Reads from the socket again (unless reading stopped for good, see `DISCARD_LIMIT`). */
  resumeReading(): void {
    if ((this.flags & (DONE | PAUSED)) !== PAUSED) return;
    this.flags &= ~PAUSED;
    if (this.discarded <= DISCARD_LIMIT) this.socket.resume();
  }

  /** @internal Input read after the connection stopped parsing: dropped, and past `DISCARD_LIMIT` reading stops. */
  discard(size: number): void {
    const rare = (this.rare ??= new RareState());
    const before = rare.discarded;
    rare.discarded += size;
    if (rare.discarded <= DISCARD_LIMIT || before > DISCARD_LIMIT) return;
    this.socket.pause();
    if (rare.timer !== null && rare.deadline <= Date.now() + DISCARD_LINGER) return;
    this.clearCloseTimer();
    this.startCloseTimer(Math.min(this.settings.closeTimeout, DISCARD_LINGER));
  }

  /** Bytes read and dropped since the connection stopped parsing. */
  private get discarded(): number {
    return this.rare === null ? 0 : this.rare.discarded;
  }

  /** Bytes queued for the socket and not yet passed to the kernel (those a pace holds back included). */
  get bufferedAmount(): number {
    return this.socket.writableLength + this.pendingBytes + (this.pacer === null ? 0 : this.pacer.bytes);
  }

  /** The rate set by `pace()`, in bytes per second; null when the socket gets the bytes as fast as it takes them. */
  get paceRate(): number | null {
    return this.pacer?.rate ?? null;
  }

  /**
   * Emulates a slow link: from now on the socket is given at most
   * `bytesPerSecond` (an integer, at least `MIN_PACE_RATE`); what waits counts
   * in `bufferedAmount` and so under `maxBufferedAmount`. null gives the socket
   * what waits at once and stops pacing. Closing the connection stops it too.
   */
  pace(bytesPerSecond: number | null): void {
    const previous = this.pacer;
    if (bytesPerSecond === null) {
      this.pacer = null;
      previous?.release();
      this.onSocketDrain();
      return;
    }
    const pacer = new WritePacer(this.socket, bytesPerSecond, () => this.onSocketDrain());
    if ((this.flags & DONE) !== 0 || this.connection.state !== ReadyState.OPEN) return;
    this.pacer = pacer;
    // What the previous pace held keeps its place in the line.
    previous?.release();
  }

  /** Stops pacing, handing what waits to the socket (a close frame must not wait behind it). */
  private unpace(): void {
    if (this.pacer === null) return;
    const pacer = this.pacer;
    this.pacer = null;
    pacer.release();
  }

  /** Sends a message, applying the buffered-bytes limit. */
  send(data: Uint8Array | string, binary: boolean, options: SendOptions = NO_SEND_OPTIONS): SendResult {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    // The bytes the socket and a pace hold, read once: sending only queues
    // (`pendingBytes`), nothing reaches the socket before the flush.
    const held = this.socket.writableLength + (this.pacer === null ? 0 : this.pacer.bytes);
    const settings = this.settings;
    if (held + this.pendingBytes + bytes.length > settings.maxBufferedAmount && !this.admit(bytes.length)) return 'dropped';
    if (binary) this.connection.sendBinary(bytes, options);
    else this.connection.sendText(bytes, options);
    if (held + this.pendingBytes < settings.highWaterMark) return 'sent';
    this.flags |= NEED_DRAIN;
    return 'backpressure';
  }

  /** Writes pre-encoded frames (a broadcast framed once). */
  sendFrames(frames: Uint8Array): SendResult {
    // The broadcast hot path: read the buffered size once.
    const buffered = this.socket.writableLength + this.pendingBytes + frames.length;
    const settings = this.settings;
    if (buffered > settings.maxBufferedAmount && !this.admit(frames.length)) return 'dropped';
    this.connection.sendFrames(frames);
    if (buffered < settings.highWaterMark) return 'sent';
    this.flags |= NEED_DRAIN;
    return 'backpressure';
  }

  private admit(size: number): boolean {
    const { maxBufferedAmount, policy } = this.settings;
    if (this.bufferedAmount + size <= maxBufferedAmount) return true;
    if (policy === 'drop') return false;
    this.abort(new ConnectionError('SB_ERR_SLOW_CONSUMER', `more than ${maxBufferedAmount} bytes buffered for a slow consumer`, CloseCode.POLICY_VIOLATION));
    return false;
  }

  /**
   * Starts the closing handshake; the socket is destroyed if the peer does
   * not finish it in time. While reading is paused the peer's answer is not
   * waited for: parsing stops, the socket is ended once the close frame is
   * written, and what the peer still sends is dropped (see `DISCARD_LIMIT`).
   */
  close(code?: number, reason?: string): void {
    if (this.pacer !== null) {
      this.flush();
      this.unpace();
    }
    if ((this.flags & (DONE | PAUSED)) !== PAUSED) {
      this.connection.sendClose(code, reason);
      this.startCloseTimer();
      return;
    }
    this.connection.stopReceiving();
    this.connection.sendClose(code, reason);
    this.endSocket();
    this.flags &= ~PAUSED;
    if (this.discarded <= DISCARD_LIMIT) this.socket.resume();
  }

  /** Destroys the socket at once, without a closing handshake. */
  terminate(): void {
    this.clearCloseTimer();
    this.pacer?.stop();
    this.pacer = null;
    this.socket.destroy();
  }

  /** Ends the connection because of a local failure (slow consumer, missed heartbeat). */
  abort(error: ConnectionError): void {
    if ((this.flags & DONE) !== 0) return;
    this.failWith(error);
    this.events[onError](error);
    this.terminate();
  }

  /**
   * Ends the connection because of a local policy: reports `error`, sends a
   * close frame with its close code, stops reading and closes the socket
   * once the frame is written (or after `closeTimeout`).
   */
  fail(error: ConnectionError, reason: string): void {
    if ((this.flags & DONE) !== 0 || this.connection.state === ReadyState.CLOSED) return;
    this.failWith(error);
    this.events[onError](error);
    this.connection.fail(error.closeCode, reason);
  }

  /**
   * Starts the closing handshake because of a local policy (e.g. an idle
   * timeout): reports `error` and sends a close frame with its close code;
   * the peer may still answer with its own.
   */
  closeWith(error: ConnectionError, reason: string): void {
    if ((this.flags & DONE) !== 0 || this.connection.state === ReadyState.CLOSED) return;
    this.failWith(error);
    this.events[onError](error);
    this.close(error.closeCode, reason);
  }

  /**
   * Queues bytes for the socket. Everything written during one event-loop
   * turn goes out together at the end of it, in one system call (one TCP
   * segment when they fit): joined into one buffer when small or many
   * (`joinsChunks`), else as they are, corked (one writev).
   */
  /** @internal */
  write(data: Uint8Array): void {
    if (this.socket.destroyed) return;
    if (this.runBlock !== null) this.endRun();
    (this.pending ??= []).push(data);
    this.pendingBytes += data.length;
    if ((this.flags & FLUSH_SCHEDULED) === 0) {
      this.flags |= FLUSH_SCHEDULED;
      scheduleFlush(this);
    }
  }

  /**
   * Writes a small unmasked frame: header and payload are copied once, into
   * the shared frame pool, next to the frames this connection wrote before
   * in this turn, so that they reach the socket as one view.
   */
  /** @internal */
  writeFrame(first: number, payload: Uint8Array): void {
    if (this.socket.destroyed) return;
    const length = payload.length;
    const size = headerSize(length, false) + length;
    if (size > MAX_POOLED_FRAME) {
      const frame = Buffer.allocUnsafe(size);
      frame.set(payload, writeHeader(frame, 0, first, length, null));
      this.write(frame);
      return;
    }
    const at = framePool.reserve(size);
    const block = framePool.block;
    if (this.runBlock !== block || this.runEnd !== at) {
      if (this.runBlock !== null) this.endRun();
      this.runBlock = block;
      this.runStart = at;
    }
    this.runEnd = at + size;
    const offset = writeHeader(block, at, first, length, null);
    block.set(payload, offset);
    this.pendingBytes += size;
    if ((this.flags & FLUSH_SCHEDULED) === 0) {
      this.flags |= FLUSH_SCHEDULED;
      scheduleFlush(this);
    }
  }

  /** Queues the current run of pooled frames as one view. */
  private endRun(): void {
    (this.pending ??= []).push(this.runBlock!.subarray(this.runStart, this.runEnd));
    this.runBlock = null;
  }

  /** Hands the queued bytes to the socket. */
  flush(): void {
    this.flags &= ~FLUSH_SCHEDULED;
    if (this.runBlock !== null) this.endRun();
    const pending = this.pending;
    const size = this.pendingBytes;
    if (pending === null) return;
    this.pending = null;
    this.pendingBytes = 0;
    const socket = this.socket;
    if (socket.destroyed) return;
    if (this.pacer !== null) {
      for (const chunk of pending) this.pacer.write(chunk);
      return;
    }
    if (pending.length === 1) {
      socket.write(pending[0]!);
    } else if (joinsChunks(size, pending.length)) {
      socket.write(Buffer.concat(pending, size));
    } else {
      socket.cork();
      for (const chunk of pending) socket.write(chunk);
      socket.uncork();
    }
  }

  private endSocket(): void {
    this.startCloseTimer();
    this.flush();
    this.unpace();
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.end();
  }

  private startCloseTimer(timeout = this.settings.closeTimeout): void {
    if ((this.flags & DONE) !== 0) return;
    const rare = (this.rare ??= new RareState());
    if (rare.timer !== null) return;
    rare.deadline = Date.now() + timeout;
    rare.timer = setTimeout(() => {
      rare.timer = null;
      if (rare.failure === null) rare.failure = new ConnectionError('SB_ERR_CLOSE_TIMEOUT', 'the closing handshake timed out');
      this.socket.destroy();
    }, timeout);
    rare.timer.unref?.();
  }

  /** Records the failure that ends the connection, unless one was recorded before. */
  private failWith(error: Error): void {
    const rare = (this.rare ??= new RareState());
    if (rare.failure === null) rare.failure = error;
  }

  private clearCloseTimer(): void {
    const rare = this.rare;
    if (rare !== null && rare.timer !== null) {
      clearTimeout(rare.timer);
      rare.timer = null;
    }
  }

  /** @internal */
  onSocketClose(): void {
    if ((this.flags & DONE) !== 0) return;
    this.flags |= DONE;
    this.pacer?.stop();
    this.pacer = null;
    this.clearCloseTimer();
    this.connection.receiveEof();
    for (const extension of this.connection.extensions) extension.dispose?.();
    const status = this.connection.closeStatus;
    this.events[onClosed]({
      code: status.code,
      reason: status.reason,
      wasClean: status.wasClean,
      sentCode: this.connection.sentClose?.code ?? null,
      error: this.rare === null ? null : this.rare.failure,
    });
  }
}
