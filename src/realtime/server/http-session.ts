/**
 * One session of the HTTP fallback transport on the process that holds it
 * (the one serving its event stream): the protocol session, the event stream
 * it writes to, and the order of its uplink batches. Requests for it reach
 * it directly, or through the broker's relay from other processes.
 */
import { DisconnectCode } from '../wire/errors.js';
import type { EventStreamLink } from './event-stream-link.js';
import type { UplinkMessage } from './http-relay.js';
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

export class FallbackSession {
  private readonly uplink: UplinkOrder<UplinkMessage[]>;

  constructor(
    /** The session id (the `X-Switchboard-Session` capability). */
    readonly id: string,
    readonly link: EventStreamLink,
    readonly session: ProtocolSession,
    gapTimeout: number,
  ) {
    this.uplink = new UplinkOrder<UplinkMessage[]>(gapTimeout, (reason) => this.close(DisconnectCode.Disconnect, reason));
  }

  /** The messages of the request that opened the session (batch 0). */
  open(messages: UplinkMessage[]): void {
    this.receive(messages);
  }

  /** Uplink batch `seq`, with the id of the last event the client says it received. */
  deliver(seq: number, messages: UplinkMessage[], ack: number | undefined): void {
    if (ack !== undefined) this.link.acknowledge(ack);
    for (const batch of this.uplink.accept(seq, messages)) this.receive(batch);
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

  private receive(messages: UplinkMessage[]): void {
    for (const message of messages) {
      if (this.session.isClosed) return;
      this.session.receiveMessage(message.fields, message.bytes);
    }
  }
}
