/**
 * Publication data as bytes. Once the server has accepted a publication, its
 * data travels encoded — kept by the broker, fanned out, replayed by history
 * and recovery — and is never decoded again for a client that speaks the
 * encoding it was published in (docs/protocol.md §5.2).
 *
 * An `EncodedValue` names its own encoding by its type: a `string` is JSON
 * text, a `Uint8Array` is MessagePack. A client of the other codec gets the
 * value transcoded byte to byte (server/transcode.ts), once per publication
 * and codec in a fan-out, and per publication in a history page (which a
 * byte budget bounds).
 */
import { decode as decodeMsgpack, Encoder } from '@msgpack/msgpack';
import type { ClientInfo, Publication } from './messages.js';

/** One value in one encoding: JSON text (a string) or MessagePack bytes. */
export type EncodedValue = string | Uint8Array;

/** A publication as the broker keeps and delivers it. */
export interface EncodedPublication {
  /** Its offset in the channel's stream. */
  readonly offset: number;
  /** The data, as the publisher's codec encoded it. */
  readonly data: EncodedValue;
  /** The publisher (`ClientInfo`), in the same encoding as `data`. */
  readonly info?: EncodedValue;
}

/** What a broker is given to publish: the data and, optionally, the publisher, both encoded alike. */
export interface EncodedPublicationBody {
  readonly data: EncodedValue;
  readonly info?: EncodedValue;
}

/** The encoding a codec speaks: JSON (text) or MessagePack (binary). */
export interface ValueEncoding {
  /** True for MessagePack. */
  readonly binary: boolean;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
/** One encoder, its buffer reused; `encode` returns a copy of exactly the bytes written (no larger buffer behind it). */
const msgpackEncoder = new Encoder({ ignoreUndefined: true });

/** True when `value` is in the encoding of `codec`. */
export function isEncodedFor(value: EncodedValue, codec: ValueEncoding): boolean {
  return (typeof value !== 'string') === codec.binary;
}

/**
 * Encodes one value for `codec`. MessagePack bytes are copied into a buffer
 * of their own size, so that a kept value holds no larger shared buffer.
 */
export function encodeValue(value: unknown, codec: ValueEncoding): EncodedValue {
  if (!codec.binary) {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError('the value has no JSON form');
    return text;
  }
  return msgpackEncoder.encode(value);
}

/** Decodes an encoded value (the application's own reads: `RealtimeServer.history`). */
export function decodeValue(value: EncodedValue): unknown {
  return typeof value === 'string' ? (JSON.parse(value) as unknown) : decodeMsgpack(value);
}

/** Bytes of an encoded value on the wire (JSON as UTF-8). */
export function encodedBytes(value: EncodedValue): number {
  return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
}

/** A JSON value kept as bytes (e.g. read back from Redis) as text again. */
export function jsonText(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

/** A kept publication decoded into values (for server code's own reads). */
export function decodePublication(publication: EncodedPublication): Publication {
  const decoded: Publication = { offset: publication.offset, data: decodeValue(publication.data) };
  if (publication.info !== undefined) decoded.info = decodeValue(publication.info) as ClientInfo;
  return decoded;
}

/** True when `value` holds bytes (a typed array or DataView) anywhere: JSON could not carry it. */
export function containsBytes(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current !== 'object' || current === null) continue;
    if (ArrayBuffer.isView(current)) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) pending.push(child);
    }
  }
  return false;
}
