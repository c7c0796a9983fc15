/**
 * MemoryBroker: the single-process `Broker`. Streams and presence sets live in
 * this process's memory, and events reach the server synchronously: a
 * publication is appended, given its offset and handed to
 * `events.publication` before `publish` returns its promise, so the events of
 * a channel come in offset order and `publish` resolves after delivery.
 *
 * Publications are kept as the encoded bytes they were published with (one
 * flat entry per publication: its data, its publisher info, its offset and
 * time), and handed to subscribers and history readers as those very bytes.
 *
 * Bounded memory. A channel's stream is created on its first publish;
 * reading (`history`, `position`) a channel without one creates nothing and
 * answers offset 0 with the epoch `''`. Keeping a stream forever for every channel name
 * ever used would let memory grow without bound, so a stream is forgotten
 * when all of these hold:
 *   - it keeps no publications (none were kept, or they expired by `ttl`),
 *   - this broker has not `subscribe()`d its channel,
 *   - nobody published to it or read it for `streamIdleTimeout` ms.
 * The channel then starts over at offset 0 with a new epoch, which is exactly
 * what the epoch is for: a client resuming from the old position learns that
 * it cannot recover (it could not have recovered anything anyway, since no
 * publication was kept). A stream that keeps publications without a `ttl`
 * stays, bounded by its history `size`.
 *
 * Presence members expire `ttl` ms after their latest `addPresence`; expired
 * members are removed with a `leave` event. One unref'd timer serves both
 * presence expiry (armed for the earliest deadline) and the sweep of idle
 * streams; `close()` stops it.
 *
 * Relayed messages reach `events.relay` synchronously too, when this broker
 * listens to their target; there is no other process to reach.
 *
 * A listener of `events` that throws does not disturb the broker: the error
 * is rethrown on a microtask (an uncaught exception, as a bug should be),
 * and the publish or presence change it was told about stands.
 */
import type { EncodedPublication, EncodedPublicationBody } from '../wire/encoded.js';
import type { PresenceMember, StreamPosition } from '../wire/messages.js';
import {
  BrokerUnavailableError,
  continuesStream,
  type Broker,
  type BrokerEvents,
  type BrokerHistory,
  type BrokerPublishOptions,
  type HistoryQuery,
  type PublishedPosition,
} from './broker.js';
import { PresenceRegistry } from './presence.js';
import { ChannelStream, checkHistoryQuery } from './stream.js';

/** Options of `MemoryBroker`. */
export interface MemoryBrokerOptions {
  /**
   * How long (ms) a stream that keeps no publications and whose channel this
   * broker has not subscribed to is remembered after its last use; then the
   * channel starts over with a new epoch. Default 300000 (5 minutes).
   */
  streamIdleTimeout?: number;
}

const DEFAULT_STREAM_IDLE_TIMEOUT = 300_000;
/** Idle streams are looked for every half idle timeout, within these bounds (ms). */
const MIN_STREAM_SWEEP = 10;
const MAX_STREAM_SWEEP = 60_000;
/** setTimeout's largest delay. */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** Monotonic milliseconds. */
function now(): number {
  return globalThis.performance.now();
}

/** Calls a listener; an error it throws is rethrown on a microtask instead of into the broker. */
function deliver(listener: () => void): void {
  try {
    listener();
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** Throws a RangeError unless `value` is a positive, finite number of ms. */
function checkTimeout(name: string, value: number): void {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a positive number of ms, got ${String(value)}`);
  }
}

/** The position of a channel that has no stream: nothing was published, and reading creates nothing. */
const NO_STREAM: StreamPosition = Object.freeze({ offset: 0, epoch: '' });

/** The single-process broker: streams, history and presence in memory. */
export class MemoryBroker implements Broker {
  readonly #streamIdleTimeout: number;
  readonly #streamSweepEvery: number;
  #state: 'new' | 'started' | 'closed' = 'new';
  #events: BrokerEvents | undefined;
  readonly #streams = new Map<string, ChannelStream>();
  readonly #subscribed = new Set<string>();
  readonly #listening = new Set<string>();
  readonly #presence = new PresenceRegistry();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #nextStreamSweep = Infinity;

  constructor(options: MemoryBrokerOptions = {}) {
    this.#streamIdleTimeout = options.streamIdleTimeout ?? DEFAULT_STREAM_IDLE_TIMEOUT;
    checkTimeout('streamIdleTimeout', this.#streamIdleTimeout);
    this.#streamSweepEvery = Math.min(MAX_STREAM_SWEEP, Math.max(MIN_STREAM_SWEEP, this.#streamIdleTimeout / 2));
  }

  /** How many channel streams are held in memory right now. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** Starts reporting to `events`. A broker starts once; a closed one cannot start again. */
  async start(events: BrokerEvents): Promise<void> {
    if (this.#state === 'closed') throw new BrokerUnavailableError('the memory broker is closed');
    if (this.#state === 'started') throw new Error('the memory broker is already started');
    this.#events = events;
    this.#state = 'started';
  }

  /** Stops reporting, stops the timer and forgets every stream and presence set (idempotent). */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#events = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#nextStreamSweep = Infinity;
    this.#streams.clear();
    this.#subscribed.clear();
    this.#listening.clear();
    this.#presence.clear();
  }

  /** Reports the publications, joins and leaves of `channel` from now on (idempotent). */
  async subscribe(channel: string): Promise<void> {
    this.#checkStarted();
    this.#subscribed.add(channel);
  }

  /** Stops reporting `channel` (idempotent). */
  async unsubscribe(channel: string): Promise<void> {
    this.#checkStarted();
    this.#subscribed.delete(channel);
  }

  /** Appends to the channel's stream and delivers the publication before resolving. */
  async publish(channel: string, body: EncodedPublicationBody, options: BrokerPublishOptions = {}): Promise<PublishedPosition> {
    this.#checkStarted();
    const time = now();
    const stream = this.#stream(channel, time);
    const publication = stream.append(body, options.history, time);
    if (this.#subscribed.has(channel)) this.#emitPublication(channel, publication, stream.epoch);
    return { offset: publication.offset, epoch: stream.epoch };
  }

  /**
   * The kept publications of `channel` per `query`; `complete` as
   * `BrokerHistory` says. Without `since`, `complete` tells whether the
   * publications returned are the whole stream, from offset 1.
   */
  async history(channel: string, query: HistoryQuery = {}): Promise<BrokerHistory> {
    this.#checkStarted();
    checkHistoryQuery(query);
    const time = now();
    const stream = this.#streams.get(channel);
    if (stream !== undefined) return stream.query(query, time);
    const since = query.since;
    const complete = since === undefined || (continuesStream(since, NO_STREAM) && since.offset === 0);
    return { publications: [], position: { ...NO_STREAM }, complete, truncated: false };
  }

  /** The channel's position: offset 0 and the epoch `''` for a channel without a stream (which this does not create). */
  async position(channel: string): Promise<StreamPosition> {
    this.#checkStarted();
    const stream = this.#streams.get(channel);
    if (stream === undefined) return { ...NO_STREAM };
    stream.lastUsed = now();
    return stream.position;
  }

  /** Forgets the kept publications of `channel`; its position stays. */
  async removeHistory(channel: string): Promise<void> {
    this.#checkStarted();
    this.#streams.get(channel)?.clear(now());
  }

  /** Adds or refreshes a member; reports a `join` only when it is new. */
  async addPresence(channel: string, member: PresenceMember, ttl: number): Promise<void> {
    this.#checkStarted();
    const time = now();
    this.#expirePresence(time);
    const joined = this.#presence.add(channel, member, ttl, time);
    if (joined && this.#subscribed.has(channel)) this.#emitMember('join', channel, member);
    this.#schedule();
  }

  /** Removes a member; reports a `leave` only when it was there. */
  async removePresence(channel: string, client: string): Promise<void> {
    this.#checkStarted();
    this.#expirePresence(now());
    const member = this.#presence.remove(channel, client);
    if (member !== undefined && this.#subscribed.has(channel)) this.#emitMember('leave', channel, member);
  }

  /** The unexpired members of `channel`, in the order they joined. */
  async presence(channel: string): Promise<PresenceMember[]> {
    this.#checkStarted();
    this.#expirePresence(now());
    return this.#presence.members(channel);
  }

  /** Reports the messages relayed to `target` from now on (idempotent). */
  async listen(target: string): Promise<void> {
    this.#checkStarted();
    this.#listening.add(target);
  }

  /** Stops reporting the messages of `target` (idempotent). */
  async unlisten(target: string): Promise<void> {
    this.#checkStarted();
    this.#listening.delete(target);
  }

  /** Delivers `message` before resolving when this broker listens to `target` (1), else resolves 0. */
  async relay(target: string, message: string): Promise<number> {
    this.#checkStarted();
    if (!this.#listening.has(target)) return 0;
    const events = this.#events;
    if (events?.relay !== undefined) deliver(() => events.relay!(target, message));
    return 1;
  }

  #checkStarted(): void {
    if (this.#state === 'closed') throw new BrokerUnavailableError('the memory broker is closed');
    if (this.#state === 'new') throw new Error('the memory broker is not started: call start() first');
  }

  /** The channel's stream, created (and the idle sweep planned) when there is none. */
  #stream(channel: string, time: number): ChannelStream {
    let stream = this.#streams.get(channel);
    if (stream === undefined) {
      stream = new ChannelStream(time);
      this.#streams.set(channel, stream);
      if (this.#nextStreamSweep === Infinity) {
        this.#nextStreamSweep = time + this.#streamSweepEvery;
        this.#schedule();
      }
    }
    return stream;
  }

  #emitPublication(channel: string, publication: EncodedPublication, epoch: string): void {
    const events = this.#events;
    if (events !== undefined) deliver(() => events.publication(channel, publication, epoch));
  }

  #emitMember(kind: 'join' | 'leave', channel: string, member: PresenceMember): void {
    const events = this.#events;
    if (events !== undefined) deliver(() => events[kind](channel, { ...member }));
  }

  /** Removes the members that expired by `time`, reporting their `leave`. */
  #expirePresence(time: number): void {
    for (const { channel, member } of this.#presence.expire(time)) {
      if (this.#subscribed.has(channel)) this.#emitMember('leave', channel, member);
    }
  }

  /** Forgets the streams that keep nothing, are not subscribed and were idle long enough. */
  #sweepStreams(time: number): void {
    for (const [channel, stream] of this.#streams) {
      stream.prune(time);
      const idle = time - stream.lastUsed >= this.#streamIdleTimeout;
      if (idle && stream.retained === 0 && !this.#subscribed.has(channel)) this.#streams.delete(channel);
    }
    this.#nextStreamSweep = this.#streams.size > 0 ? time + this.#streamSweepEvery : Infinity;
  }

  /** Arms the timer for the earliest presence deadline or stream sweep, unless it is armed earlier already. */
  #schedule(): void {
    if (this.#state !== 'started') return;
    const at = Math.min(this.#presence.nextDeadline() ?? Infinity, this.#nextStreamSweep);
    if (at === Infinity || (this.#timer !== undefined && this.#timerAt <= at)) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const delay = Math.min(MAX_TIMER_DELAY, Math.max(0, Math.ceil(at - now())));
    const timer = setTimeout(() => this.#onTimer(), delay);
    (timer as { unref?: () => void }).unref?.();
    this.#timer = timer;
    this.#timerAt = at;
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#state !== 'started') return;
    const time = now();
    this.#expirePresence(time);
    if (time >= this.#nextStreamSweep) this.#sweepStreams(time);
    this.#schedule();
  }
}
