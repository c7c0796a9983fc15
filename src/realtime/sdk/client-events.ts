/**
 * The events of a `RealtimeClient`, its states, and the types of its calls.
 */
import type { ConnectResult, PresenceMember } from '../wire/messages.js';
import type { RequestOptions } from './subscription.js';
import type { TransportName } from './transport-choice.js';

export type ClientState = 'disconnected' | 'connecting' | 'connected' | 'closed';

/** A 'connecting' event: a connect attempt is scheduled. */
export interface ConnectingEvent {
  /** 0 for the first connect, then 1, 2, ... for the reconnects since the last successful connect. */
  attempt: number;
  /** ms until the attempt. */
  delay: number;
  /** Close code of the connection or attempt that failed before (reconnects only). */
  code?: number;
  reason?: string;
}

/** A 'disconnected' event: a connection ended, or the client gave up reconnecting. */
export interface DisconnectedEvent {
  code: number;
  reason: string;
  /** Whether the client reconnects by itself. */
  reconnect: boolean;
}

/** A 'subscribed' event: the server subscribed this connection to a channel (a server-side subscription). */
export interface ServerSubscribedEvent {
  channel: string;
  /** The channel's position when the subscription started: publications after it follow. */
  offset: number;
  epoch: string;
  recoverable: boolean;
}

/** A 'publication' event: a publication of a channel the server subscribed this connection to. */
export interface ServerPublicationEvent {
  channel: string;
  offset: number;
  data: unknown;
  info?: PresenceMember;
}

/** An 'unsubscribed' event: the server ended one of its server-side subscriptions. */
export interface ServerUnsubscribedEvent {
  channel: string;
  code: string;
  reason: string;
}

export interface ClientEvents {
  state: [state: ClientState, previous: ClientState];
  /** A connection succeeded over another transport than the previous one (emitted before 'connected'). */
  transport: [transport: TransportName, previous: TransportName | undefined];
  connecting: [event: ConnectingEvent];
  connected: [result: ConnectResult];
  disconnected: [event: DisconnectedEvent];
  error: [error: Error];
  /** A one-way message from the server (`Session.send`, `rt.user(id).send`, the server API's `send`). */
  message: [data: unknown];
  /** The server subscribed this connection to a channel (docs/protocol.md §5.3). */
  subscribed: [event: ServerSubscribedEvent];
  /** A publication of a channel of a server-side subscription. */
  publication: [event: ServerPublicationEvent];
  /** The server ended a server-side subscription. */
  unsubscribed: [event: ServerUnsubscribedEvent];
}

/** `call()`'s arguments after the method: params are optional when the method's params may be undefined. */
export type CallArgs<P> = undefined extends P ? [params?: P, options?: RequestOptions] : [params: P, options?: RequestOptions];

/** A handler of a server-to-client call. */
export type CallHandler<P, R> = (params: P) => R | Promise<R>;

/** Emits one of the client's events (the client's own `emit`, handed to the parts that raise them). */
export type ClientEmit = <K extends keyof ClientEvents>(event: K, ...args: ClientEvents[K]) => boolean;
