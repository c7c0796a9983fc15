/**
 * The downlink of one session of the HTTP fallback transport (docs/protocol.md
 * §11): the `SessionLink` its `ServerSession` writes to. Each message becomes
 * a Server-Sent Event numbered 1, 2, 3 … and is written to the session's
 * current event-stream response, or queued while it has none.
 *
 * Written events stay kept (up to `replayBytes`, less what the client
 * acknowledged), so that a client whose stream broke comes back with its
 * `Last-Event-ID` and gets exactly the events after it — none lost, none
 * twice. A stream that stays away longer than `downlinkTimeout` ends the
 * session, as a dropped WebSocket would. A session closed while its stream
 * is away keeps its last events and the close event for that long, so a
 * client that comes back still learns how it ended.
 *
 * Flow control mirrors a WebSocket's: the bytes not yet handed to the socket
 * (the response's buffer, or the queue while detached) may not pass
 * `maxQueuedBytes`; a message that does not fit is 'dropped' and the session
 * applies its slow-consumer policy. A response ended with bytes its client
 * does not read is destroyed after `closeTimeout`, as a WebSocket whose peer
 * does not answer the close: a session that never reads, or never
 * acknowledges, holds no more than a WebSocket session does, plus
 * `replayBytes`.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Http2ServerResponse } from 'node:http2';
import type { Writable } from 'node:stream';
import { isHttp2Response } from '../../../node/http2-server.js';
import type { SendResult } from '../../../node/server-index.js';
import { formatCloseEvent, formatEventData, formatEventId } from '../../wire/event-stream.js';
import type { SessionLink } from '../fanout.js';

/**
 * A kept event is its body alone: the part after its `id:` line, followed by
 * the CRLF that ends an HTTP/1.1 chunk — shared by every session a broadcast
 * reaches (the same bytes, in the replay and in the responses' buffers), as a
 * WebSocket broadcast frames once for all. Its id follows from its place
 * (events are numbered 1, 2, 3 …), and its `id:` line is formatted when it is
 * written: a session keeps one reference per event, nothing more.
 */
type Frame = Buffer;

/** Digits of a positive integer in base 10. */
function decimalDigits(value: number): number {
  let digits = 1;
  while (value >= 10) {
    value = Math.floor(value / 10);
    digits++;
  }
  return digits;
}

/** An event's size on the stream: its `id:` line (`id: N\n`) and its body, without the chunk's CRLF. */
function eventBytes(id: number, body: Frame): number {
  return 5 + decimalDigits(id) + body.length - 2;
}

/** The body of the last broadcast payload: sessions that get the same payload share its bytes. */
let lastPayload: string | undefined;
let lastBody = Buffer.alloc(0);

/** The event body for `payload` (with a chunk's CRLF), encoded once for every session that gets the same payload. */
function eventBody(payload: string): Buffer {
  if (payload !== lastPayload) {
    lastPayload = payload;
    lastBody = Buffer.from(`${formatEventData(payload)}\r\n`, 'utf8');
  }
  return lastBody;
}

export interface EventStreamLinkOptions {
  readonly remoteAddress: string | undefined;
  /** Bytes that may wait unwritten; a message that would pass it is 'dropped'. */
  readonly maxQueuedBytes: number;
  /** Bytes of written events kept for a resume. */
  readonly replayBytes: number;
  /** How long (ms) the session waits for a lost stream to come back. */
  readonly downlinkTimeout: number;
  /** How long (ms) an ended response may take to hand its last bytes to the socket before it is destroyed. */
  readonly closeTimeout: number;
  /** The stream stayed away too long: the session ends as if its socket closed. */
  lost(): void;
  /** Nothing is left to deliver: the link is done, forget the session. */
  ended(): void;
}

const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
/** The frame array is compacted once this many dropped frames sit at its head. */
const COMPACT_AT = 1024;
/** … or once this many sit there and they are half of it (the array stays near the replay's size, instead of growing to COMPACT_AT). */
const COMPACT_HALF_AT = 32;

const utf8 = new TextDecoder();

export class EventStreamLink implements SessionLink {
  readonly OPEN = OPEN;
  readonly remoteAddress: string | undefined;
  private state: typeof OPEN | typeof CLOSING | typeof CLOSED = OPEN;
  private readonly options: EventStreamLinkOptions;
  /** Kept events, oldest first, from `head` on (dropped ones before it are undefined). */
  private frames: Array<Frame | undefined> = [];
  private head = 0;
  /** The id of `frames[0]`. */
  private baseId = 1;
  private lastId = 0;
  /** Frames up to this id were written to a response. */
  private writtenId = 0;
  private unwrittenBytes = 0;
  private keptWrittenBytes = 0;
  private response: ServerResponse | null = null;
  /** The response's socket is over its high-water mark: events wait in `frames` for its 'drain'. */
  private waitingDrain = false;
  private timer: NodeJS.Timeout | null = null;
  /** Set once the session closed: the close event, still to be delivered. */
  private closeFrame: string | null = null;
  private finished = false;

  constructor(options: EventStreamLinkOptions) {
    this.options = options;
    this.remoteAddress = options.remoteAddress;
  }

  get readyState(): number {
    return this.state;
  }

  /** Bytes not yet handed to the socket. */
  get bufferedAmount(): number {
    return this.response === null ? this.unwrittenBytes : this.response.writableLength + this.unwrittenBytes;
  }

  /** True while an event-stream response is attached. */
  get attached(): boolean {
    return this.response !== null;
  }

  /** The id of the last event queued or written. */
  get lastEventId(): number {
    return this.lastId;
  }

  /** True once the link delivered its close event, gave up waiting, or was terminated. */
  get isFinished(): boolean {
    return this.finished;
  }

  send(data: string | Uint8Array, _options: { binary: boolean }): SendResult {
    if (this.state !== OPEN) return 'dropped';
    const id = this.lastId + 1;
    const body = eventBody(typeof data === 'string' ? data : utf8.decode(data));
    const bytes = eventBytes(id, body);
    if (this.bufferedAmount + bytes > this.options.maxQueuedBytes) return 'dropped';
    this.lastId = id;
    this.frames.push(body);
    const response = this.response;
    if (response === null || this.waitingDrain || this.mustWait(response)) {
      this.unwrittenBytes += bytes;
      return 'sent';
    }
    writeFrame(response, id, body, bytes);
    this.writtenId = id;
    this.keptWrittenBytes += bytes;
    this.trimReplay();
    return 'sent';
  }

  /** The session ends: the close event follows the events queued before it. */
  close(code: number, reason: string): void {
    if (this.state !== OPEN) return;
    this.state = CLOSING;
    this.closeFrame = formatCloseEvent(code, reason);
    if (this.response !== null) this.deliverClose(this.response);
  }

  /**
   * True when a stream resuming after event `after` can get every event
   * after it: they are all still kept, and the client cannot have seen more
   * than was written.
   */
  canResume(after: number): boolean {
    if (this.finished || !Number.isSafeInteger(after) || after < 0) return false;
    return after <= this.writtenId && after >= this.firstKeptId() - 1;
  }

  /**
   * Makes `response` (its headers already written) the session's stream:
   * writes every event after `after` and whatever comes next. A stream still
   * attached is ended first: its client gave up on it. Returns false, writing
   * nothing, when `canResume(after)` does not hold.
   */
  attach(response: ServerResponse, after: number): boolean {
    if (!this.canResume(after)) return false;
    this.acknowledge(after);
    this.clearTimer();
    const previous = this.response;
    this.response = response;
    if (previous !== null) this.endResponse(previous);
    this.waitingDrain = false;
    response.on('close', () => this.detached(response));
    this.writePending(response, this.head);
    if (this.closeFrame !== null) this.deliverClose(response);
    return true;
  }

  /** The client received every event up to `id`: they need not be kept for a resume. */
  acknowledge(id: number): void {
    const upTo = Math.min(id, this.writtenId);
    while (this.headId() <= upTo) this.dropHead();
    this.compact();
  }

  /** Ends the link now, delivering nothing more (the client left, or the server shuts down). */
  terminate(): void {
    if (this.finished) return;
    const response = this.response;
    this.response = null;
    if (response !== null) this.endResponse(response);
    this.finish();
  }

  // ------------------------------------------------------------ internals

  /** The id of the oldest kept event (one past the last when none is kept). */
  private firstKeptId(): number {
    return this.head < this.frames.length ? this.baseId + this.head : this.lastId + 1;
  }

  /** The id of the oldest kept event, or Infinity when none is kept. */
  private headId(): number {
    return this.head < this.frames.length ? this.baseId + this.head : Infinity;
  }

  /**
   * True when the response's socket is over its high-water mark: the event
   * waits, as a reference to its shared body, and the events waiting are
   * written together on the socket's 'drain' — rather than each queued in
   * the socket's buffer with its own write request.
   */
  private mustWait(response: ServerResponse): boolean {
    const flow = flowOf(response);
    if (flow === null || !flow.writableNeedDrain) return false;
    this.waitingDrain = true;
    flow.once('drain', () => this.drained(response));
    return true;
  }

  /** The socket took its buffered bytes: the events that waited are written. */
  private drained(response: ServerResponse): void {
    if (response !== this.response || !this.waitingDrain) return;
    this.waitingDrain = false;
    this.writePending(response, this.writtenId + 1 - this.baseId);
  }

  /** Writes the kept events from `frames[from]` on (the ones this response has not seen) and counts them as written. */
  private writePending(response: ServerResponse, from: number): void {
    response.cork();
    for (let index = Math.max(from, this.head); index < this.frames.length; index++) {
      const id = this.baseId + index;
      const body = this.frames[index]!;
      writeFrame(response, id, body, eventBytes(id, body));
    }
    response.uncork();
    this.writtenId = this.lastId;
    this.keptWrittenBytes += this.unwrittenBytes;
    this.unwrittenBytes = 0;
    this.trimReplay();
  }

  /** Writes the close event and ends the response: the link is done. */
  private deliverClose(response: ServerResponse): void {
    if (this.writtenId < this.lastId) this.writePending(response, this.writtenId + 1 - this.baseId);
    this.waitingDrain = false;
    this.response = null;
    this.endResponse(response, this.closeFrame ?? undefined);
    this.finish();
  }

  /** Ends a response; destroys it when its last bytes are not handed to the socket within `closeTimeout` (a client that does not read). */
  private endResponse(response: ServerResponse, last?: string): void {
    response.end(last);
    if (response.writableFinished || response.destroyed) return;
    const timer = setTimeout(() => response.destroy(), this.options.closeTimeout);
    timer.unref();
    const done = (): void => clearTimeout(timer);
    response.once('finish', done);
    response.once('close', done);
  }

  /** The response ended (the client went away, or a newer stream replaced it). */
  private detached(response: ServerResponse): void {
    if (response !== this.response) return;
    this.response = null;
    this.waitingDrain = false;
    if (this.finished) return;
    this.clearTimer();
    this.timer = setTimeout(() => this.expire(), this.options.downlinkTimeout);
    this.timer.unref();
  }

  /** No stream came back in time. */
  private expire(): void {
    this.timer = null;
    if (this.response !== null || this.finished) return;
    if (this.state === OPEN) {
      this.state = CLOSED;
      this.options.lost();
    }
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.state = CLOSED;
    this.clearTimer();
    this.frames = [];
    this.head = 0;
    this.baseId = this.lastId + 1;
    this.unwrittenBytes = this.keptWrittenBytes = 0;
    this.options.ended();
  }

  /** Forgets the oldest written events beyond the replay budget. */
  private trimReplay(): void {
    while (this.keptWrittenBytes > this.options.replayBytes && this.headId() <= this.writtenId) this.dropHead();
    this.compact();
  }

  /** Forgets the oldest kept event (a written one). */
  private dropHead(): void {
    const frame = this.frames[this.head];
    if (frame === undefined) return;
    this.keptWrittenBytes -= eventBytes(this.baseId + this.head, frame);
    this.frames[this.head++] = undefined;
  }

  private compact(): void {
    if (this.head === this.frames.length) {
      this.frames = [];
      this.head = 0;
      this.baseId = this.lastId + 1;
    } else if (this.head >= COMPACT_AT || (this.head >= COMPACT_HALF_AT && this.head * 2 >= this.frames.length)) {
      this.frames = this.frames.slice(this.head);
      this.baseId += this.head;
      this.head = 0;
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * Where a response's bytes wait before the network: its socket on HTTP/1.1;
 * on HTTP/2 its own stream, under the stream's flow control (the
 * connection's socket is every stream's, and the socket Node's
 * compatibility API shows routes 'drain' listeners to the stream).
 */
function flowOf(response: ServerResponse): Writable | null {
  if (isHttp2Response(response)) return (response as unknown as Http2ServerResponse).stream;
  return response.socket;
}

/**
 * Writes one event without copying its shared body. A chunked response
 * (HTTP/1.1) whose headers and earlier output reached the socket gets the
 * chunk framed here, straight on the socket — the bytes `response.write`
 * would send, in two writes (the chunk size with the `id:` line, then the
 * shared body with the chunk's CRLF) instead of eight: what a broadcast to
 * thousands of streams keeps alive while their sockets are busy is mostly
 * these writes. Otherwise through the response.
 */
function writeFrame(response: ServerResponse, id: number, body: Frame, bytes: number): void {
  const socket = response.socket;
  if (socket !== null && response.chunkedEncoding && response.headersSent && response.writableLength === socket.writableLength) {
    // As Node does for its own chunks: corked until the end of this tick, so that a burst goes out in one write.
    if (!socket.writableCorked) {
      socket.cork();
      process.nextTick(uncork, socket);
    }
    socket.write(chunkHead(bytes, id));
    socket.write(body);
    return;
  }
  response.write(formatEventId(id));
  response.write(body.subarray(0, body.length - 2));
}

/** Bytes of the current slab that `chunkHead` cuts its heads from (as Node's Buffer pool does). */
const SLAB_SIZE = 8 * 1024;
/** Longest head: 13 hex digits of a size, 16 decimal digits of an id, and `\r\nid: ` and `\n`. */
const MAX_HEAD = 13 + 16 + 7 + 1;
let slab = Buffer.allocUnsafe(SLAB_SIZE);
let slabUsed = 0;
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * The start of one event's chunk — the chunk size in hex, CRLF, the event's
 * `id:` line — written digit by digit into a shared slab: one small Buffer
 * per event and no strings, so that the write of a burst to thousands of
 * streams is all Buffers (Node then passes them to the socket as they are).
 */
function chunkHead(size: number, id: number): Buffer {
  if (slabUsed + MAX_HEAD > SLAB_SIZE) {
    slab = Buffer.allocUnsafe(SLAB_SIZE);
    slabUsed = 0;
  }
  const start = slabUsed;
  let at = start;
  let shift = 4;
  while (size >= 2 ** shift) shift += 4;
  for (shift -= 4; shift >= 0; shift -= 4) slab[at++] = HEX[Math.floor(size / 2 ** shift) % 16]!;
  slab[at++] = 0x0d; // \r
  slab[at++] = 0x0a; // \n
  slab[at++] = 0x69; // i
  slab[at++] = 0x64; // d
  slab[at++] = 0x3a; // :
  slab[at++] = 0x20; // space
  const digits = decimalDigits(id);
  for (let i = digits - 1, rest = id; i >= 0; i--, rest = Math.floor(rest / 10)) slab[at + i] = 0x30 + (rest % 10);
  at += digits;
  slab[at++] = 0x0a; // \n
  slabUsed = at;
  return slab.subarray(start, at);
}

function uncork(socket: Socket): void {
  socket.uncork();
}
