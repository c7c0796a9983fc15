/**
 * One channel's stream as the memory broker keeps it: an offset counter, the
 * epoch of this life of the stream, and the latest publications, trimmed by
 * count (`size`) and by age (`ttl`).
 *
 * Times are monotonic milliseconds (`performance.now()`), passed in by the
 * caller so that a stream never reads a clock of its own.
 */
import type { EncodedPublication, EncodedPublicationBody } from '../wire/encoded.js';
import type { StreamPosition } from '../wire/messages.js';
import { continuesStream, type BrokerHistory, type HistoryOptions, type HistoryQuery } from './broker.js';
import { EntryLog } from './entry-log.js';


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
  /** The kept publications, oldest first, ending at `#offset`. */
  #log = new EntryLog();
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
    return this.#log.size;
  }

  /**
   * Assigns the next offset to a publication, keeps (a copy of) its bytes
   * per `history` and returns it with the bytes given.
   */
  append(body: EncodedPublicationBody, history: HistoryOptions | undefined, now: number): EncodedPublication {
    if (history !== undefined) checkHistoryOptions(history);
    this.#size = history?.size ?? 0;
    this.#ttl = history?.ttl ?? 0;
    const { data, info } = body;
    const offset = ++this.#offset;
    if (this.#size > 0) this.#log.push(data, info, now);
    this.lastUsed = now;
    this.#trimToSize();
    this.prune(now);
    return info === undefined ? { offset, data } : { offset, data, info };
  }

  /** Forgets every kept publication; the offset and epoch stay. */
  clear(now: number): void {
    this.#log.drop(this.#log.size);
    this.lastUsed = now;
  }

  /** Drops the publications older than the ttl. */
  prune(now: number): void {
    if (this.#ttl === 0) return;
    const oldest = now - this.#ttl;
    const log = this.#log;
    let expired = 0;
    while (expired < log.size && log.timeOf(expired) <= oldest) expired++;
    if (expired > 0) log.drop(expired);
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
    const log = this.#log;
    const firstOffset = this.#offset - log.size + 1;
    const publications: EncodedPublication[] = [];
    let bytes = 0;
    for (let index = from; index < from + count; index++) {
      bytes += log.bytesOf(index);
      if (publications.length > 0 && bytes > maxBytes) break;
      publications.push(log.publication(index, firstOffset + index));
    }
    return publications;
  }

  /** Drops the oldest publications beyond `size`. */
  #trimToSize(): void {
    const excess = this.retained - this.#size;
    if (excess > 0) this.#log.drop(excess);
  }
}
