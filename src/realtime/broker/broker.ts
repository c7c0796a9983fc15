/**
 * The `Broker` carries what must be shared between server processes: channel
 * publications (fan-out), their history (streams with offset + epoch) and
 * presence. The real-time server keeps its own connections and local
 * subscriber sets; the broker tells it what happened in the channels it
 * serves. `MemoryBroker` is the single-process default; a Redis broker makes
 * many processes one system.
 *
 * Besides channels, a broker relays point-to-point messages between
 * processes (`listen`, `relay`): the HTTP fallback transport uses it to hand
 * a request that reached one process to the process that holds the session.
 */
import type { EncodedPublication, EncodedPublicationBody } from '../wire/encoded.js';
import type { PresenceMember, StreamPosition } from '../wire/messages.js';

/** How a channel keeps history. `size` 0 (or absent) keeps none. */
export interface HistoryOptions {
  /** Keep at most this many publications. */
  size: number;
  /** Keep a publication at most this long (ms). 0 or absent: no time limit. */
  ttl?: number;
}

export interface BrokerPublishOptions {
  /** Retention for this channel's stream; without it, nothing is kept (offsets still advance). */
  history?: HistoryOptions;
}

/** Where `publish` put a publication. */
export interface PublishedPosition {
  /** The offset it was given. */
  offset: number;
  /** The epoch of the stream it went into. */
  epoch: string;
}

export interface HistoryQuery {
  /** Publications after this position. Without it: the latest `limit`. */
  since?: StreamPosition;
  /** At most this many (the oldest first). Default: all that are kept. */
  limit?: number;
  /**
   * At most about this many bytes of data and info (as kept): the
   * publications stop before the one that would pass it, but the first is
   * always given. Default: no bound.
   */
  maxBytes?: number;
}

export interface BrokerHistory {
  /** The publications asked for, oldest first, encoded as they were published. */
  publications: EncodedPublication[];
  /**
   * The stream's position when the query ran. A channel that was never
   * published to (or was forgotten) is at offset 0 with the epoch `''`:
   * reading creates no state (docs/protocol.md §3).
   */
  position: StreamPosition;
  /**
   * With `since`: true when `publications` are exactly all publications after
   * `since` (same epoch, none expired or trimmed, and neither `limit` nor
   * `maxBytes` cut them short).
   */
  complete: boolean;
  /**
   * True when `limit` or `maxBytes` cut the answer short: more kept
   * publications follow the last one given.
   */
  truncated: boolean;
}

/** What the broker reports to the server that started it. */
export interface BrokerEvents {
  /**
   * A publication in a channel this process subscribed to (`Broker.subscribe`),
   * with the epoch of its stream. The data is the broker's own: read it, never change it.
   */
  publication(channel: string, publication: EncodedPublication, epoch: string): void;
  /** A member joined a channel this process subscribed to. */
  join(channel: string, member: PresenceMember): void;
  /** A member left a channel this process subscribed to. */
  leave(channel: string, member: PresenceMember): void;
  /** The broker lost or regained its backing service (Redis): `state` says which; `error` why. */
  state?(state: 'up' | 'down', error?: Error): void;
  /** A message `relay`ed (by any process) to a target this process listens to (`Broker.listen`). */
  relay?(target: string, message: string): void;
}

/**
 * The contract. Every method but `start` may be called only after `start`
 * resolved. Publications of one channel reach `events.publication` in offset
 * order, on every process, each exactly once per process subscription.
 */
export interface Broker {
  /** Connects (if needed) and starts reporting to `events`. Rejects with a clear error when the backing service is unreachable. */
  start(events: BrokerEvents): Promise<void>;
  /** Stops reporting and releases resources. */
  close(): Promise<void>;
  /** This process wants the publications and presence events of `channel` (idempotent). */
  subscribe(channel: string): Promise<void>;
  /** This process no longer wants them (idempotent). */
  unsubscribe(channel: string): Promise<void>;
  /**
   * Appends a publication (its data and publisher info, already encoded: the
   * broker keeps and forwards those bytes as they are) to the channel's
   * stream, assigning the next offset; keeps it per `options.history`, and
   * fans it out to every subscribed process. The stream and its epoch are
   * created by the first publication. Rejects (e.g.
   * `BrokerUnavailableError`) rather than losing it silently.
   *
   * The broker takes the publication when `publish` is called, not when its
   * promise settles: publications of one channel given in calls made one
   * after the other (without waiting for the earlier promises) take offsets
   * in the order of the calls. A connection's consecutive publishes rely on
   * it (they are pipelined, src/realtime/server/publish-pipeline.ts).
   */
  publish(channel: string, publication: EncodedPublicationBody, options?: BrokerPublishOptions): Promise<PublishedPosition>;
  /** The publications kept for `channel`, per `query`. Creates nothing. */
  history(channel: string, query?: HistoryQuery): Promise<BrokerHistory>;
  /** The channel's current position: offset 0 and epoch `''` for a channel without a stream. Creates nothing. */
  position(channel: string): Promise<StreamPosition>;
  /**
   * Forgets the publications kept for `channel`; its position (offset and
   * epoch) stays, so later publications continue the stream, and a client
   * that missed the removed ones learns `recovered: false`.
   */
  removeHistory(channel: string): Promise<void>;
  /** Adds (or refreshes) a presence member of `channel` and reports a `join` when it is new; `ttl` (ms) bounds how long it stays without a refresh. */
  addPresence(channel: string, member: PresenceMember, ttl: number): Promise<void>;
  /** Removes the member of `channel` with this client id and reports a `leave` when it was there. */
  removePresence(channel: string, client: string): Promise<void>;
  /** The current members of `channel`. */
  presence(channel: string): Promise<PresenceMember[]>;
  /**
   * This process wants the messages relayed to `target` (an opaque string,
   * e.g. the id of a session it holds), reported through `events.relay`
   * (idempotent). Resolves once a `relay` from any process reaches it.
   */
  listen(target: string): Promise<void>;
  /** This process no longer wants the messages of `target` (idempotent). */
  unlisten(target: string): Promise<void>;
  /**
   * Hands `message` to every process listening to `target`: each gets it
   * once, and the messages one process relays to one target arrive in the
   * order relayed. Nothing is kept: a process that listens later does not
   * get it. Resolves how many processes it reached (0: nobody listens);
   * rejects (e.g. `BrokerUnavailableError`) when it cannot tell.
   */
  relay(target: string, message: string): Promise<number>;
}

/** The broker's backing service is unreachable; nothing was done. */
export class BrokerUnavailableError extends Error {
  override readonly name = 'BrokerUnavailableError';
}

/**
 * True when a client that reached `since` is in the stream now at
 * `position`: the same epoch, or offset 0 read before the stream existed
 * (epoch `''`), which has seen nothing and so continues any stream from its
 * first publication.
 */
export function continuesStream(since: StreamPosition, position: StreamPosition): boolean {
  return since.epoch === position.epoch || (since.offset === 0 && since.epoch === '');
}
