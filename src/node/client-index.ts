/**
 * `switchboard/client`: a WebSocket client for Node with the WHATWG
 * `WebSocket` API, plus the typed errors its 'error' events carry.
 */
export {
  WebSocket,
  ClientError,
  DEFAULT_HANDSHAKE_TIMEOUT,
  type BinaryType,
  type ClientErrorCode,
  type ClientOptions,
  type EventHandler,
  type MessageData,
  type SendData,
  type WebSocketEventMap,
} from './client.js';
export {
  CloseEvent,
  ErrorEvent,
  type AnyEventListener,
  type CloseEventInit,
  type ErrorEventInit,
  type EventInitLike,
  type ListenerOptions,
  type RemoveListenerOptions,
  type TypedMessageEvent,
} from './events.js';
export { ConnectionError, type NodeErrorCode } from './errors.js';
export {
  SwitchboardError,
  HandshakeError,
  RemoteProtocolError,
  LocalProtocolError,
  CloseCode,
  type HandshakeErrorCode,
  type RemoteErrorCode,
  type LocalErrorCode,
} from '../protocol/errors.js';
export type { ClientExtension, Extension } from '../protocol/extension.js';
export { PerMessageDeflateClient, type PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';
