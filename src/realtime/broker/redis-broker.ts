/**
 * `RedisBroker`: many Switchboard processes, one system, through Redis.
 *
 * - Publications: a Lua script assigns the channel's next offset, appends it
 *   to the channel's Redis Stream (trimmed by MAXLEN and by age) and fans it
 *   out with SPUBLISH, all in one atomic step — so every process sees one
 *   channel's publications in offset order, and recovery reads (XRANGE) the
 *   same stream from any process.
 * - Bytes: a publication's data and info are kept and fanned out as the
 *   bytes they were published as (JSON text or MessagePack, marked per
 *   entry), in binary-safe stream fields and a binary-safe bus frame; they
 *   come back in the type they were given (a string for JSON, a Uint8Array
 *   of their own for MessagePack) and are never parsed here.
 * - History pages are cut inside Redis (by `limit` and `maxBytes`), so Redis
 *   never ships more than a page. Reads create nothing: a channel gets its
 *   meta (offset, epoch) with its first publication; before it, reads answer
 *   offset 0 and the epoch ''.
 * - Each process SSUBSCRIBEs only to the channels its own clients use, so no
 *   process receives traffic for channels it does not serve.
 * - Redis Cluster: a node URL whose node says `cluster_enabled:1`, or several
 *   seed nodes, makes a cluster client; each channel's keys and shard channel
 *   share its hash slot, so its scripts run on one master, and a subscriber
 *   connection per master SSUBSCRIBEs the shard channels of its slots
 *   (redis-shards.ts), re-placed after a failover or a slot move with a
 *   'down' / 'up' around it. Sentinel: `redis+sentinel://` follows the master.
 * - Failover: the meta names the Redis process that wrote it, so a stream is
 *   never continued under its epoch by another process (a promoted replica
 *   that may lack acknowledged writes): its next publication starts a new
 *   epoch. `durability: 'replica'` makes a publish wait for a replica.
 * - Presence: a hash of members and a sorted set of expiry times per channel;
 *   the process holding a member refreshes it, so members of a dead process
 *   expire after the TTL and a `leave` is published for them.
 * - Relay: a process that listens to a target SSUBSCRIBEs to the target's
 *   own shard channel; `relay` is a plain SPUBLISH to it, whose answer (the
 *   number of subscribers reached) tells whether anyone holds the target.
 *   Nothing is stored.
 * - Failures: commands are not queued while Redis is unreachable — they fail
 *   at once with `BrokerUnavailableError` (nothing vanishes silently); the
 *   subscriber connection reconnects and resubscribes by itself, and the
 *   broker reports 'down' / 'up' through `events.state`. Redis unreachable at
 *   start: `start()` rejects after `connectTimeout` with a clear error.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { jsonText, type EncodedPublication, type EncodedPublicationBody, type EncodedValue } from '../wire/encoded.js';
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
import {
  ADD_PRESENCE_SCRIPT,
  HISTORY_SCRIPT,
  PRESENCE_SCRIPT,
  PUBLISH_SCRIPT,
  REMOVE_PRESENCE_SCRIPT,
} from './redis-scripts.js';
import {
  clusterOptions,
  nodeOptions,
  parseRedisUrl,
  probeCluster,
  redactRedisUrl,
  type RedisCommander,
  type RedisTarget,
} from './redis-connection.js';
import { ShardSubscriberGroup, keySlot } from './redis-shards.js';
import { checkHistoryQuery } from './stream.js';
import { corkForTurn } from './turn-cork.js';

export const DEFAULT_REDIS_PREFIX = 'sb';
export const DEFAULT_REDIS_CONNECT_TIMEOUT = 5_000;
/** A channel's offset and epoch are kept this long after its last publication. */
export const DEFAULT_STREAM_META_TTL = 7 * 24 * 3_600_000;
/** How often the broker removes expired presence members of its channels. */
export const DEFAULT_PRESENCE_SWEEP_INTERVAL = 5_000;
/** With `durability: 'replica'`: how long a publish waits for a replica's acknowledgement. */
export const DEFAULT_REPLICA_TIMEOUT = 1_000;
/** On a Redis Cluster: how often the owners of subscribed slots are checked. */
export const DEFAULT_CLUSTER_CHECK_INTERVAL = 1_000;

/**
 * When `publish` resolves. 'primary' (the default): once the master ran it.
 * 'replica': also once at least one replica acknowledged it (WAIT), so that
 * a failover to that replica keeps it; otherwise the publish rejects with
 * `BrokerDurabilityError`.
 */
export type RedisDurability = 'primary' | 'replica';

/**
 * A publication was made (it has its offset and went to the subscribers),
 * but no replica acknowledged it within `replicaTimeout`: a failover may
 * lose it (its subscribers are then told `recovered: false`).
 */
export class BrokerDurabilityError extends Error {
  override readonly name = 'BrokerDurabilityError';
  constructor(
    message: string,
    readonly position: PublishedPosition,
  ) {
    super(message);
  }
}

export interface RedisBrokerOptions {
  /**
   * `redis://[user:password@]host:port[/db]` (a node of a Redis Cluster is
   * detected), `redis://host:port,host:port` (seed nodes of a Redis Cluster)
   * or `redis+sentinel://host:port[,host:port]/mastername[/db]` (the master
   * named by these Sentinels); `rediss` for TLS. Default `redis://127.0.0.1:6379`.
   */
  url?: string;
  /** More ioredis options (TLS, password, ...). */
  redis?: RedisOptions;
  /** Prefix of every key and shard channel. Default 'sb'. */
  prefix?: string;
  /** How long `start()` waits for Redis. Default 5000 ms. */
  connectTimeout?: number;
  /** How long a channel's offset and epoch outlive its last publication (ms). Default 7 days. */
  metaTtl?: number;
  /** How often expired presence members are swept (ms). Default 5000. */
  presenceSweepInterval?: number;
  /** When `publish` resolves (see `RedisDurability`). Default 'primary'. */
  durability?: RedisDurability;
  /** With `durability: 'replica'`: how long to wait for a replica (ms). Default 1000. */
  replicaTimeout?: number;
  /** On a Redis Cluster: how often the owners of subscribed slots are checked (ms). Default 1000. */
  clusterCheckInterval?: number;
}

interface ScriptSource {
  lua: string;
  sha: string;
}

function script(lua: string): ScriptSource {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

const SCRIPTS = {
  publish: script(PUBLISH_SCRIPT),
  history: script(HISTORY_SCRIPT),
  addPresence: script(ADD_PRESENCE_SCRIPT),
  removePresence: script(REMOVE_PRESENCE_SCRIPT),
  presence: script(PRESENCE_SCRIPT),
};

/** A join or leave on a channel's shard channel (publications use the binary frame of `parseFrame`). */
type PresenceMessage = { t: 'j'; m: PresenceMember } | { t: 'l'; m: PresenceMember };

/** How a stream entry and a bus frame mark the encoding of data and info. */
const JSON_MARK = 'j';
const MSGPACK_MARK = 'm';

/** The first byte of a publication frame ('p'); presence messages start with '{'. */
const FRAME_TAG = 0x70;
const NEWLINE = 0x0a;

function freshEpoch(): string {
  return randomBytes(6).toString('base64url');
}

/** An encoded value as a command argument: JSON text as is, MessagePack bytes as a Buffer over the same memory. */
function valueArgument(value: EncodedValue): string | Buffer {
  return typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** The encoding mark of a publication body; its info must be encoded alike. */
function encodingMark(body: EncodedPublicationBody): string {
  const binary = typeof body.data !== 'string';
  if (body.info !== undefined && (typeof body.info !== 'string') !== binary) {
    throw new TypeError('a publication\'s info must be encoded like its data (both JSON text or both MessagePack)');
  }
  return binary ? MSGPACK_MARK : JSON_MARK;
}

/**
 * Bytes read from Redis (a view into a reply buffer that may be much larger)
 * as an encoded value: JSON as text, MessagePack copied once into a
 * Uint8Array of its own, so that nothing kept retains the reply buffer.
 */
function encodedValue(bytes: Uint8Array, mark: string): EncodedValue {
  if (mark === JSON_MARK) return jsonText(bytes);
  const own = new Uint8Array(bytes.byteLength);
  own.set(bytes);
  return own;
}

/** A publication from its encoding mark, info bytes (empty: none) and data bytes. */
function encodedPublication(offset: number, mark: string, info: Uint8Array, data: Uint8Array): EncodedPublication {
  if (info.byteLength === 0) return { offset, data: encodedValue(data, mark) };
  return { offset, data: encodedValue(data, mark), info: encodedValue(info, mark) };
}

/** A parsed publication frame: `p <offset> <epoch> <mark> <info bytes>\n<info><data>`. */
interface Frame {
  publication: EncodedPublication;
  epoch: string;
}

/** Parses a publication frame; undefined when it is not one. The data is copied once (into text or its own bytes). */
function parseFrame(payload: Buffer): Frame | undefined {
  if (payload[0] !== FRAME_TAG) return undefined;
  const end = payload.indexOf(NEWLINE);
  if (end < 0) return undefined;
  const [tag, offsetText, epoch, mark, infoText] = payload.toString('latin1', 0, end).split(' ');
  if (tag !== 'p' || epoch === undefined || (mark !== JSON_MARK && mark !== MSGPACK_MARK)) return undefined;
  const offset = Number(offsetText);
  const infoBytes = Number(infoText);
  const infoEnd = end + 1 + infoBytes;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(infoBytes) || infoBytes < 0 || infoEnd > payload.length) return undefined;
  const publication = encodedPublication(offset, mark, payload.subarray(end + 1, infoEnd), payload.subarray(infoEnd));
  return { publication, epoch };
}

/** The reply of HISTORY_SCRIPT, read with Buffers: offset, epoch, truncated, then offset/mark/info/data per publication. */
type HistoryReply = [offset: number, epoch: Buffer, truncated: number, page: Array<number | Buffer>];

/** The publications of a HISTORY_SCRIPT page. */
function pagePublications(page: Array<number | Buffer>): EncodedPublication[] {
  const publications: EncodedPublication[] = [];
  for (let k = 0; k + 3 < page.length; k += 4) {
    const mark = (page[k + 1] as Buffer).toString('latin1');
    publications.push(encodedPublication(Number(page[k]), mark, page[k + 2] as Buffer, page[k + 3] as Buffer));
  }
  return publications;
}

function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return /writeable|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|max retries|ETIMEDOUT|enableOfflineQueue|^CLUSTERDOWN|^TRYAGAIN|^MASTERDOWN|^LOADING|^READONLY|Too many Cluster redirections|Cluster isn't ready|Failed to refresh slots|None of startup nodes/i.test(
    error.message,
  );
}

export class RedisBroker implements Broker {
  private readonly url: string;
  private readonly prefix: string;
  private readonly connectTimeout: number;
  private readonly metaTtl: number;
  private readonly sweepInterval: number;
  private readonly redisOptions: RedisOptions;
  private readonly target: RedisTarget;
  private readonly durability: RedisDurability;
  private readonly replicaTimeout: number;
  private readonly clusterCheckInterval: number;
  private command: RedisCommander | undefined;
  /** One server or Sentinel: the subscriber connection. */
  private subscriber: Redis | undefined;
  /** Redis Cluster: a subscriber connection per master owning a subscribed slot. */
  private shards: ShardSubscriberGroup | undefined;
  private shardsHealthy = true;
  private events: BrokerEvents | undefined;
  private readonly channels = new Set<string>();
  /** Relay targets this process listens to. */
  private readonly targets = new Set<string>();
  private readonly presenceTtls = new Map<string, number>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private state: 'up' | 'down' = 'down';
  private closed = false;
  /** Publish scripts sent and not yet answered. */
  private readonly publishing = new Set<Promise<unknown>>();
  /**
   * While publishes that Redis answered NOSCRIPT are sent again (as EVAL),
   * later publishes wait for them: the offsets keep the order of the calls.
   */
  private publishGate: Promise<void> | null = null;
  /**
   * Redis Cluster: masters whose connection is being opened. The cluster
   * client opens a master's connection at its first command and retries the
   * commands sent meanwhile one by one, out of order; publishes for that
   * master wait here instead, and go in the order of the calls.
   */
  private readonly opening = new Map<Redis, Promise<void>>();

  constructor(options: RedisBrokerOptions = {}) {
    this.url = options.url ?? 'redis://127.0.0.1:6379';
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    this.connectTimeout = options.connectTimeout ?? DEFAULT_REDIS_CONNECT_TIMEOUT;
    this.metaTtl = options.metaTtl ?? DEFAULT_STREAM_META_TTL;
    this.sweepInterval = options.presenceSweepInterval ?? DEFAULT_PRESENCE_SWEEP_INTERVAL;
    this.redisOptions = options.redis ?? {};
    this.target = parseRedisUrl(this.url);
    this.durability = options.durability ?? 'primary';
    this.replicaTimeout = options.replicaTimeout ?? DEFAULT_REPLICA_TIMEOUT;
    this.clusterCheckInterval = options.clusterCheckInterval ?? DEFAULT_CLUSTER_CHECK_INTERVAL;
  }

  /** True when connected to a Redis Cluster (known once `start` resolved). */
  get cluster(): boolean {
    return this.command instanceof Cluster;
  }

  async start(events: BrokerEvents): Promise<void> {
    this.events = events;
    const base: RedisOptions = {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      connectTimeout: this.connectTimeout,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
      ...this.redisOptions,
    };
    const target = this.target;
    try {
      if (target.kind === 'node' && (target.nodes.length > 1 || (await this.withTimeout(probeCluster(target, base, this.connectTimeout))))) {
        await this.startCluster(target, base);
      } else {
        await this.startSingle(target, base);
      }
    } catch (error) {
      this.command?.disconnect();
      this.subscriber?.disconnect();
      void this.shards?.close();
      this.command = undefined;
      this.subscriber = undefined;
      this.shards = undefined;
      const reason = error instanceof Error ? error.message : String(error);
      throw new BrokerUnavailableError(`cannot reach Redis at ${redactRedisUrl(this.url)}: ${reason}`);
    }
    this.state = 'up';
    this.sweepTimer = setInterval(() => this.sweepPresence(), this.sweepInterval);
    this.sweepTimer.unref();
  }

  /** One server, or the master named by Sentinels: a command and a subscriber connection. */
  private async startSingle(target: RedisTarget, base: RedisOptions): Promise<void> {
    const options = nodeOptions(target, base);
    // Commands fail at once while Redis is away; subscriptions are replayed on reconnect.
    const command = new Redis({ ...options, enableOfflineQueue: false });
    const subscriber = new Redis({ ...options, enableOfflineQueue: true, autoResubscribe: true });
    this.command = command;
    this.subscriber = subscriber;
    command.on('error', () => {});
    subscriber.on('error', () => {});
    await this.withTimeout(Promise.all([command.connect(), subscriber.connect()]));
    this.watchState(command);
    this.watchState(subscriber);
    subscriber.on('smessageBuffer', (channel: Buffer, message: Buffer) => this.receive(channel, message));
  }

  /** A Redis Cluster: a cluster client for commands, a subscriber connection per master for sharded pub/sub. */
  private async startCluster(target: Extract<RedisTarget, { kind: 'node' }>, base: RedisOptions): Promise<void> {
    const options = clusterOptions(target, base);
    const command = new Cluster(target.nodes, options);
    this.command = command;
    command.on('error', () => {});
    command.on('node error', () => {});
    await this.withTimeout(command.connect());
    this.shards = new ShardSubscriberGroup(
      command,
      {
        message: (shard, payload) => this.receive(shard, payload),
        state: (healthy, error) => {
          this.shardsHealthy = healthy;
          if (!healthy) this.setState('down', error);
          else if (command.status === 'ready') this.setState('up');
        },
      },
      { redis: options.redisOptions ?? {}, connectTimeout: this.connectTimeout, checkInterval: this.clusterCheckInterval },
    );
    command.on('close', () => this.setState('down', new Error('the connection to the Redis Cluster was lost')));
    command.on('ready', () => {
      if (this.shardsHealthy) this.setState('up');
    });
  }

  private async withTimeout<T>(promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.connectTimeout} ms`)), this.connectTimeout);
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reports 'down' when either connection drops and 'up' when both are ready again. */
  private watchState(connection: Redis): void {
    connection.on('close', () => this.setState('down', new Error('the connection to Redis was lost')));
    connection.on('ready', () => {
      if (this.command?.status === 'ready' && this.subscriber?.status === 'ready') this.setState('up');
    });
  }

  private setState(state: 'up' | 'down', error?: Error): void {
    if (this.closed || this.state === state) return;
    this.state = state;
    this.events?.state?.(state, error);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.events = undefined;
    await Promise.all([quit(this.command), quit(this.subscriber), this.shards?.close()]);
  }

  // ------------------------------------------------------------ keys

  private keys(channel: string): { meta: string; stream: string; members: string; expiry: string; shard: string } {
    const base = `${this.prefix}:{${channel}}`;
    return { meta: `${base}:m`, stream: `${base}:s`, members: `${base}:p`, expiry: `${base}:pe`, shard: `${base}:bus` };
  }

  /** The shard channel of a relay target: its own hash slot, apart from every channel's keys. */
  private relayShard(target: string): string {
    return `${this.prefix}:{${target}}:relay`;
  }

  /** The channel or relay target a shard channel stands for. */
  private parseShard(shard: string): { kind: 'bus' | 'relay'; name: string } | undefined {
    const start = this.prefix.length + 2;
    if (!shard.startsWith(`${this.prefix}:{`)) return undefined;
    if (shard.endsWith('}:bus')) return { kind: 'bus', name: shard.slice(start, shard.length - 5) };
    if (shard.endsWith('}:relay')) return { kind: 'relay', name: shard.slice(start, shard.length - 7) };
    return undefined;
  }

  // ------------------------------------------------------------ commands

  /**
   * Runs a script (EVALSHA, loading it on NOSCRIPT). With `binary`, bulk
   * replies come back as Buffers (views into ioredis' reply buffer) instead
   * of strings, so binary data survives. `noScript` is called when Redis
   * lacks the script, just before it is sent again in full.
   */
  private async run(source: ScriptSource, keys: string[], args: (string | number | Buffer)[], binary = false, noScript?: () => void): Promise<unknown> {
    return this.withCommand(async (connection) => {
      const call = (command: 'EVALSHA' | 'EVAL', script: string): Promise<unknown> =>
        binary ? connection.callBuffer(command, script, keys.length, ...keys, ...args) : connection.call(command, script, keys.length, ...keys, ...args);
      try {
        return await call('EVALSHA', source.sha);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        noScript?.();
        return await call('EVAL', source.lua);
      }
    });
  }

  /** Runs `action` on the command connection, failing with `BrokerUnavailableError` while Redis is unreachable. */
  private async withCommand<T>(action: (connection: RedisCommander) => Promise<T>): Promise<T> {
    const connection = this.command;
    if (connection === undefined || this.closed) throw new BrokerUnavailableError('the Redis broker is not started');
    if (connection.status !== 'ready') throw new BrokerUnavailableError(`Redis at ${redactRedisUrl(this.url)} is unreachable`);
    try {
      return await action(connection);
    } catch (error) {
      if (isConnectionError(error)) {
        throw new BrokerUnavailableError(`Redis at ${redactRedisUrl(this.url)} is unreachable: ${(error as Error).message}`);
      }
      throw error;
    }
  }

  private async shardSubscribe(shard: string): Promise<void> {
    if (this.shards !== undefined) await this.shards.add(shard);
    else await this.subscriber?.ssubscribe(shard);
  }

  private async shardUnsubscribe(shard: string): Promise<void> {
    if (this.shards !== undefined) await this.shards.remove(shard);
    else await this.subscriber?.sunsubscribe(shard);
  }

  async subscribe(channel: string): Promise<void> {
    if (this.channels.has(channel)) return;
    this.channels.add(channel);
    try {
      await this.shardSubscribe(this.keys(channel).shard);
    } catch (error) {
      this.channels.delete(channel);
      throw new BrokerUnavailableError(`cannot subscribe to ${channel} in Redis: ${(error as Error).message}`);
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!this.channels.delete(channel)) return;
    this.presenceTtls.delete(channel);
    try {
      await this.shardUnsubscribe(this.keys(channel).shard);
    } catch {
      // The subscription dies with the connection; after a reconnect it is not replayed.
    }
  }

  async listen(target: string): Promise<void> {
    if (this.targets.has(target)) return;
    this.targets.add(target);
    try {
      await this.shardSubscribe(this.relayShard(target));
    } catch (error) {
      this.targets.delete(target);
      throw new BrokerUnavailableError(`cannot listen to ${target} in Redis: ${(error as Error).message}`);
    }
  }

  async unlisten(target: string): Promise<void> {
    if (!this.targets.delete(target)) return;
    try {
      await this.shardUnsubscribe(this.relayShard(target));
    } catch {
      // The subscription dies with the connection; after a reconnect it is not replayed.
    }
  }

  /** SPUBLISH to the target's shard channel; resolves the number of processes that got it. */
  async relay(target: string, message: string): Promise<number> {
    return this.withCommand(async (connection) => Number(await connection.spublish(this.relayShard(target), message)));
  }

  async publish(channel: string, body: EncodedPublicationBody, options: BrokerPublishOptions = {}): Promise<PublishedPosition> {
    const keys = this.keys(channel);
    const mark = encodingMark(body);
    const size = options.history?.size ?? 0;
    const ttl = options.history?.ttl ?? 0;
    const metaTtl = Math.max(this.metaTtl, ttl);
    const args = [keys.shard, mark, valueArgument(body.data), body.info === undefined ? '' : valueArgument(body.info), freshEpoch(), size, ttl, metaTtl];
    // Sent at once (in the order of the calls), unless earlier publishes are being sent again
    // or the connection to the channel's master is being opened.
    const gate = this.publishGate ?? this.masterOpening(keys.meta);
    if (gate !== null) await gate;
    corkForTurn(this.streamFor(keys.meta));
    const sent = this.run(SCRIPTS.publish, [keys.meta, keys.stream], args, false, () => this.holdPublishes());
    this.publishing.add(sent);
    const settled = (): void => {
      this.publishing.delete(sent);
    };
    sent.then(settled, settled);
    const reply = (await sent) as [number, string];
    const position = { offset: Number(reply[0]), epoch: String(reply[1]) };
    if (this.durability === 'replica') await this.awaitReplica(keys.meta, position);
    return position;
  }

  /**
   * Redis Cluster: null when the connection to the master of `key`'s slot is
   * open (or unknown: the cluster client handles it), else a promise that
   * settles once it is open or failed. Every publish called until that
   * promise's waiters have resumed waits on it too (it stays in `opening`
   * until then), so none overtakes those that waited.
   */
  private masterOpening(key: string): Promise<void> | null {
    const connection = this.command;
    if (!(connection instanceof Cluster)) return null;
    const node = masterOf(connection, key);
    if (node === undefined) return null;
    const pending = this.opening.get(node);
    if (pending !== undefined) return pending;
    if (node.status === 'ready') return null;
    const opened = connectionSettled(node).then(() => {
      this.opening.delete(node);
    });
    this.opening.set(node, opened);
    return opened;
  }

  /** The socket of the command connection that `key`'s commands go to (on a cluster: its slot's master), if connected. */
  private streamFor(key: string): Writable | undefined {
    const connection = this.command;
    if (connection === undefined || connection.status !== 'ready') return undefined;
    const node = connection instanceof Cluster ? masterOf(connection, key) : connection;
    return node?.status === 'ready' ? node.stream : undefined;
  }

  /**
   * A publish was answered NOSCRIPT (Redis restarted, or its scripts were
   * flushed): the publishes sent after it were too, and each is sent again
   * when its answer comes. Publishes called from now on wait until all of
   * those are answered, so that none overtakes them.
   */
  private holdPublishes(): void {
    if (this.publishGate !== null) return;
    this.publishGate = Promise.allSettled([...this.publishing]).then(() => {
      this.publishGate = null;
    });
  }

  /**
   * WAIT for one replica to acknowledge the writes of the connection that ran
   * the publish (on a cluster: the connection to the master of the channel's slot).
   */
  private async awaitReplica(key: string, position: PublishedPosition): Promise<void> {
    const acknowledged = await this.withCommand(async (connection) => {
      const node = connection instanceof Cluster ? masterOf(connection, key) : connection;
      if (node === undefined) throw new BrokerUnavailableError(`no master owns the slot of ${key}`);
      return Number(await node.call('WAIT', 1, this.replicaTimeout));
    });
    if (acknowledged < 1) {
      throw new BrokerDurabilityError(
        `no replica acknowledged publication ${position.offset} within ${this.replicaTimeout} ms: a failover may lose it`,
        position,
      );
    }
  }

  /** A page of the channel's history, cut by `limit` and `maxBytes` inside Redis. Writes nothing. */
  async history(channel: string, query: HistoryQuery = {}): Promise<BrokerHistory> {
    checkHistoryQuery(query);
    const keys = this.keys(channel);
    const { since, limit, maxBytes } = query;
    const reply = (await this.run(
      SCRIPTS.history,
      [keys.meta, keys.stream],
      [
        since === undefined ? -1 : since.offset,
        since === undefined ? '' : since.epoch,
        limit ?? -1,
        maxBytes === undefined || !Number.isFinite(maxBytes) ? -1 : Math.floor(maxBytes),
      ],
      true,
    )) as HistoryReply;
    const position: StreamPosition = { offset: Number(reply[0]), epoch: reply[1].toString() };
    const truncated = Number(reply[2]) === 1;
    const publications = pagePublications(reply[3]);
    return { publications, position, complete: isComplete(since, position, publications, truncated), truncated };
  }

  /** The channel's position from its meta (offset 0, epoch '' without one). Writes nothing. */
  async position(channel: string): Promise<StreamPosition> {
    const meta = this.keys(channel).meta;
    const [offset, epoch] = await this.withCommand((connection) => connection.hmget(meta, 'offset', 'epoch'));
    if (epoch === null || epoch === undefined) return { offset: 0, epoch: '' };
    return { offset: Number(offset ?? 0), epoch };
  }

  /** Deletes the channel's Redis Stream; its meta (offset, epoch) stays, so the next publication continues the stream. */
  async removeHistory(channel: string): Promise<void> {
    const stream = this.keys(channel).stream;
    await this.withCommand((connection) => connection.del(stream));
  }

  async addPresence(channel: string, member: PresenceMember, ttl: number): Promise<void> {
    const keys = this.keys(channel);
    this.presenceTtls.set(channel, ttl);
    await this.run(SCRIPTS.addPresence, [keys.members, keys.expiry], [keys.shard, member.client, JSON.stringify(member), ttl]);
  }

  async removePresence(channel: string, client: string): Promise<void> {
    const keys = this.keys(channel);
    await this.run(SCRIPTS.removePresence, [keys.members, keys.expiry], [keys.shard, client]);
  }

  async presence(channel: string): Promise<PresenceMember[]> {
    const keys = this.keys(channel);
    const members = (await this.run(SCRIPTS.presence, [keys.members, keys.expiry], [keys.shard])) as string[];
    return members.map((text) => JSON.parse(text) as PresenceMember);
  }

  /** Removes expired members of the channels this process serves, so leaves reach their subscribers. */
  private sweepPresence(): void {
    if (this.state !== 'up') return;
    for (const channel of this.presenceTtls.keys()) {
      this.presence(channel).catch(() => {});
    }
  }

  // ------------------------------------------------------------ fan-out

  private receive(shard: Buffer, payload: Buffer): void {
    const events = this.events;
    if (events === undefined) return;
    const parsed = this.parseShard(shard.toString());
    if (parsed === undefined) return;
    if (parsed.kind === 'relay') {
      if (this.targets.has(parsed.name)) events.relay?.(parsed.name, payload.toString());
      return;
    }
    const channel = parsed.name;
    if (!this.channels.has(channel)) return;
    if (payload[0] === FRAME_TAG) {
      const frame = parseFrame(payload);
      if (frame !== undefined) events.publication(channel, frame.publication, frame.epoch);
      return;
    }
    let message: PresenceMessage;
    try {
      message = JSON.parse(payload.toString()) as PresenceMessage;
    } catch {
      return;
    }
    if (message.t === 'j') events.join(channel, message.m);
    else if (message.t === 'l') events.leave(channel, message.m);
  }
}

/**
 * True when `publications` are exactly every publication after `since` in
 * `position`'s stream (without `since`: the whole stream), and no limit cut them.
 */
function isComplete(
  since: StreamPosition | undefined,
  position: StreamPosition,
  publications: EncodedPublication[],
  truncated: boolean,
): boolean {
  if (truncated) return false;
  const after = since?.offset ?? 0;
  if (since !== undefined && (!continuesStream(since, position) || since.offset > position.offset)) return false;
  if (publications.length !== position.offset - after) return false;
  return publications.every((publication, index) => publication.offset === after + 1 + index);
}

/** Settles once `node` is connected, or its attempt failed (it is opened here if the cluster client has not yet). */
function connectionSettled(node: Redis): Promise<void> {
  if (node.status === 'wait') return node.connect().then(() => {}, () => {});
  return new Promise((resolve) => {
    const settle = (): void => {
      node.off('ready', settle);
      node.off('close', settle);
      node.off('end', settle);
      resolve();
    };
    node.on('ready', settle);
    node.on('close', settle);
    node.on('end', settle);
  });
}

/** The cluster client's connection to the master that owns `key`'s slot. */
function masterOf(cluster: Cluster, key: string): Redis | undefined {
  const owner = cluster.slots[keySlot(key)]?.[0];
  return cluster.nodes('master').find((node) => `${node.options.host}:${node.options.port}` === owner);
}

async function quit(connection: RedisCommander | undefined): Promise<void> {
  if (connection === undefined) return;
  if (connection.status === 'ready') {
    try {
      await connection.quit();
      // Also releases what QUIT leaves open (the Sentinel connections of the failover detector).
      connection.disconnect();
      return;
    } catch {
      // fall through to a hard disconnect
    }
  }
  connection.disconnect();
}
