/**
 * The SDK's Node entry (`switchboard/sdk` in Node): the same API as index.ts,
 * except that `RealtimeClient` uses Switchboard's own Node WebSocket unless
 * `options.WebSocket` says otherwise. `webSocketOptions` passes Node-only
 * settings (headers, TLS, limits) to it.
 */
import { WebSocket as NodeWebSocket, type ClientOptions as NodeWebSocketOptions } from '../../node/client.js';
import type { ApiShape, UntypedApi } from '../wire/api.js';
import { RealtimeClient as PlatformRealtimeClient } from './client.js';
import type { RealtimeClientOptions } from './client-options.js';
import type { WebSocketConstructor } from './transport.js';

export * from './index.js';

/** Options of the Node `RealtimeClient`. */
export interface NodeRealtimeClientOptions extends RealtimeClientOptions {
  /** Options of Switchboard's Node WebSocket (ignored when `WebSocket` is given). */
  webSocketOptions?: NodeWebSocketOptions;
}

/** Switchboard's Node WebSocket as a `WebSocketConstructor`, with `options` applied to every connection. */
export function nodeWebSocket(options?: NodeWebSocketOptions): WebSocketConstructor {
  if (options === undefined) return NodeWebSocket;
  return class extends NodeWebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, options);
    }
  };
}

/** `RealtimeClient` with Switchboard's Node WebSocket as the default transport. */
export class RealtimeClient<A extends ApiShape = UntypedApi> extends PlatformRealtimeClient<A> {
  constructor(url: string | readonly string[], options: NodeRealtimeClientOptions = {}) {
    const { webSocketOptions, ...rest } = options;
    super(url, { ...rest, WebSocket: options.WebSocket ?? nodeWebSocket(webSocketOptions) });
  }
}
