/**
 * Local fan-out: which connections of this process are subscribed to which
 * channel, and the delivery of the broker's publications and presence events
 * to them. A push is encoded once per codec and framed once for all the
 * connections that share an encoding (`broadcastMessage`).
 *
 * A new subscriber starts *pending* (docs/protocol.md §4.3): it is registered
 * before the channel's position is read, and what arrives for the channel is
 * queued until the subscribe reply is written. Then only publications after
 * the reply's offset are written, and a floor keeps out any publication at or
 * below that offset that a slower broker delivers late. The first
 * publication above the floor moves the subscriber into the shared group.
 */
import type { Codec } from '../wire/codec.js';
import type { EncodedPublication, EncodedValue } from '../wire/encoded.js';
import type { JoinPush, LeavePush, PresenceMember } from '../wire/messages.js';
import { broadcastTo, type RealtimeSocket, type Subscriber } from './fanout.js';
import type { ProcessSubscriptions } from './process-subscriptions.js';
import type { ShapedDelivery } from './shaped-delivery.js';
import { publicationPush } from './splice.js';
import type { Traffic } from './stats.js';

/** A publication from the broker, with its stream's epoch, as it waits for a pending subscriber. */
interface QueuedPublication {
  readonly type: 'publication';
  readonly publication: EncodedPublication;
  /** The epoch to name in the push (see `ChannelHub.publication`), if any. */
  readonly epoch: string | undefined;
}

type QueuedPush = QueuedPublication | JoinPush | LeavePush;

/**
 * Pushes a pending subscriber may hold before its subscribe reply. The reply
 * normally follows within a broker round trip; a subscriber whose reply
 * takes longer while its channel is busy gets the rest as a gap (§5.1).
 */
const MAX_PENDING_PUSHES = 1024;

interface PendingSubscriber {
  /** Null while the subscribe reply is not written; then its offset. */
  floor: number | null;
  /** Pushes that arrived before the reply, in order. */
  queue: QueuedPush[];
}

/** The local subscribers of one channel. */
class LocalChannel {
  /** Live subscribers' sockets, one set per codec. */
  readonly groups = new Map<Codec, Set<RealtimeSocket>>();
  /** Live subscribers without a WebSocket (HTTP fallback), one set per codec; empty sets are removed. */
  readonly streams = new Map<Codec, Set<Subscriber>>();
  readonly pending = new Map<Subscriber, PendingSubscriber>();
  size = 0;
  /** The epoch of the last publication fanned out here (a change is announced in the push). */
  epoch: string | undefined;

  join(subscriber: Subscriber): void {
    const { ws, codec } = subscriber;
    if (ws === null) {
      let streams = this.streams.get(codec);
      if (streams === undefined) this.streams.set(codec, (streams = new Set()));
      streams.add(subscriber);
      return;
    }
    let group = this.groups.get(codec);
    if (group === undefined) this.groups.set(codec, (group = new Set()));
    group.add(ws);
  }

  /** Takes a live subscriber out of its set; false when it was not live. */
  leave(subscriber: Subscriber): boolean {
    const { ws, codec } = subscriber;
    if (ws !== null) return this.groups.get(codec)?.delete(ws) === true;
    const streams = this.streams.get(codec);
    if (streams === undefined || !streams.delete(subscriber)) return false;
    if (streams.size === 0) this.streams.delete(codec);
    return true;
  }

  has(subscriber: Subscriber): boolean {
    if (this.pending.has(subscriber)) return true;
    const { ws, codec } = subscriber;
    return ws === null ? this.streams.get(codec)?.has(subscriber) === true : this.groups.get(codec)?.has(ws) === true;
  }
}

/** Writes a queued push to one subscriber, in its codec. */
function pushQueued(subscriber: Subscriber, channel: string, push: QueuedPush): void {
  if (push.type === 'publication') subscriber.pushPayload(publicationPush(subscriber.codec, channel, push.publication, push.epoch));
  else subscriber.push(push);
}

/** Every channel with local subscribers, and the fan-out to them. */
export class ChannelHub {
  private readonly channels = new Map<string, LocalChannel>();

  constructor(
    private readonly subscriptions: ProcessSubscriptions,
    private readonly traffic?: Traffic,
    /** Conflation and delta compression, for the namespaces that have them. */
    readonly shaping?: ShapedDelivery,
  ) {}

  /** Number of channels with local subscribers. */
  get size(): number {
    return this.channels.size;
  }

  /** Local subscribers (pending or live) per channel. */
  subscriberCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const [channel, local] of this.channels) counts.set(channel, local.size);
    return counts;
  }

  /**
   * Registers a pending subscriber (its pushes are queued) and resolves once
   * the broker reports the channel to this process. On rejection the
   * subscriber is still registered: call `remove`.
   */
  add(channel: string, subscriber: Subscriber): Promise<void> {
    let local = this.channels.get(channel);
    if (local === undefined) this.channels.set(channel, (local = new LocalChannel()));
    if (local.has(subscriber)) throw new Error(`already registered in ${channel}`);
    local.pending.set(subscriber, { floor: null, queue: [] });
    local.size++;
    return this.subscriptions.acquire(channel);
  }

  /**
   * Called right after the subscribe reply with position `offset` was
   * written: writes the queued pushes the client must see (publications after
   * `offset`, presence events) and makes the subscriber live.
   */
  activate(channel: string, subscriber: Subscriber, offset: number): void {
    const local = this.channels.get(channel);
    const pending = local?.pending.get(subscriber);
    if (local === undefined || pending === undefined || pending.floor !== null) return;
    let last = offset;
    for (const push of pending.queue) {
      if (push.type === 'publication') {
        if (push.publication.offset <= last) continue;
        last = push.publication.offset;
      }
      pushQueued(subscriber, channel, push);
    }
    if (last > offset) {
      local.pending.delete(subscriber);
      local.join(subscriber);
    } else {
      pending.floor = offset;
      pending.queue = [];
    }
  }

  /** True when `subscriber` is registered in `channel` (pending or live). */
  has(channel: string, subscriber: Subscriber): boolean {
    return this.channels.get(channel)?.has(subscriber) === true;
  }

  /** Unregisters a subscriber; the last one of a channel unsubscribes the process at the broker. */
  remove(channel: string, subscriber: Subscriber): void {
    const local = this.channels.get(channel);
    if (local === undefined) return;
    const removed = local.pending.delete(subscriber) || local.leave(subscriber);
    if (!removed) return;
    local.size--;
    this.shaping?.forget(channel, subscriber);
    if (local.size === 0) {
      this.channels.delete(channel);
      this.shaping?.dropChannel(channel);
    }
    this.subscriptions.release(channel);
  }

  /** A publication from the broker: to every local subscriber of the channel, encoded once per codec. */
  publication(channel: string, publication: EncodedPublication, epoch: string): void {
    const local = this.channels.get(channel);
    if (local === undefined) return;
    // A stream's first publication, and the first of a new epoch (e.g. after a Redis failover), name the epoch.
    const announce = publication.offset === 1 || (local.epoch !== undefined && local.epoch !== epoch) ? epoch : undefined;
    local.epoch = epoch;
    const shaped = this.shaping?.shapes(channel);
    if (shaped !== undefined) this.shaping!.deliver(shaped, channel, publication, announce, liveSubscribers(local));
    else this.broadcast(local, (codec) => publicationPush(codec, channel, publication, announce));
    // After the broadcast: a subscriber promoted here joins the group and must not get it twice.
    if (local.pending.size > 0) this.deliverToPending(local, channel, { type: 'publication', publication, epoch: announce });
  }

  /** A presence event from the broker: to every local subscriber of the channel. */
  member(type: 'join' | 'leave', channel: string, member: PresenceMember): void {
    const local = this.channels.get(channel);
    if (local === undefined) return;
    const push: JoinPush | LeavePush = { type, channel, member };
    for (const [subscriber, pending] of local.pending) {
      if (pending.floor === null) enqueue(pending, push);
      else subscriber.push(push);
    }
    this.broadcast(local, (codec) => codec.encode(push));
  }

  private deliverToPending(local: LocalChannel, channel: string, push: QueuedPublication): void {
    const promoted: Subscriber[] = [];
    for (const [subscriber, pending] of local.pending) {
      if (pending.floor === null) enqueue(pending, push);
      else if (push.publication.offset > pending.floor) promoted.push(subscriber);
    }
    for (const subscriber of promoted) {
      local.pending.delete(subscriber);
      pushQueued(subscriber, channel, push);
      local.join(subscriber);
    }
  }

  /** Encodes once per codec (`encode`) and writes to every live subscriber. */
  private broadcast(local: LocalChannel, encode: (codec: Codec) => EncodedValue): void {
    const encoded = local.streams.size === 0 ? null : new Map<Codec, EncodedValue>();
    for (const [codec, group] of local.groups) {
      if (group.size === 0) continue;
      const payload = encode(codec);
      encoded?.set(codec, payload);
      broadcastTo(group, payload, codec.binary, this.traffic);
    }
    if (encoded !== null) broadcastToStreams(local, encode, encoded);
  }
}

/** The live subscribers of a channel (for shaped delivery, which writes to each). */
function* liveSubscribers(local: LocalChannel): Generator<Subscriber> {
  for (const group of local.groups.values()) {
    for (const ws of group) if (ws.data !== undefined) yield ws.data;
  }
  for (const subscribers of local.streams.values()) yield* subscribers;
}

/** Queues a push for a pending subscriber, within `MAX_PENDING_PUSHES` (later ones become a gap). */
function enqueue(pending: PendingSubscriber, push: QueuedPush): void {
  if (pending.queue.length < MAX_PENDING_PUSHES) pending.queue.push(push);
}

/** The HTTP fallback's share of a broadcast: the same encoding, written to each subscriber. */
function broadcastToStreams(local: LocalChannel, encode: (codec: Codec) => EncodedValue, encoded: Map<Codec, EncodedValue>): void {
  for (const [codec, subscribers] of local.streams) {
    let payload = encoded.get(codec);
    if (payload === undefined) encoded.set(codec, (payload = encode(codec)));
    for (const subscriber of subscribers) subscriber.pushPayload(payload);
  }
}
