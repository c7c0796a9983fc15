/**
 * One channel's stream as the memory broker keeps it: an offset counter, the
 * epoch of this life of the stream, and the latest publications, trimmed by
 * count (`size`) and by age (`ttl`).
 *
 * Times are monotonic milliseconds (`performance.now()`), passed in by the
 * caller so that a stream never reads a clock of its own.
 */
import type { ClientInfo, Publication, StreamPosition } from '../wire/messages.js';
import type { BrokerHistory, HistoryOptions, HistoryQuery } from './broker.js';

/** A kept publication and when it was published. */
interface Entry {
  readonly publication: Publication;
  readonly at: number;
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

/** A copy of the publisher info without absent fields. */
export function copyClientInfo(info: ClientInfo): ClientInfo {
  const copy: ClientInfo = { client: info.client, user: info.user };
  if (info.info !== undefined) copy.info = info.info;
  return copy;
}

/** A copy of a publication, so that callers cannot change what the stream keeps. */
export function copyPublication(publication: Publication): Publication {
  const copy: Publication = { offset: publication.offset, data: publication.data };
  if (publication.info !== undefined) copy.info = copyClientInfo(publication.info);
  return copy;
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
   * returns it (the object kept, which callers must not change).
   */
  append(data: unknown, info: ClientInfo | undefined, history: HistoryOptions | undefined, now: number): Publication {
    if (history !== undefined) checkHistoryOptions(history);
    this.#size = history?.size ?? 0;
    this.#ttl = history?.ttl ?? 0;
    const publication: Publication = { offset: ++this.#offset, data };
    if (info !== undefined) publication.info = copyClientInfo(info);
    if (this.#size > 0) this.#entries.push({ publication, at: now });
    this.lastUsed = now;
    this.#trimToSize();
    this.prune(now);
    return publication;
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
    const { since, limit } = query;
    if (since === undefined) return this.#latest(limit, position);
    if (since.epoch !== this.epoch || since.offset > this.#offset) {
      return { publications: [], position, complete: false };
    }
    const oldest = this.#offset - this.retained + 1;
    const start = Math.max(since.offset + 1, oldest);
    const available = this.#offset - start + 1;
    const count = limit === undefined ? available : Math.min(limit, available);
    const publications = this.#slice(start - oldest, count);
    return { publications, position, complete: count === this.#offset - since.offset };
  }

  /** The latest `limit` kept publications; complete when they are the whole stream. */
  #latest(limit: number | undefined, position: StreamPosition): BrokerHistory {
    const retained = this.retained;
    const count = limit === undefined ? retained : Math.min(limit, retained);
    const publications = this.#slice(retained - count, count);
    return { publications, position, complete: count === this.#offset };
  }

  /** Copies of `count` kept publications from the `from`-th kept one. */
  #slice(from: number, count: number): Publication[] {
    const begin = this.#head + from;
    const publications: Publication[] = [];
    for (let index = begin; index < begin + count; index++) {
      publications.push(copyPublication(this.#entries[index]!.publication));
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
