/**
 * Codecs turn protocol messages into WebSocket message payloads and back:
 * JSON in text frames, MessagePack in binary frames. A codec is chosen by the
 * negotiated subprotocol.
 */
import { decode as decodeMsgpack, Encoder } from '@msgpack/msgpack';
import { SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, type Subprotocol } from './messages.js';
import { msgpackSizeProblem } from './msgpack-guard.js';

/** A payload could not be decoded (not JSON / MessagePack, or not an object). */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

export interface Codec {
  readonly subprotocol: Subprotocol;
  /** True when messages travel in binary frames. */
  readonly binary: boolean;
  /** Encodes one message (any JSON-compatible object; MessagePack also takes bytes). */
  encode(message: object): string | Uint8Array;
  /** Decodes one payload into a plain object; throws `DecodeError` otherwise. */
  decode(payload: string | Uint8Array): Record<string, unknown>;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });
/** One MessagePack encoder, its buffer reused (`encode` returns a copy of exactly what it wrote). */
const msgpackEncoder = new Encoder({ ignoreUndefined: true });

function asRecord(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DecodeError('a protocol message must be an object');
  }
  return value as Record<string, unknown>;
}

export const jsonCodec: Codec = {
  subprotocol: SUBPROTOCOL_JSON,
  binary: false,
  encode(message: object): string {
    return JSON.stringify(message);
  },
  decode(payload: string | Uint8Array): Record<string, unknown> {
    let text: string;
    try {
      text = typeof payload === 'string' ? payload : textDecoder.decode(payload);
    } catch {
      throw new DecodeError('the payload is not UTF-8');
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new DecodeError('the payload is not JSON');
    }
    return asRecord(value);
  },
};

export const msgpackCodec: Codec = {
  subprotocol: SUBPROTOCOL_MSGPACK,
  binary: true,
  encode(message: object): Uint8Array {
    return msgpackEncoder.encode(message);
  },
  decode(payload: string | Uint8Array): Record<string, unknown> {
    if (typeof payload === 'string') throw new DecodeError('MessagePack messages travel in binary frames');
    // Declared sizes are checked first: the decoder allocates them before reading the items.
    if (msgpackSizeProblem(payload) !== null) throw new DecodeError('the payload is not MessagePack');
    let value: unknown;
    try {
      value = decodeMsgpack(payload);
    } catch {
      throw new DecodeError('the payload is not MessagePack');
    }
    return asRecord(value);
  },
};

export function codecFor(subprotocol: string): Codec | undefined {
  if (subprotocol === SUBPROTOCOL_JSON) return jsonCodec;
  if (subprotocol === SUBPROTOCOL_MSGPACK) return msgpackCodec;
  return undefined;
}
