/**
 * Protocol messages that carry encoded publication data, assembled from
 * bytes: the fields the server knows are encoded as usual, and the data (and
 * publisher info) kept by the broker is spliced in as it is — never decoded
 * for a client of the encoding it was published in (docs/protocol.md §5.2).
 *
 * JSON: an object's text without its closing brace, then `,"key":<raw>` for
 * each raw field, then the brace. MessagePack: the map's header counts the
 * raw fields too, and each follows as a key string and the raw bytes.
 */
import { Encoder } from '@msgpack/msgpack';
import type { Codec } from '../wire/codec.js';
import { encodedBytes, type EncodedPublication, type EncodedValue } from '../wire/encoded.js';
import { transcode } from './transcode.js';

/** A field whose value is already encoded (in the codec's encoding). */
export type RawField = readonly [key: string, value: EncodedValue | undefined];

/** One encoder for every head (its buffer is reused; `encode` returns a copy of what it wrote). */
const encoder = new Encoder({ ignoreUndefined: true });

function encodeMsgpack(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Bytes of `head` encoded as a MessagePack map, with room for `extra` more entries declared in its header. */
function msgpackMapWithExtra(head: object, extra: number): Uint8Array {
  const bytes = encodeMsgpack(head);
  const first = bytes[0]!;
  if (first >= 0x80 && first <= 0x8f) {
    const count = (first & 0x0f) + extra;
    if (count <= 15) {
      bytes[0] = 0x80 | count;
      return bytes;
    }
    const widened = new Uint8Array(bytes.length + 2);
    widened[0] = 0xde;
    widened[1] = count >> 8;
    widened[2] = count & 0xff;
    widened.set(bytes.subarray(1), 3);
    return widened;
  }
  // map16 and map32 (heads are small objects: these do not happen, but stay correct).
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (first === 0xde) view.setUint16(1, view.getUint16(1) + extra);
  else if (first === 0xdf) view.setUint32(1, view.getUint32(1) + extra);
  else throw new TypeError('the head of a message must encode as a map');
  return bytes;
}

/** `head` with the raw fields after its own (absent ones left out), in the codec's encoding. */
export function objectWithRaw(codec: Codec, head: object, fields: readonly RawField[]): EncodedValue {
  const present = fields.filter((field): field is readonly [string, EncodedValue] => field[1] !== undefined);
  if (!codec.binary) {
    const text = JSON.stringify(head);
    let out = text.slice(0, -1);
    let first = text.length === 2;
    for (const [key, value] of present) {
      out += `${first ? '' : ','}${JSON.stringify(key)}:${value as string}`;
      first = false;
    }
    return `${out}}`;
  }
  const parts: Uint8Array[] = [msgpackMapWithExtra(head, present.length)];
  for (const [key, value] of present) parts.push(msgpackKey(key), value as Uint8Array);
  return Buffer.concat(parts);
}

/** The few keys spliced in (data, info, result, publications), encoded once. */
const msgpackKeys = new Map<string, Uint8Array>();

function msgpackKey(key: string): Uint8Array {
  let encoded = msgpackKeys.get(key);
  if (encoded === undefined) {
    encoded = encodeMsgpack(key);
    if (msgpackKeys.size < 16) msgpackKeys.set(key, encoded);
  }
  return encoded;
}

/** An array of raw items, in the codec's encoding. */
export function arrayOfRaw(codec: Codec, items: readonly EncodedValue[]): EncodedValue {
  if (!codec.binary) return `[${items.join(',')}]`;
  const count = items.length;
  let header: Uint8Array;
  if (count <= 15) header = Uint8Array.of(0x90 | count);
  else if (count <= 0xffff) header = Uint8Array.of(0xdc, count >> 8, count & 0xff);
  else header = Uint8Array.of(0xdd, (count >>> 24) & 0xff, (count >> 16) & 0xff, (count >> 8) & 0xff, count & 0xff);
  return Buffer.concat([header, ...(items as Uint8Array[])]);
}

/** One publication as an object of a history page or a recovery: `{offset, data, info?}`. */
export function publicationEntry(codec: Codec, publication: EncodedPublication): EncodedValue {
  if (!codec.binary) {
    // The hot path of a JSON history page: written by hand (an offset is an integer, its JSON is its digits).
    const info = publication.info === undefined ? '' : `,"info":${transcode(publication.info, codec) as string}`;
    return `{"offset":${publication.offset},"data":${transcode(publication.data, codec) as string}${info}}`;
  }
  return objectWithRaw(codec, { offset: publication.offset }, [
    ['data', transcode(publication.data, codec)],
    ['info', publication.info === undefined ? undefined : transcode(publication.info, codec)],
  ]);
}

/**
 * The `publication` push of a channel for `codec`, with `epoch` when given:
 * the first publication of a stream, or the first of a new epoch, names it,
 * so that a subscriber learns the epoch it is in (docs/protocol.md §5.1).
 */
export function publicationPush(codec: Codec, channel: string, publication: EncodedPublication, epoch: string | undefined): EncodedValue {
  const head: { type: 'publication'; channel: string; offset: number; epoch?: string } = { type: 'publication', channel, offset: publication.offset };
  if (epoch !== undefined) head.epoch = epoch;
  return objectWithRaw(codec, head, [
    ['data', transcode(publication.data, codec)],
    ['info', publication.info === undefined ? undefined : transcode(publication.info, codec)],
  ]);
}

/** The publications that fit a reply's byte budget, encoded: at least one when there is one. */
export interface PublicationPage {
  /** The entries, in order. */
  readonly entries: EncodedValue[];
  /** How many publications they are (the first ones of those given). */
  readonly count: number;
  /** Their bytes in all. */
  readonly bytes: number;
}

/**
 * Encodes publications in order until the next one would take the page over
 * `budget` bytes; the first always goes in, so a page moves on.
 */
export function pageOfPublications(codec: Codec, publications: readonly EncodedPublication[], budget: number): PublicationPage {
  const entries: EncodedValue[] = [];
  let bytes = 0;
  for (const publication of publications) {
    const entry = publicationEntry(codec, publication);
    const size = encodedBytes(entry) + 1;
    if (entries.length > 0 && bytes + size > budget) break;
    entries.push(entry);
    bytes += size;
  }
  return { entries, count: entries.length, bytes };
}

/** A `reply` whose result is `result` plus a `publications` array of encoded entries. */
export function replyWithPublications(codec: Codec, id: number, result: object, entries: readonly EncodedValue[]): EncodedValue {
  const body = objectWithRaw(codec, result, [['publications', arrayOfRaw(codec, entries)]]);
  return objectWithRaw(codec, { type: 'reply', id }, [['result', body]]);
}
