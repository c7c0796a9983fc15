/**
 * The part of the WHATWG `WebSocket` the client uses, so that any
 * implementation fits: a browser's, Node's global one, Switchboard's Node
 * client, `ws`, or a test double.
 */
import { codecFor, jsonCodec, msgpackCodec, type Codec } from '../wire/codec.js';

/** The `WebSocket.OPEN` ready state. */
export const WEBSOCKET_OPEN = 1;

/** The part of a WebSocket `MessageEvent` the client reads. */
export interface MessageEventLike {
  readonly data: unknown;
}

/** The part of a WebSocket `CloseEvent` the client reads. */
export interface CloseEventLike {
  readonly code: number;
  readonly reason: string;
}

/**
 * A WebSocket as the client uses it. The handler attributes take the
 * client's handlers; their parameter is `never` here so that every
 * implementation's own event types fit (the client reads only the fields of
 * `MessageEventLike` and `CloseEventLike`).
 */
export interface WebSocketLike {
  readonly readyState: number;
  /** The subprotocol the server selected. */
  readonly protocol: string;
  /** Set to 'arraybuffer' by the client. */
  binaryType: string;
  onopen: ((event: never) => unknown) | null;
  onmessage: ((event: never) => unknown) | null;
  onclose: ((event: never) => unknown) | null;
  onerror: ((event: never) => unknown) | null;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket class: `new WebSocket(url, protocols)`. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Wire encodings by their option name. */
export type ProtocolName = 'json' | 'msgpack';

/**
 * Subprotocols to offer, the preferred one first: the server picks the first
 * it supports, so a server without MessagePack still speaks JSON.
 */
export function offeredSubprotocols(preferred: ProtocolName): string[] {
  return preferred === 'msgpack' ? [msgpackCodec.subprotocol, jsonCodec.subprotocol] : [jsonCodec.subprotocol, msgpackCodec.subprotocol];
}

/** The codec of the subprotocol the server selected ('' — none — means JSON, as the protocol says). */
export function negotiatedCodec(selected: string): Codec | undefined {
  return selected === '' ? jsonCodec : codecFor(selected);
}

/** A received message's payload as the codecs take it (text, or bytes from an ArrayBuffer or a view). */
export function toPayload(data: unknown): string | Uint8Array | undefined {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

/** The platform's WebSocket class (`globalThis.WebSocket`), if there is one. */
export function globalWebSocket(): WebSocketConstructor | undefined {
  const candidate = (globalThis as { WebSocket?: unknown }).WebSocket;
  return typeof candidate === 'function' ? (candidate as WebSocketConstructor) : undefined;
}
