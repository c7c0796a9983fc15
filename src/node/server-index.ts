/**
 * `switchboard/server`: the Node WebSocket server.
 *
 * ```ts
 * import { WebSocketServer } from 'switchboard/server';
 * const wss = new WebSocketServer({ port: 8080 });
 * wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
 * ```
 */
export {
  WebSocketServer,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_HEARTBEAT_INTERVAL,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  DEFAULT_SHUTDOWN_TIMEOUT,
  type AuthAccept,
  type AuthReject,
  type AuthResult,
  type Authenticate,
  type BroadcastOptions,
  type HostCheck,
  type OriginCheck,
  type ServerCloseOptions,
  type ServerDeflateOptions,
  type ServerOptions,
  type SubprotocolChoice,
  type WebSocketServerEvents,
} from './server.js';
export { ServerWebSocket, type MessageData, type ServerSendOptions, type ServerWebSocketEvents } from './server-connection.js';
export { ServerError, type ServerErrorCode } from './server-errors.js';
export { ConnectionError, type NodeErrorCode } from './errors.js';
export { DEFAULT_MAX_CONNECTIONS_PER_IP, isLocalNetworkAddress, type AddressExemption } from './address-limit.js';
export { DEFAULT_TLS_MIN_VERSION } from './http-server.js';
export { DEFAULT_MAX_STREAMS_PER_CONNECTION, type AnyHttp2Server } from './http2-server.js';
export { DEFAULT_IDLE_TIMEOUT } from './idle.js';
export { DEFAULT_MAX_PINGS_PER_SECOND, DEFAULT_PING_FLOOD_TIMEOUT } from './ping-limit.js';
export {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_BUFFERED_AMOUNT,
  DISCARD_LIMIT,
  DISCARD_LINGER,
  type BackpressurePolicy,
  type SendResult,
} from './binding.js';
export {
  CloseCode,
  HandshakeError,
  LocalProtocolError,
  RemoteProtocolError,
  SwitchboardError,
  type HandshakeErrorCode,
  type HeaderList,
  type LocalErrorCode,
  type RemoteErrorCode,
} from '../protocol/errors.js';
export { ReadyState } from '../protocol/connection.js';
export type { Extension, ServerExtension } from '../protocol/extension.js';
export { DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_MESSAGE_SIZE, type MessageLimits } from '../protocol/limits.js';
export { PerMessageDeflateServer, type PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';
