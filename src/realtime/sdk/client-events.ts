/**
 * The events of a `RealtimeClient`, its states, and the types of its calls.
 */
import type { ConnectResult } from '../wire/messages.js';
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

export interface ClientEvents {
  state: [state: ClientState, previous: ClientState];
  /** A connection succeeded over another transport than the previous one (emitted before 'connected'). */
  transport: [transport: TransportName, previous: TransportName | undefined];
  connecting: [event: ConnectingEvent];
  connected: [result: ConnectResult];
  disconnected: [event: DisconnectedEvent];
  error: [error: Error];
  message: [data: unknown];
}

/** `call()`'s arguments after the method: params are optional when the method's params may be undefined. */
export type CallArgs<P> = undefined extends P ? [params?: P, options?: RequestOptions] : [params: P, options?: RequestOptions];

/** A handler of a server-to-client call. */
export type CallHandler<P, R> = (params: P) => R | Promise<R>;

/** Emits one of the client's events (the client's own `emit`, handed to the parts that raise them). */
export type ClientEmit = <K extends keyof ClientEvents>(event: K, ...args: ClientEvents[K]) => boolean;
