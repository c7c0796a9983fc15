/**
 * One channel's stream as the memory broker keeps it: an offset counter, the
 * epoch of this life of the stream, and the latest publications, trimmed by
 * count (`size`) and by age (`ttl`).
 *
 * Times are monotonic milliseconds (`performance.now()`), passed in by the
 * caller so that a stream never reads a clock of its own.
 */
import { encodedBytes, type EncodedPublication, type EncodedPublicationBody, type EncodedValue } from '../wire/encoded.js';
import type { StreamPosition } from '../wire/messages.js';
import { continuesStream, type BrokerHistory, type HistoryOptions, type HistoryQuery } from './broker.js';

/**
 * A kept publication: its encoded data and info as given (never decoded),
 * when it was published, and its size. One flat object per publication, so
 * that a kept publication costs its bytes and little more.
 */
class Entry implements EncodedPublication {
  constructor(
    readonly offset: number,
    readonly data: EncodedValue,
    readonly info: EncodedValue | undefined,
    readonly at: number,
    readonly bytes: number,
  ) {}
}

/** Compact the entry array once this many slots before `head` are dead. */
const COMPACT_AFTER = 1024;

/**
 * A fresh epoch: 12 characters (72 random bits) of base64url. An epoch only
 * has to differ from the channel's earlier epochs, so this is ample.
 */
export function newEpoch(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(9));
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return globalThis.btoa(binary).replace(/\+/g, '-').replace(/\//g, '_');
}

/** Throws a RangeError unless `history` is a usable retention setting. */
function checkHistoryOptions(history: HistoryOptions): void {
  if (!Number.isSafeInteger(history.size) || history.size < 0) {
    throw new RangeError(`history.size must be a non-negative integer, got ${String(history.size)}`);
  }
  const ttl = history.ttl ?? 0;
  if (typeof ttl !== 'number' || !(ttl >= 0) || !Number.isFinite(ttl)) {
    throw new RangeError(`history.ttl must be a non-negative number of ms, got ${String(history.ttl)}`);
  }
}

/** Throws a RangeError unless `query` holds a usable `since` and `limit`. */
export function checkHistoryQuery(query: HistoryQuery): void {
  const { since, limit } = query;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new RangeError(`limit must be a non-negative integer, got ${String(limit)}`);
  }
  const { maxBytes } = query;
  if (maxBytes !== undefined && (typeof maxBytes !== 'number' || !(maxBytes > 0))) {
    throw new RangeError(`maxBytes must be a positive number, got ${String(maxBytes)}`);
  }
  if (since !== undefined) {
    if (!Number.isSafeInteger(since.offset) || since.offset < 0) {
      throw new RangeError(`since.offset must be a non-negative integer, got ${String(since.offset)}`);
    }
    if (typeof since.epoch !== 'string') throw new RangeError('since.epoch must be a string');
  }
}

/**
 * A channel's stream. Offsets advance on every publication, whether it is
 * kept or not. Retention follows the options of the latest publication: a
 * publication without history options leaves nothing kept, and a changed
 * `ttl` applies to every kept publication from then on. The kept
 * publications are therefore always the newest ones, consecutive, ending at
 * the current offset.
 */
export class ChannelStream {
  /** Identifies this life of the stream. */
  readonly epoch: string;
  /** When the stream was last published to or read (monotonic ms). */
  lastUsed: number;
  #offset = 0;
  #entries: Entry[] = [];
  #head = 0;
  #size = 0;
  #ttl = 0;

  constructor(now: number, epoch: string = newEpoch()) {
    this.epoch = epoch;
    this.lastUsed = now;
  }

  /** The offset of the latest publication (0 before the first). */
  get offset(): number {
    return this.#offset;
  }

  /** The stream's current position. */
  get position(): StreamPosition {
    return { offset: this.#offset, epoch: this.epoch };
  }

  /** How many publications are kept (expired ones included until the next `prune`). */
  get retained(): number {
    return this.#entries.length - this.#head;
  }

  /**
   * Assigns the next offset to a publication, keeps it per `history` and
   * returns it (the object kept: its bytes are shared, never to be changed).
   */
  append(body: EncodedPublicationBody, history: HistoryOptions | undefined, now: number): EncodedPublication {
    if (history !== undefined) checkHistoryOptions(history);
    this.#size = history?.size ?? 0;
    this.#ttl = history?.ttl ?? 0;
    const { data, info } = body;
    const bytes = encodedBytes(data) + (info === undefined ? 0 : encodedBytes(info));
    const entry = new Entry(++this.#offset, data, info, now, bytes);
    if (this.#size > 0) this.#entries.push(entry);
    this.lastUsed = now;
    this.#trimToSize();
    this.prune(now);
    return entry;
  }

  /** Drops the publications older than the ttl. */
  prune(now: number): void {
    if (this.#ttl > 0) {
      const oldest = now - this.#ttl;
      while (this.#head < this.#entries.length && this.#entries[this.#head]!.at <= oldest) this.#head++;
    }
    this.#compact();
  }

  /** The kept publications per `query` (see `BrokerHistory.complete`). */
  query(query: HistoryQuery, now: number): BrokerHistory {
    checkHistoryQuery(query);
    this.lastUsed = now;
    this.prune(now);
    const position = this.position;
    const { since, limit, maxBytes } = query;
    if (since === undefined) return this.#latest(limit, maxBytes, position);
    if (!continuesStream(since, position) || since.offset > this.#offset) {
      return { publications: [], position, complete: false, truncated: false };
    }
    const oldest = this.#offset - this.retained + 1;
    const start = Math.max(since.offset + 1, oldest);
    const available = this.#offset - start + 1;
    const wanted = limit === undefined ? available : Math.min(limit, available);
    const publications = this.#slice(start - oldest, wanted, maxBytes);
    const truncated = publications.length < available;
    return { publications, position, complete: !truncated && start === since.offset + 1, truncated };
  }

  /** The latest `limit` kept publications (from the oldest of them, up to `maxBytes`); complete when they are the whole stream. */
  #latest(limit: number | undefined, maxBytes: number | undefined, position: StreamPosition): BrokerHistory {
    const retained = this.retained;
    const wanted = limit === undefined ? retained : Math.min(limit, retained);
    const publications = this.#slice(retained - wanted, wanted, maxBytes);
    // Newer kept publications follow the last one given only when maxBytes cut the page.
    const truncated = publications.length < wanted;
    return { publications, position, complete: !truncated && publications.length === this.#offset, truncated };
  }

  /** Up to `count` kept publications from the `from`-th kept one, stopping before `maxBytes` would be passed (the first always goes). */
  #slice(from: number, count: number, maxBytes = Infinity): EncodedPublication[] {
    const begin = this.#head + from;
    const publications: EncodedPublication[] = [];
    let bytes = 0;
    for (let index = begin; index < begin + count; index++) {
      const entry = this.#entries[index]!;
      bytes += entry.bytes;
      if (publications.length > 0 && bytes > maxBytes) break;
      publications.push(entry);
    }
    return publications;
  }

  /** Drops the oldest publications beyond `size`. */
  #trimToSize(): void {
    const excess = this.retained - this.#size;
    if (excess > 0) this.#head += excess;
  }

  /** Releases the dead slots before `head` when there are many of them. */
  #compact(): void {
    if (this.#head === this.#entries.length) {
      this.#entries = [];
      this.#head = 0;
    } else if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }
}
