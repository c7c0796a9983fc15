/**
 * `RedisBroker`: many Switchboard processes, one system, through Redis.
 *
 * - Publications: a Lua script assigns the channel's next offset, appends it
 *   to the channel's Redis Stream (trimmed by MAXLEN and by age) and fans it
 *   out with SPUBLISH, all in one atomic step — so every process sees one
 *   channel's publications in offset order, and recovery reads (XRANGE) the
 *   same stream from any process.
 * - Each process SSUBSCRIBEs only to the channels its own clients use, so no
 *   process receives traffic for channels it does not serve. Sharded pub/sub
 *   keeps working on a Redis Cluster (each channel's keys share its hash slot).
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
import { Redis, type RedisOptions } from 'ioredis';
import type { PresenceMember, Publication, StreamPosition } from '../wire/messages.js';
import {
  BrokerUnavailableError,
  type Broker,
  type BrokerEvents,
  type BrokerHistory,
  type BrokerPublishOptions,
  type HistoryQuery,
} from './broker.js';
import {
  ADD_PRESENCE_SCRIPT,
  HISTORY_SCRIPT,
  PRESENCE_SCRIPT,
  PUBLISH_SCRIPT,
  REMOVE_PRESENCE_SCRIPT,
} from './redis-scripts.js';

export const DEFAULT_REDIS_PREFIX = 'sb';
export const DEFAULT_REDIS_CONNECT_TIMEOUT = 5_000;
/** A channel's offset and epoch are kept this long after its last publication. */
export const DEFAULT_STREAM_META_TTL = 7 * 24 * 3_600_000;
/** How often the broker removes expired presence members of its channels. */
export const DEFAULT_PRESENCE_SWEEP_INTERVAL = 5_000;

export interface RedisBrokerOptions {
  /** `redis://[user:password@]host:port[/db]`. Default `redis://127.0.0.1:6379`. */
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

/** A fan-out message on a channel's shard channel. */
type BusMessage =
  | { t: 'p'; o: number; e: string; d: unknown; i?: Publication['info'] }
  | { t: 'j'; m: PresenceMember }
  | { t: 'l'; m: PresenceMember };

type StreamEntry = [id: string, fields: string[]];

function freshEpoch(): string {
  return randomBytes(6).toString('base64url');
}

function entryPublication(entry: StreamEntry): Publication {
  const [id, fields] = entry;
  const publication: Publication = { offset: Number.parseInt(id, 10), data: undefined };
  for (let k = 0; k < fields.length; k += 2) {
    const value = fields[k + 1] ?? '';
    if (fields[k] === 'd') publication.data = JSON.parse(value) as unknown;
    else if (fields[k] === 'i' && value !== '') publication.info = JSON.parse(value) as Publication['info'];
  }
  return publication;
}

function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return /writeable|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|max retries|ETIMEDOUT|enableOfflineQueue/i.test(
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
  private command: Redis | undefined;
  private subscriber: Redis | undefined;
  private events: BrokerEvents | undefined;
  private readonly channels = new Set<string>();
  /** Relay targets this process listens to. */
  private readonly targets = new Set<string>();
  private readonly presenceTtls = new Map<string, number>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private state: 'up' | 'down' = 'down';
  private closed = false;

  constructor(options: RedisBrokerOptions = {}) {
    this.url = options.url ?? 'redis://127.0.0.1:6379';
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    this.connectTimeout = options.connectTimeout ?? DEFAULT_REDIS_CONNECT_TIMEOUT;
    this.metaTtl = options.metaTtl ?? DEFAULT_STREAM_META_TTL;
    this.sweepInterval = options.presenceSweepInterval ?? DEFAULT_PRESENCE_SWEEP_INTERVAL;
    this.redisOptions = options.redis ?? {};
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
    // Commands fail at once while Redis is away; subscriptions are replayed on reconnect.
    this.command = new Redis(this.url, { ...base, enableOfflineQueue: false });
    this.subscriber = new Redis(this.url, { ...base, enableOfflineQueue: true, autoResubscribe: true });
    this.command.on('error', () => {});
    this.subscriber.on('error', () => {});
    try {
      await this.withTimeout(Promise.all([this.command.connect(), this.subscriber.connect()]));
    } catch (error) {
      this.command.disconnect();
      this.subscriber.disconnect();
      const reason = error instanceof Error ? error.message : String(error);
      throw new BrokerUnavailableError(`cannot reach Redis at ${this.url}: ${reason}`);
    }
    this.state = 'up';
    this.watchState(this.command);
    this.watchState(this.subscriber);
    this.subscriber.on('smessageBuffer', (channel: Buffer, message: Buffer) => this.receive(channel, message));
    this.sweepTimer = setInterval(() => this.sweepPresence(), this.sweepInterval);
    this.sweepTimer.unref();
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
    await Promise.all([quit(this.command), quit(this.subscriber)]);
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

  private async run(source: ScriptSource, keys: string[], args: (string | number)[]): Promise<unknown> {
    const connection = this.command;
    if (connection === undefined || this.closed) throw new BrokerUnavailableError('the Redis broker is not started');
    if (connection.status !== 'ready') throw new BrokerUnavailableError(`Redis at ${this.url} is unreachable`);
    try {
      try {
        return await connection.evalsha(source.sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return await connection.eval(source.lua, keys.length, ...keys, ...args);
      }
    } catch (error) {
      if (isConnectionError(error)) {
        throw new BrokerUnavailableError(`Redis at ${this.url} is unreachable: ${(error as Error).message}`);
      }
      throw error;
    }
  }

  async subscribe(channel: string): Promise<void> {
    if (this.channels.has(channel)) return;
    this.channels.add(channel);
    try {
      await this.subscriber?.ssubscribe(this.keys(channel).shard);
    } catch (error) {
      this.channels.delete(channel);
      throw new BrokerUnavailableError(`cannot subscribe to ${channel} in Redis: ${(error as Error).message}`);
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!this.channels.delete(channel)) return;
    this.presenceTtls.delete(channel);
    try {
      await this.subscriber?.sunsubscribe(this.keys(channel).shard);
    } catch {
      // The subscription dies with the connection; after a reconnect it is not replayed.
    }
  }

  async listen(target: string): Promise<void> {
    if (this.targets.has(target)) return;
    this.targets.add(target);
    try {
      await this.subscriber?.ssubscribe(this.relayShard(target));
    } catch (error) {
      this.targets.delete(target);
      throw new BrokerUnavailableError(`cannot listen to ${target} in Redis: ${(error as Error).message}`);
    }
  }

  async unlisten(target: string): Promise<void> {
    if (!this.targets.delete(target)) return;
    try {
      await this.subscriber?.sunsubscribe(this.relayShard(target));
    } catch {
      // The subscription dies with the connection; after a reconnect it is not replayed.
    }
  }

  /** SPUBLISH to the target's shard channel; resolves the number of processes that got it. */
  async relay(target: string, message: string): Promise<number> {
    const connection = this.command;
    if (connection === undefined || this.closed) throw new BrokerUnavailableError('the Redis broker is not started');
    if (connection.status !== 'ready') throw new BrokerUnavailableError(`Redis at ${this.url} is unreachable`);
    try {
      return Number(await connection.spublish(this.relayShard(target), message));
    } catch (error) {
      if (isConnectionError(error)) throw new BrokerUnavailableError(`Redis at ${this.url} is unreachable: ${(error as Error).message}`);
      throw error;
    }
  }

  async publish(channel: string, data: unknown, options: BrokerPublishOptions = {}): Promise<Publication & { epoch: string }> {
    const keys = this.keys(channel);
    const size = options.history?.size ?? 0;
    const ttl = options.history?.ttl ?? 0;
    const encoded = JSON.stringify(data ?? null);
    const info = options.info === undefined ? '' : JSON.stringify(options.info);
    const metaTtl = Math.max(this.metaTtl, ttl);
    const reply = (await this.run(SCRIPTS.publish, [keys.meta, keys.stream], [
      keys.shard,
      encoded,
      info,
      freshEpoch(),
      size,
      ttl,
      metaTtl,
    ])) as [number, string];
    const publication: Publication & { epoch: string } = { offset: Number(reply[0]), epoch: String(reply[1]), data };
    if (options.info !== undefined) publication.info = options.info;
    return publication;
  }

  async history(channel: string, query: HistoryQuery = {}): Promise<BrokerHistory> {
    const keys = this.keys(channel);
    const since = query.since;
    const limit = query.limit ?? -1;
    const reply = (await this.run(SCRIPTS.history, [keys.meta, keys.stream], [
      since === undefined ? -1 : Math.max(0, since.offset),
      limit,
      freshEpoch(),
      this.metaTtl,
    ])) as [number, string, StreamEntry[]];
    const position: StreamPosition = { offset: Number(reply[0]), epoch: String(reply[1]) };
    const publications = reply[2].map(entryPublication);
    return { publications, position, complete: isComplete(since, position, publications) };
  }

  async position(channel: string): Promise<StreamPosition> {
    return (await this.history(channel, { limit: 0 })).position;
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
    let message: BusMessage;
    try {
      message = JSON.parse(payload.toString()) as BusMessage;
    } catch {
      return;
    }
    if (message.t === 'p') {
      const publication: Publication = { offset: message.o, data: message.d };
      if (message.i !== undefined) publication.info = message.i;
      events.publication(channel, publication);
    } else if (message.t === 'j') {
      events.join(channel, message.m);
    } else if (message.t === 'l') {
      events.leave(channel, message.m);
    }
  }
}

/** True when `publications` are exactly every publication after `since` in `position`'s stream. */
function isComplete(since: StreamPosition | undefined, position: StreamPosition, publications: Publication[]): boolean {
  if (since === undefined) return true;
  if (since.epoch !== position.epoch || since.offset > position.offset || since.offset < 0) return false;
  const missed = position.offset - since.offset;
  if (publications.length !== missed) return false;
  return publications.every((publication, index) => publication.offset === since.offset + 1 + index);
}

async function quit(connection: Redis | undefined): Promise<void> {
  if (connection === undefined) return;
  if (connection.status === 'ready') {
    try {
      await connection.quit();
      return;
    } catch {
      // fall through to a hard disconnect
    }
  }
  connection.disconnect();
}
