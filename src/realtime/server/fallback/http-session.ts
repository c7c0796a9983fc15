/**
 * One session of the HTTP fallback transport on the process that holds it
 * (the one serving its event stream): the protocol session, the event stream
 * it writes to, and the order of its uplink batches. Requests for it reach
 * it directly, or through the broker's relay from other processes.
 *
 * The uplink window bounds what the uplink may hold, in bytes: the bodies
 * of its requests still being read, and the batches that wait for a missing
 * earlier one — kept as the bytes that came, parsed only when due. More
 * than the window is refused (the request with 409, as Engine.IO refuses
 * overlapping POSTs) and ends the session: a client sends one batch at a
 * time, so only a broken or hostile one gets there.
 */
import { DisconnectCode } from '../../wire/errors.js';
import type { EventStreamLink } from './event-stream-link.js';
import type { UplinkMessage } from './http-relay.js';
import { parseBatch } from './http-request.js';
import { UplinkOrder } from './uplink-order.js';

/** What a fallback session needs of its protocol session (a `ServerSession`). */
export interface ProtocolSession {
  readonly isClosed: boolean;
  /** One decoded client message with its encoded size. */
  receiveMessage(fields: Record<string, unknown>, bytes: number): void;
  /** The client is gone: end without a `disconnect`. */
  socketClosed(code: number, reason: string): void;
  /** The server ends the session: `disconnect`, then the close. */
  close(code: number, reason: string): void;
}

/** An uplink batch: the request body as it came, and its messages when it was parsed already. */
export interface UplinkBatch {
  body: Buffer | string;
  messages?: UplinkMessage[];
}

export interface UplinkLimits {
  /** How long a batch may wait for a missing earlier one (ms). */
  readonly gapTimeout: number;
  /** Bytes the uplink may hold: bodies being read plus batches waiting. */
  readonly window: number;
  /** Largest message (bytes of compact JSON), to parse batches when due. */
  readonly maxMessageSize: number;
}

/** What `deliver` did with a batch: taken (or ignored as a repeat), or refused because the window is full (the session is closed). */
export type DeliverResult = 'taken' | 'window_full';

export class FallbackSession {
  private readonly uplink: UplinkOrder<Buffer | UplinkBatch>;
  /** Bytes of request bodies for this session being read now. */
  private readingBytes = 0;

  constructor(
    /** The session id (the `X-Switchboard-Session` capability). */
    readonly id: string,
    readonly link: EventStreamLink,
    readonly session: ProtocolSession,
    private readonly limits: UplinkLimits,
  ) {
    this.uplink = new UplinkOrder<Buffer | UplinkBatch>(limits.gapTimeout, (reason) => this.close(DisconnectCode.Disconnect, reason));
  }

  /** Bytes the uplink holds now (bodies being read, batches waiting). */
  get uplinkBytes(): number {
    return this.readingBytes + this.uplink.waitingBytes;
  }

  /** The messages of the request that opened the session (batch 0). */
  open(messages: UplinkMessage[]): void {
    this.receive(messages);
  }

  /** True when batch `seq` is the next one in order (a repeat or an early one is not). */
  isDue(seq: number): boolean {
    return seq === this.uplink.expected;
  }

  /** Counts `bytes` more of a body being read against the window; false (nothing counted) when they do not fit. */
  reserve(bytes: number): boolean {
    if (this.uplinkBytes + bytes > this.limits.window) return false;
    this.readingBytes += bytes;
    return true;
  }

  /** A body read (or abandoned) gives its bytes back. */
  unreserve(bytes: number): void {
    this.readingBytes = Math.max(0, this.readingBytes - bytes);
  }

  /** The window is full: the uplink is broken. */
  windowFull(): void {
    this.close(DisconnectCode.Disconnect, 'too many uplink bytes at once');
  }

  /**
   * Uplink batch `seq`, with the number of events the client says it
   * received (the server forgets them). A batch that must wait keeps only its bytes; one that does
   * not fit in the window ends the session.
   */
  deliver(seq: number, batch: UplinkBatch, ack: number | undefined): DeliverResult {
    if (ack !== undefined) this.link.acknowledge(ack);
    if (this.uplink.isRepeat(seq) || this.session.isClosed) return 'taken';
    if (seq > this.uplink.expected) {
      const bytes = typeof batch.body === 'string' ? Buffer.from(batch.body) : batch.body;
      if (this.uplinkBytes + bytes.length > this.limits.window) {
        this.windowFull();
        return 'window_full';
      }
      this.uplink.accept(seq, bytes, bytes.length);
      return 'taken';
    }
    for (const due of this.uplink.accept(seq, batch)) {
      if (this.session.isClosed) break;
      const messages = this.messagesOf(due);
      if (messages === undefined) break;
      this.receive(messages);
    }
    return 'taken';
  }

  /** The client left (it ended the session, or its stream went to another process): no `disconnect` is sent. */
  leave(code: number, reason: string): void {
    this.uplink.stop();
    this.session.socketClosed(code, reason);
    this.link.terminate();
  }

  /** The server ends the session: `disconnect` and the close event (delivered when the stream is, or comes back). */
  close(code: number, reason: string): void {
    this.uplink.stop();
    this.session.close(code, reason);
  }

  /** The link is done (for whatever reason): nothing more happens. */
  ended(): void {
    this.uplink.stop();
  }

  /** The messages of a due batch, parsed now if they were not; undefined (the session closed) when they break the rules. */
  private messagesOf(batch: Buffer | UplinkBatch): UplinkMessage[] | undefined {
    if (!Buffer.isBuffer(batch) && batch.messages !== undefined) return batch.messages;
    const parsed = parseBatch(Buffer.isBuffer(batch) ? batch : batch.body, this.limits.maxMessageSize);
    if (parsed.ok) return parsed.messages;
    this.close(parsed.status === 413 ? 1009 : DisconnectCode.BadRequest, parsed.status === 413 ? 'message too big' : 'malformed message');
    return undefined;
  }

  private receive(messages: UplinkMessage[]): void {
    for (const message of messages) {
      if (this.session.isClosed) return;
      this.session.receiveMessage(message.fields, message.bytes);
    }
  }
}
