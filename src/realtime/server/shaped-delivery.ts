/**
 * The delivery of publications in namespaces with conflation or delta
 * compression (docs/realtime.md): these are written subscriber by
 * subscriber, since what one subscriber gets depends on what it already
 * has. Each push is still encoded once per codec and kind (full, delta,
 * conflated) and shared by the subscribers that get the same one.
 *
 * Delta: a channel keeps the last publication of each key (the conflation
 * key; one key for the whole channel without conflation). A subscriber that
 * asked for deltas gets a publication as a delta against the previous one of
 * its key when it holds that one: it has received every publication of the
 * channel after `syncedFrom`, and the previous one is after it. A push that
 * could not be written (a full buffer), a conflated flush's gap, or a new
 * subscription make the next one full.
 */
import type { Codec } from '../wire/codec.js';
import type { DeltaTerms } from '../wire/messages.js';
import { diffBytes, diffText, type Delta } from '../wire/delta.js';
import { decodeValue, encodedBytes, encodeValue, type EncodedPublication, type EncodedValue } from '../wire/encoded.js';
import { publicationKey } from '../wire/publication-key.js';
import { ConflationBuffer } from './conflation.js';
import type { Subscriber } from './fanout.js';
import type { Namespace, Namespaces } from './namespaces.js';
import { objectWithRaw } from './splice.js';
import { transcode } from './transcode.js';

/** Bytes a push adds to its publication's data (type, channel, offset, skipped: a generous bound for the flush's estimate). */
const PUSH_OVERHEAD = 128;

/** How often lagging subscribers are checked for a drained buffer, in ms. */
const FLUSH_INTERVAL = 20;

/** What one subscriber of one shaped channel has been sent. */
interface ShapedState {
  /** Offset of the last publication written to it here (undefined before the first). */
  lastSent: number | undefined;
  /** Non-null while the subscriber is conflated (its buffer went over the threshold). */
  conflated: ConflationBuffer | null;
  /** Whether it asked for deltas (and the namespace allows them). */
  delta: boolean;
  /** It has received every publication after this offset; null: the next one goes full. */
  syncedFrom: number | null;
}

/** The last publication of one key, as a delta base. */
interface Base {
  readonly offset: number;
  readonly value: unknown;
  text?: string;
  bytes?: Uint8Array;
}

/** Counts of what shaped delivery did, for stats and the demo's figures. */
export interface ShapedCounters {
  /** Publications written as deltas, and the bytes they saved against full pushes. */
  deltas: number;
  deltaBytesSaved: number;
  /** Publications not written to a conflated subscriber because a later one of the same key superseded them. */
  skipped: number;
}

/** A publication's pushes, encoded on first need and shared by the subscribers in a fan-out. */
class PushCache {
  private readonly full = new Map<Codec, EncodedValue>();
  private readonly deltas = new Map<Codec, EncodedValue>();
  decoded: unknown;
  private decodedYet = false;

  constructor(
    readonly channel: string,
    readonly publication: EncodedPublication,
    readonly epoch: string | undefined,
  ) {}

  value(): unknown {
    if (!this.decodedYet) {
      this.decoded = decodeValue(this.publication.data);
      this.decodedYet = true;
    }
    return this.decoded;
  }

  fullPush(codec: Codec): EncodedValue {
    let push = this.full.get(codec);
    if (push === undefined) this.full.set(codec, (push = shapedPush(codec, this.channel, this.publication, this.epoch, {})));
    return push;
  }

  /** Bytes the deltas written saved against full pushes (negative when a delta was larger). */
  saved = 0;

  /** The delta push against `base` (always sent when there is a base, so that the client's bases follow the server's). */
  deltaPush(codec: Codec, base: Base): EncodedValue {
    let push = this.deltas.get(codec);
    if (push === undefined) {
      const target = canonical(this.value(), codec);
      const delta: Delta = typeof target === 'string' ? diffText(baseIn(base, codec) as string, target) : diffBytes(baseIn(base, codec) as Uint8Array, target);
      push = shapedPush(codec, this.channel, this.publication, this.epoch, { delta: base.offset }, encodeValue(delta, codec));
      this.deltas.set(codec, push);
    }
    this.saved += encodedBytes(this.fullPush(codec)) - encodedBytes(push);
    return push;
  }
}

/** The canonical encoding of a value for delta purposes: what the client gets by encoding the value it decoded. */
function canonical(value: unknown, codec: Codec): EncodedValue {
  return encodeValue(value, codec);
}

function baseIn(base: Base, codec: Codec): EncodedValue {
  if (codec.binary) return (base.bytes ??= canonical(base.value, codec) as Uint8Array);
  return (base.text ??= canonical(base.value, codec) as string);
}

/** A `publication` push with the shaping fields; `data` replaces the publication's data (a delta). */
function shapedPush(codec: Codec, channel: string, publication: EncodedPublication, epoch: string | undefined, extra: { skipped?: number; delta?: number }, data?: EncodedValue): EncodedValue {
  const head: { type: 'publication'; channel: string; offset: number; epoch?: string; skipped?: number; delta?: number } = { type: 'publication', channel, offset: publication.offset };
  if (epoch !== undefined) head.epoch = epoch;
  if (extra.skipped !== undefined) head.skipped = extra.skipped;
  if (extra.delta !== undefined) head.delta = extra.delta;
  return objectWithRaw(codec, head, [
    ['data', data ?? transcode(publication.data, codec)],
    ['info', publication.info === undefined ? undefined : transcode(publication.info, codec)],
  ]);
}

/** The outbound bytes buffered for a subscriber, whatever its transport (a WebSocket, or the HTTP fallback's event stream). */
function buffered(subscriber: Subscriber): number {
  return subscriber.link.bufferedAmount;
}

/** Shaped delivery for the namespaces with conflation or delta. */
export class ShapedDelivery {
  private readonly states = new WeakMap<Subscriber, Map<string, ShapedState>>();
  /** Delta bases per channel (only in delta namespaces). */
  private readonly bases = new Map<string, Map<string, Base>>();
  /** Conflated subscribers, per channel. */
  private readonly lagging = new Map<string, Set<Subscriber>>();
  private timer: NodeJS.Timeout | undefined;
  readonly counters: ShapedCounters = { deltas: 0, deltaBytesSaved: 0, skipped: 0 };

  constructor(
    private readonly namespaces: Namespaces,
    private readonly maxQueuedBytes: number,
  ) {}

  /** The namespace of `channel` when its publications are shaped; undefined otherwise. */
  shapes(channel: string): Namespace | undefined {
    const namespace = this.namespaces.of(channel);
    return namespace !== undefined && (namespace.conflation !== null || namespace.delta) ? namespace : undefined;
  }

  /** Most delta bases a client must keep for a channel of `namespace`. */
  static deltaKeys(namespace: Namespace): number {
    return namespace.conflation?.maxKeys ?? 1;
  }

  /** The `delta` of a subscribe reply for a connection of `codec` (docs/protocol.md §5.4). */
  static deltaTerms(namespace: Namespace, codec: Codec): DeltaTerms {
    const terms: DeltaTerms = { keys: ShapedDelivery.deltaKeys(namespace), units: codec.binary ? 'bytes' : 'text' };
    if (namespace.conflation !== null) terms.key = namespace.conflation.key;
    return terms;
  }

  /** A subscription starts at `offset` (its reply written): deltas when asked for and allowed. */
  subscribed(channel: string, subscriber: Subscriber, offset: number, delta: boolean): void {
    const namespace = this.shapes(channel);
    if (namespace === undefined) return;
    const state = this.stateOf(channel, subscriber);
    state.delta = delta && namespace.delta;
    state.syncedFrom = offset;
  }

  /** The subscriber left the channel. */
  forget(channel: string, subscriber: Subscriber): void {
    this.states.get(subscriber)?.delete(channel);
    const lagging = this.lagging.get(channel);
    if (lagging !== undefined && lagging.delete(subscriber) && lagging.size === 0) this.lagging.delete(channel);
    if (this.lagging.size === 0) this.stopTimer();
  }

  /** The channel has no local subscribers left. */
  dropChannel(channel: string): void {
    this.bases.delete(channel);
    this.lagging.delete(channel);
    if (this.lagging.size === 0) this.stopTimer();
  }

  /** Writes a publication to the live subscribers of a shaped channel. */
  deliver(namespace: Namespace, channel: string, publication: EncodedPublication, epoch: string | undefined, subscribers: Iterable<Subscriber>): void {
    const cache = new PushCache(channel, publication, epoch);
    const conflation = namespace.conflation;
    const threshold = conflation === null ? 0 : Math.min(conflation.threshold, Math.floor(this.maxQueuedBytes / 2));
    let key: string | undefined;
    const keyOf = (): string => {
      if (key === undefined) {
        const named = conflation === null ? '' : publicationKey(cache.value(), conflation.key);
        key = named ?? `\u0000${publication.offset}`;
      }
      return key;
    };
    const bases = namespace.delta ? this.basesOf(channel) : undefined;
    const base = bases?.get(keyOf());
    for (const subscriber of subscribers) {
      const state = this.stateOf(channel, subscriber);
      state.lastSent ??= publication.offset - 1;
      if (conflation !== null && (state.conflated !== null || buffered(subscriber) > threshold)) {
        if (state.conflated === null) {
          state.conflated = new ConflationBuffer(conflation.maxKeys, this.maxQueuedBytes);
          this.lag(channel, subscriber);
        }
        state.conflated.hold({ key: keyOf(), publication, epoch });
        continue;
      }
      let push: EncodedValue | undefined;
      if (state.delta && base !== undefined && state.syncedFrom !== null && base.offset > state.syncedFrom) push = cache.deltaPush(subscriber.codec, base);
      if (push !== undefined) this.counters.deltas++;
      this.write(subscriber, state, publication.offset, push ?? cache.fullPush(subscriber.codec));
    }
    const at = bases === undefined ? undefined : keyOf();
    // A publication without a key is never a base (no later one is of its key).
    if (bases !== undefined && at !== undefined && !at.startsWith('\u0000') && (bases.has(at) || bases.size < ShapedDelivery.deltaKeys(namespace))) {
      bases.set(at, { offset: publication.offset, value: cache.value() });
    }
    this.counters.deltaBytesSaved += cache.saved;
  }

  private write(subscriber: Subscriber, state: ShapedState, offset: number, payload: EncodedValue): void {
    const written = subscriber.pushPayload(payload);
    if (!written) state.syncedFrom = null;
    else if (state.syncedFrom === null) state.syncedFrom = offset - 1;
    state.lastSent = offset;
  }

  private stateOf(channel: string, subscriber: Subscriber): ShapedState {
    let channels = this.states.get(subscriber);
    if (channels === undefined) this.states.set(subscriber, (channels = new Map()));
    let state = channels.get(channel);
    if (state === undefined) channels.set(channel, (state = { lastSent: undefined, conflated: null, delta: false, syncedFrom: null }));
    return state;
  }

  private basesOf(channel: string): Map<string, Base> {
    let bases = this.bases.get(channel);
    if (bases === undefined) this.bases.set(channel, (bases = new Map()));
    return bases;
  }

  private lag(channel: string, subscriber: Subscriber): void {
    let lagging = this.lagging.get(channel);
    if (lagging === undefined) this.lagging.set(channel, (lagging = new Set()));
    lagging.add(subscriber);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.flushDrained(), FLUSH_INTERVAL);
      this.timer.unref();
    }
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Writes the held publications of each conflated subscriber whose buffer drained to half the threshold. */
  private flushDrained(): void {
    for (const [channel, subscribers] of this.lagging) {
      const namespace = this.shapes(channel);
      const conflation = namespace?.conflation ?? null;
      if (conflation === null) continue;
      const threshold = Math.min(conflation.threshold, Math.floor(this.maxQueuedBytes / 2));
      for (const subscriber of subscribers) {
        const link = subscriber.link;
        if (link.readyState !== link.OPEN) {
          subscribers.delete(subscriber);
          continue;
        }
        if (link.bufferedAmount > threshold / 2) continue;
        const state = this.states.get(subscriber)?.get(channel);
        if (state?.conflated == null) {
          subscribers.delete(subscriber);
          continue;
        }
        if (this.flush(channel, subscriber, state, threshold)) subscribers.delete(subscriber);
      }
      if (subscribers.size === 0) this.lagging.delete(channel);
    }
    if (this.lagging.size === 0) this.stopTimer();
  }

  /**
   * Writes held publications in offset order: all of them when they fit in
   * half of `maxQueuedBytes` with what is buffered, else while the buffer
   * stays under the threshold; true when all are written. Writing the whole
   * set keeps busy keys from starving: a key updated often always has one of
   * the latest offsets, so a partial flush in offset order would reach it
   * only once fewer keys change than the link carries.
   */
  private flush(channel: string, subscriber: Subscriber, state: ShapedState, threshold: number): boolean {
    const buffer = state.conflated!;
    const whole = buffered(subscriber) + buffer.heldBytes + buffer.size * PUSH_OVERHEAD <= Math.floor(this.maxQueuedBytes / 2);
    const { publications, lost } = buffer.take();
    for (let i = 0; i < publications.length; i++) {
      if (!whole && buffered(subscriber) > threshold) {
        buffer.putBack(publications.slice(i));
        return false;
      }
      const { publication, epoch } = publications[i]!;
      const last = state.lastSent ?? publication.offset - 1;
      const gap = publication.offset - last - 1;
      const extra: { skipped?: number } = {};
      // After a loss (over maxKeys) the first gap is not all superseded publications: no `skipped`, the client recovers.
      if (gap > 0 && !(lost && i === 0)) {
        extra.skipped = gap;
        this.counters.skipped += gap;
      }
      // Full: what a delta would be against was superseded. The publications after `syncedFrom` that
      // were not written are superseded ones, so the client still holds the latest of every other key.
      if (lost && i === 0) state.syncedFrom = null;
      this.write(subscriber, state, publication.offset, shapedPush(subscriber.codec, channel, publication, epoch, extra));
    }
    state.conflated = null;
    return true;
  }
}
