/**
 * The kept publications of one stream, stored so that each costs its bytes
 * and a few words: the encoded data and publisher info are copied into
 * shared byte chunks (no JavaScript string or buffer object per
 * publication; one of its own only for a large one), and the rest of each entry — its time, chunk, position and
 * sizes — sits in parallel arrays of numbers. Entries leave from the oldest
 * (`drop`), as a stream's history is trimmed; a chunk is freed once no entry
 * in it is kept.
 *
 * Reading an entry makes its `EncodedPublication` anew: JSON text as a
 * string, MessagePack as a view of the chunk (valid while it is kept; a
 * reader that keeps the bytes must copy them).
 */
import { encodedBytes, type EncodedPublication, type EncodedValue } from '../wire/encoded.js';

/** The first chunk of a stream; each next one doubles, up to `MAX_CHUNK`. */
const MIN_CHUNK = 256;
/** Chunks grow to this size; a larger publication gets a chunk of its own size. */
const MAX_CHUNK = 64 * 1024;
/** A publication over this many bytes gets a chunk of its own (a shared chunk would waste up to this much). */
const LARGE = 4 * 1024;
/** The arrays are compacted once this many dropped entries sit before the head. */
const COMPACT_AFTER = 1024;

/** `kinds` values: how an entry's data is encoded. */
const JSON_TEXT = 0;
const MSGPACK = 1;

export class EntryLog {
  /** When each entry was appended (monotonic ms). */
  #at: number[] = [];
  /** The chunk holding each entry's bytes (undefined once dropped). */
  #chunks: Array<ArrayBuffer | undefined> = [];
  /** Where each entry's data starts in its chunk; its info follows the data. */
  #starts: number[] = [];
  #dataBytes: number[] = [];
  /** Bytes of each entry's info, -1 without one. */
  #infoBytes: number[] = [];
  #kinds: number[] = [];
  #head = 0;
  #current: ArrayBuffer | undefined;
  #used = 0;
  #nextChunk = MIN_CHUNK;

  /** Entries kept. */
  get size(): number {
    return this.#at.length - this.#head;
  }

  /** Copies a publication's encoded data and info in; returns its bytes. */
  push(data: EncodedValue, info: EncodedValue | undefined, at: number): number {
    const dataBytes = encodedBytes(data);
    const infoBytes = info === undefined ? -1 : encodedBytes(info);
    const total = dataBytes + Math.max(0, infoBytes);
    // A large publication gets a chunk of exactly its size; small ones share the current chunk.
    const own = total > LARGE;
    const chunk = own ? new ArrayBuffer(total) : this.#room(total);
    const start = own ? 0 : this.#used;
    writeInto(chunk, start, data, dataBytes);
    if (info !== undefined) writeInto(chunk, start + dataBytes, info, infoBytes);
    if (!own) this.#used += total;
    this.#at.push(at);
    this.#chunks.push(chunk);
    this.#starts.push(start);
    this.#dataBytes.push(dataBytes);
    this.#infoBytes.push(infoBytes);
    this.#kinds.push(typeof data === 'string' ? JSON_TEXT : MSGPACK);
    return total;
  }

  /** When the `index`-th kept entry (0: the oldest) was appended. */
  timeOf(index: number): number {
    return this.#at[this.#head + index]!;
  }

  /** Bytes of data and info of the `index`-th kept entry. */
  bytesOf(index: number): number {
    const at = this.#head + index;
    return this.#dataBytes[at]! + Math.max(0, this.#infoBytes[at]!);
  }

  /** The `index`-th kept entry as a publication with `offset`. */
  publication(index: number, offset: number): EncodedPublication {
    const at = this.#head + index;
    const chunk = this.#chunks[at]!;
    const start = this.#starts[at]!;
    const dataEnd = start + this.#dataBytes[at]!;
    const binary = this.#kinds[at] === MSGPACK;
    const data = read(chunk, start, dataEnd, binary);
    const infoBytes = this.#infoBytes[at]!;
    return infoBytes < 0 ? { offset, data } : { offset, data, info: read(chunk, dataEnd, dataEnd + infoBytes, binary) };
  }

  /** Drops the `count` oldest entries. */
  drop(count: number): void {
    const end = Math.min(this.#at.length, this.#head + count);
    for (let index = this.#head; index < end; index++) this.#chunks[index] = undefined;
    this.#head = end;
    this.#compact();
  }

  /** Releases the slots of dropped entries when there are many, or all of them. */
  #compact(): void {
    if (this.#head === this.#at.length) {
      this.#at = [];
      this.#chunks = [];
      this.#starts = [];
      this.#dataBytes = [];
      this.#infoBytes = [];
      this.#kinds = [];
      this.#head = 0;
      this.#current = undefined;
      this.#used = 0;
      this.#nextChunk = MIN_CHUNK;
    } else if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#at.length) {
      const head = this.#head;
      this.#at = this.#at.slice(head);
      this.#chunks = this.#chunks.slice(head);
      this.#starts = this.#starts.slice(head);
      this.#dataBytes = this.#dataBytes.slice(head);
      this.#infoBytes = this.#infoBytes.slice(head);
      this.#kinds = this.#kinds.slice(head);
      this.#head = 0;
    }
  }

  /** A chunk with `size` free bytes at `#used`: the current one, or a new current one. */
  #room(size: number): ArrayBuffer {
    const current = this.#current;
    if (current !== undefined && current.byteLength - this.#used >= size) return current;
    const capacity = Math.max(size, this.#nextChunk);
    this.#nextChunk = Math.min(MAX_CHUNK, this.#nextChunk * 2);
    // A bare ArrayBuffer: no view object kept per chunk, and never a slice of Node's shared pool.
    const chunk = new ArrayBuffer(capacity);
    this.#current = chunk;
    this.#used = 0;
    return chunk;
  }
}

function writeInto(chunk: ArrayBuffer, at: number, value: EncodedValue, bytes: number): void {
  if (typeof value === 'string') Buffer.from(chunk, at, bytes).write(value, 0, bytes, 'utf8');
  else new Uint8Array(chunk, at, bytes).set(value);
}

function read(chunk: ArrayBuffer, start: number, end: number, binary: boolean): EncodedValue {
  const view = Buffer.from(chunk, start, end - start);
  return binary ? view : view.toString('utf8');
}
