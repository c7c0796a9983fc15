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
import type { ClientInfo, PresenceMember, Publication, StreamPosition } from '../wire/messages.js';

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
  /** The publisher, when shown to subscribers. */
  info?: ClientInfo;
}

export interface HistoryQuery {
  /** Publications after this position. Without it: the latest `limit`. */
  since?: StreamPosition;
  /** At most this many (the oldest first). Default: all that are kept. */
  limit?: number;
}

export interface BrokerHistory {
  /** The publications asked for, oldest first. */
  publications: Publication[];
  /** The stream's position when the query ran. */
  position: StreamPosition;
  /**
   * With `since`: true when `publications` are exactly all publications after
   * `since` (same epoch, none expired or trimmed, and `limit` not reached).
   */
  complete: boolean;
}

/** What the broker reports to the server that started it. */
export interface BrokerEvents {
  /** A publication in a channel this process subscribed to (`Broker.subscribe`). */
  publication(channel: string, publication: Publication): void;
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
   * Appends a publication to the channel's stream (assigning the next offset),
   * keeps it per `options.history`, and fans it out to every subscribed process.
   * Rejects (e.g. `BrokerUnavailableError`) rather than losing it silently.
   */
  publish(channel: string, data: unknown, options?: BrokerPublishOptions): Promise<Publication & { epoch: string }>;
  /** The publications kept for `channel`, per `query`. */
  history(channel: string, query?: HistoryQuery): Promise<BrokerHistory>;
  /** The channel's current position (offset 0 and a fresh epoch for a new channel). */
  position(channel: string): Promise<StreamPosition>;
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
