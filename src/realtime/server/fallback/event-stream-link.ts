/**
 * The downlink of one session of the HTTP fallback transport (docs/protocol.md
 * §11): the `SessionLink` its `ServerSession` writes to. Each message becomes
 * a Server-Sent Event and is written to the session's current event-stream
 * response, or queued while it has none. Events carry no id: they are
 * numbered 1, 2, 3 … by counting, here and in the client, so that an event's
 * bytes are the same for every session and a broadcast is one shared Buffer
 * written to each stream, as a WebSocket broadcast is one shared frame.
 *
 * Written events stay kept (up to `replayBytes`, less what the client
 * acknowledged by count), so that a client whose stream broke comes back
 * with the number of events it received and gets exactly the events after
 * them — none lost, none twice. A stream that stays away longer than
 * `downlinkTimeout` ends the session, as a dropped WebSocket would. A session
 * closed while its stream is away keeps its last events and the close event
 * for that long, so a client that comes back still learns how it ended.
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
import { formatCloseEvent, formatMessageEvent } from '../../wire/event-stream.js';
import type { SessionLink } from '../fanout.js';
import { FrameQueue } from './frame-queue.js';

/**
 * A kept event: the whole HTTP/1.1 chunk that carries it (the chunk size in
 * hex, CRLF, the event, CRLF) — the same bytes for every session a broadcast
 * reaches, in the replay and in the sockets' buffers, as a WebSocket
 * broadcast frames once for all. Its number follows from its place: a
 * session keeps one reference per event, nothing more. An event counts as
 * its chunk's bytes against the session's budgets.
 */
type Frame = Buffer;

/** The last broadcast payload and its chunk: sessions that get the same payload share its bytes. */
let lastPayload: string | undefined;
let lastFrame: Frame = Buffer.alloc(0);

/** The chunk of the event for `payload`, encoded once for every session that gets the same payload. */
function eventFrame(payload: string): Frame {
  if (payload !== lastPayload) {
    const event = Buffer.from(formatMessageEvent(payload), 'utf8');
    const head = `${event.length.toString(16)}\r\n`;
    const frame = Buffer.allocUnsafe(head.length + event.length + 2);
    frame.write(head, 0, 'latin1');
    event.copy(frame, head.length);
    frame[frame.length - 2] = 0x0d;
    frame[frame.length - 1] = 0x0a;
    lastPayload = payload;
    lastFrame = frame;
  }
  return lastFrame;
}

/** The event inside a chunk (without its size line and its CRLF), for a response that frames its own chunks, or none. */
function eventOf(frame: Frame): Buffer {
  return frame.subarray(frame.indexOf(0x0a) + 1, frame.length - 2);
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

const utf8 = new TextDecoder();

export class EventStreamLink implements SessionLink {
  readonly OPEN = OPEN;
  readonly remoteAddress: string | undefined;
  private state: typeof OPEN | typeof CLOSING | typeof CLOSED = OPEN;
  private readonly options: EventStreamLinkOptions;
  /** Kept events, oldest first: the newest is event `lastNumber` (events are numbered 1, 2, 3 … in the session). */
  private readonly frames = new FrameQueue<Frame>();
  private lastNumber = 0;
  /** Frames up to this number were written to a response. */
  private writtenNumber = 0;
  private unwrittenBytes = 0;
  private keptWrittenBytes = 0;
  private response: ServerResponse | null = null;
  /** Where the response's bytes wait (its socket, or its HTTP/2 stream), which the link listens to for 'drain'. */
  private flow: Writable | null = null;
  /** The response's socket is over its high-water mark: events wait in `frames` for its 'drain'. */
  private waitingDrain = false;
  /** One listener for the link's life, added to each stream's socket (none allocated per wait). */
  private readonly onDrain = (): void => this.drained();
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

  /** True once the link delivered its close event, gave up waiting, or was terminated. */
  get isFinished(): boolean {
    return this.finished;
  }

  send(data: string | Uint8Array, _options: { binary: boolean }): SendResult {
    if (this.state !== OPEN) return 'dropped';
    const frame = eventFrame(typeof data === 'string' ? data : utf8.decode(data));
    const bytes = frame.length;
    if (this.bufferedAmount + bytes > this.options.maxQueuedBytes) return 'dropped';
    this.lastNumber++;
    this.frames.push(frame);
    const response = this.response;
    if (response === null || this.waitingDrain || this.mustWait(response)) {
      this.unwrittenBytes += bytes;
      return 'sent';
    }
    writeFrame(response, frame);
    this.writtenNumber = this.lastNumber;
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
   * True when a stream resuming after event `after` (the client received
   * `after` events) can get every event after it: they are all still kept,
   * and the client cannot have seen more than was written.
   */
  canResume(after: number): boolean {
    if (this.finished || !Number.isSafeInteger(after) || after < 0) return false;
    return after <= this.writtenNumber && after >= this.firstKeptNumber() - 1;
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
    this.setResponse(response);
    if (previous !== null) this.endResponse(previous);
    response.on('close', () => this.detached(response));
    this.writePending(response, 0);
    if (this.closeFrame !== null) this.deliverClose(response);
    return true;
  }

  /** The client received `count` events: they need not be kept for a resume. */
  acknowledge(count: number): void {
    const upTo = Math.min(count, this.writtenNumber);
    while (this.headNumber() <= upTo) this.dropHead();
  }

  /** Ends the link now, delivering nothing more (the client left, or the server shuts down). */
  terminate(): void {
    if (this.finished) return;
    const response = this.response;
    this.setResponse(null);
    if (response !== null) this.endResponse(response);
    this.finish();
  }

  // ------------------------------------------------------------ internals

  /** The number of the oldest kept event (one past the last when none is kept). */
  private firstKeptNumber(): number {
    return this.lastNumber - this.frames.length + 1;
  }

  /** The number of the oldest kept event, or Infinity when none is kept. */
  private headNumber(): number {
    return this.frames.length > 0 ? this.firstKeptNumber() : Infinity;
  }

  /** Makes `response` (or none) the stream, listening to its socket's 'drain' instead of the previous one's. */
  private setResponse(response: ServerResponse | null): void {
    this.response = response;
    this.waitingDrain = false;
    const flow = response === null ? null : flowOf(response);
    if (flow === this.flow) return;
    this.flow?.off('drain', this.onDrain);
    this.flow = flow;
    flow?.on('drain', this.onDrain);
  }

  /**
   * True when the response's socket is over its high-water mark: the event
   * waits, as a reference to its shared body, and the events waiting are
   * written together on the socket's 'drain' — rather than each queued in
   * the socket's buffer with its own write request.
   */
  private mustWait(response: ServerResponse): boolean {
    const flow = this.flow;
    if (flow === null || flow !== flowOf(response) || !flow.writableNeedDrain) return false;
    this.waitingDrain = true;
    return true;
  }

  /** The stream's socket took its buffered bytes: the events that waited are written. */
  private drained(): void {
    const response = this.response;
    if (response === null || !this.waitingDrain) return;
    this.waitingDrain = false;
    this.writePending(response, this.firstUnwritten());
  }

  /** The place in `frames` of the oldest event not written yet. */
  private firstUnwritten(): number {
    return this.writtenNumber + 1 - this.firstKeptNumber();
  }

  /** Writes the kept events from `frames.at(from)` on (the ones this response has not seen) and counts them as written. */
  private writePending(response: ServerResponse, from: number): void {
    response.cork();
    for (let index = Math.max(from, 0); index < this.frames.length; index++) writeFrame(response, this.frames.at(index)!);
    response.uncork();
    this.writtenNumber = this.lastNumber;
    this.keptWrittenBytes += this.unwrittenBytes;
    this.unwrittenBytes = 0;
    this.trimReplay();
  }

  /** Writes the close event and ends the response: the link is done. */
  private deliverClose(response: ServerResponse): void {
    if (this.writtenNumber < this.lastNumber) this.writePending(response, this.firstUnwritten());
    this.setResponse(null);
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
    this.setResponse(null);
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
    this.setResponse(null);
    this.frames.clear();
    this.unwrittenBytes = this.keptWrittenBytes = 0;
    this.options.ended();
  }

  /** Forgets the oldest written events beyond the replay budget. */
  private trimReplay(): void {
    while (this.keptWrittenBytes > this.options.replayBytes && this.headNumber() <= this.writtenNumber) this.dropHead();
  }

  /** Forgets the oldest kept event (a written one). */
  private dropHead(): void {
    const frame = this.frames.shift();
    if (frame !== undefined) this.keptWrittenBytes -= frame.length;
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
 * Writes one event without copying it. A chunked response (HTTP/1.1) whose
 * headers and earlier output reached the socket gets the event's shared
 * chunk straight on the socket, in one write — the bytes `response.write`
 * would send in three; corked until the end of the tick, so that the events
 * of a burst reach the socket as one writev. Otherwise through the response
 * (which frames its own chunks, or none for HTTP/1.0).
 */
function writeFrame(response: ServerResponse, frame: Frame): void {
  const socket = response.socket;
  if (socket !== null && response.chunkedEncoding && response.headersSent && response.writableLength === socket.writableLength) {
    corkUntilTickEnd(socket);
    socket.write(frame);
    return;
  }
  response.write(eventOf(frame));
}

/** Sockets corked by `corkUntilTickEnd`, uncorked together at the end of the tick. */
let corked: Socket[] = [];

/** Corks `socket` until the end of this tick (as Node does for its own chunks), with one tick callback for every socket of a burst. */
function corkUntilTickEnd(socket: Socket): void {
  if (socket.writableCorked) return;
  socket.cork();
  if (corked.push(socket) === 1) process.nextTick(uncorkAll);
}

function uncorkAll(): void {
  const sockets = corked;
  corked = [];
  for (const socket of sockets) socket.uncork();
}
